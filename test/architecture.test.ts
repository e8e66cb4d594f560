/**
 * The house rules of docs/architecture.md, checked on the sources: imports point down the
 * floors only, nothing below src/actions imports @actions/*, and no module imports itself
 * back through others (no cycle, type-only imports included).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The floor of each top folder of src/: a folder may import its own floor's folder or lower floors. */
const FLOOR: Record<string, number> = {
  common: 0,
  aws: 1,
  yaml: 1,
  github: 1,
  alb: 2,
  health: 2,
  'rollout-file': 3,
  eks: 3,
  kube: 3,
  operations: 4,
  actions: 5,
  cli: 5,
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const SRC = resolve('src');
const files = sources(SRC);
const imports = new Map(
  files.map((file) => {
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/(?:from|import)\s+'([^']+)'/g)].map((m) => m[1] as string);
    return [file, specs] as const;
  }),
);
const top = (file: string): string => relative(SRC, file).split('/')[0] as string;

describe('architecture', () => {
  it('knows the floor of every top folder of src/', () => {
    expect(files.map(top).filter((t) => !(t in FLOOR))).toEqual([]);
  });

  it('imports point down the floors only', () => {
    const upward: string[] = [];
    for (const [file, specs] of imports) {
      for (const spec of specs.filter((s) => s.startsWith('.'))) {
        const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
        const from = top(file);
        const to = top(target);
        if (from !== to && (FLOOR[to] as number) >= (FLOOR[from] as number)) {
          upward.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
        }
      }
    }
    expect(upward).toEqual([]);
  });

  it('only src/actions talks to the runner (@actions/core), and only the GitHub adapter uses @actions/github', () => {
    const offenders = [...imports].flatMap(([file, specs]) =>
      specs
        .filter(
          (s) =>
            (s === '@actions/core' && top(file) !== 'actions') ||
            (s === '@actions/github' && !['actions', 'github'].includes(top(file))),
        )
        .map((s) => `${relative(SRC, file)}: ${s}`),
    );
    expect(offenders).toEqual([]);
  });

  it('has no import cycle', () => {
    const graph = new Map(
      [...imports].map(([file, specs]) => [
        file,
        specs
          .filter((s) => s.startsWith('.'))
          .map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts'))),
      ]),
    );
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push(
          [...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(' -> '),
        );
        return;
      }
      state.set(file, 'open');
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
