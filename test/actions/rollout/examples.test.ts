/**
 * The workflows users copy must work as written: every step that uses one of our actions names
 * an action that exists and passes only inputs it declares, with every required one; each
 * workflow has a least-privilege permissions block and gets AWS credentials through OIDC.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const DIR = 'examples/workflows';
const OURS = /^your-org\/eks-cluster-canary(?:\/actions\/([\w-]+))?@v\d+$/;

interface Step {
  uses?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  permissions?: Record<string, string> | string;
  jobs: Record<string, { steps: Step[]; permissions?: unknown }>;
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.yml'));

describe('examples/workflows', () => {
  it('has the plan, apply and rollback workflows', () => {
    expect(files).toEqual(
      expect.arrayContaining(['rollout-plan.yml', 'rollout-apply.yml', 'rollout-rollback.yml']),
    );
  });

  describe.each(files)('%s', (file) => {
    const workflow = parse(readFileSync(join(DIR, file), 'utf8')) as Workflow;
    const steps = Object.values(workflow.jobs).flatMap((j) => j.steps);

    it('passes our actions only inputs they declare, and every required one', () => {
      const ours = steps.filter((s) => s.uses && s.uses.startsWith('your-org/'));
      expect(ours.length).toBeGreaterThan(0);
      for (const step of ours) {
        const m = OURS.exec(step.uses as string);
        expect(m, `${step.uses} is not one of our actions`).not.toBeNull();
        const actionFile = m?.[1] ? join('actions', m[1], 'action.yml') : 'action.yml';
        expect(existsSync(actionFile), `${actionFile} for ${step.uses}`).toBe(true);
        const inputs = (
          parse(readFileSync(actionFile, 'utf8')) as {
            inputs: Record<string, { required?: boolean; default?: unknown }>;
          }
        ).inputs;
        const given = Object.keys(step.with ?? {});
        expect(
          given.filter((k) => !(k in inputs)),
          `unknown inputs of ${step.uses}`,
        ).toEqual([]);
        const required = Object.entries(inputs)
          .filter(([, spec]) => spec.required && spec.default === undefined)
          .map(([name]) => name);
        expect(
          required.filter((k) => !given.includes(k)),
          `missing inputs of ${step.uses}`,
        ).toEqual([]);
      }
    });

    it('grants only what it needs, and takes AWS credentials through OIDC', () => {
      const permissions = workflow.permissions;
      expect(typeof permissions).toBe('object');
      const granted = permissions as Record<string, string>;
      expect(granted['id-token']).toBe('write');
      expect(Object.values(granted).every((v) => v === 'read' || v === 'write')).toBe(true);
      const allowed = ['contents', 'pull-requests', 'deployments', 'id-token'];
      expect(Object.keys(granted).filter((k) => !allowed.includes(k))).toEqual([]);
      const aws = steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
      expect(aws?.with?.['role-to-assume']).toMatch(/^arn:aws:iam::\d{12}:role\//);
      expect(aws?.with).not.toHaveProperty('aws-access-key-id');
    });
  });

  it('writes deployments only where apply records them, and plan never writes contents', () => {
    const perms = (f: string) =>
      (parse(readFileSync(join(DIR, f), 'utf8')) as Workflow).permissions as Record<string, string>;
    expect(perms('rollout-plan.yml')).toEqual({
      contents: 'read',
      'pull-requests': 'write',
      'id-token': 'write',
    });
    expect(perms('rollout-apply.yml').deployments).toBe('write');
    expect(perms('rollout-rollback.yml').deployments).toBeUndefined();
  });
});
