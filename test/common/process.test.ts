import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createCancelBudget } from '../../src/common/cancel.js';
import { stopGroupOnCancel } from '../../src/common/process.js';

/** Whether any process of the group still runs (a zombie waiting to be reaped does not). */
function groupAlive(pgid: number): boolean {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') return true;
  }
  return false;
}

async function until(test: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (test()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return test();
}

describe('stopGroupOnCancel', () => {
  it('ends the child and its own children (the whole group) at the first signal', async () => {
    // A tool that starts tools: the grandchildren must go too.
    const child = spawn('sh', ['-c', 'sleep 30 & sleep 30 & wait'], {
      detached: true,
      stdio: 'ignore',
    });
    const { budget, cancel } = createCancelBudget();
    stopGroupOnCancel(child, budget, 5_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(groupAlive(child.pid as number)).toBe(true);
    cancel('SIGINT');
    expect(await until(() => !groupAlive(child.pid as number), 2_000)).toBe(true);
  });

  it('kills a group that ignores SIGTERM once the grace is over', async () => {
    const child = spawn('sh', ['-c', 'trap "" TERM; sleep 30 & wait'], {
      detached: true,
      stdio: 'ignore',
    });
    const { budget, cancel } = createCancelBudget();
    stopGroupOnCancel(child, budget, 300);
    await new Promise((r) => setTimeout(r, 100));
    cancel('SIGINT');
    await new Promise((r) => setTimeout(r, 150));
    expect(groupAlive(child.pid as number)).toBe(true);
    expect(await until(() => !groupAlive(child.pid as number), 2_000)).toBe(true);
  });

  it('leaves a child that ended before any cancel alone', async () => {
    const child = spawn('true', [], { detached: true, stdio: 'ignore' });
    const { budget, cancel } = createCancelBudget();
    const stop = stopGroupOnCancel(child, budget);
    await new Promise((r) => child.once('exit', r));
    stop();
    expect(() => cancel('SIGINT')).not.toThrow();
  });
});
