import { describe, expect, it } from 'vitest';
import {
  FIELD_MANAGER,
  helmDiffArgv,
  helmfileArgv,
  helmfileBuildArgv,
  helmfileListArgv,
  helmMajorVersion,
  helmUpgradeArgv,
  kubectlArgv,
  outcomeOf,
} from '../../src/kube/argv.js';

describe('helmfileArgv', () => {
  const base = { kubeconfig: '/tmp/k', file: 'helmfile.yaml', selectors: [], timeoutSeconds: 300 };

  it('apply: our kubeconfig, suppressed secrets, no diff on install, exit code 2 for changes, wait', () => {
    expect(helmfileArgv({ ...base, mode: 'apply' })).toEqual([
      '--kubeconfig',
      '/tmp/k',
      '--file',
      'helmfile.yaml',
      '--no-color',
      'apply',
      '--suppress-secrets',
      '--skip-diff-on-install',
      '--detailed-exitcode',
      '--wait',
      '--timeout',
      '300',
    ]);
  });

  it('diff with environment, selectors and the post-renderer', () => {
    expect(
      helmfileArgv({
        ...base,
        mode: 'diff',
        environment: 'prod',
        selectors: ['tier=web', 'name=api'],
        postRenderer: '/tmp/stop',
      }),
    ).toEqual([
      '--kubeconfig',
      '/tmp/k',
      '--file',
      'helmfile.yaml',
      '--no-color',
      '--environment',
      'prod',
      '--selector',
      'tier=web',
      '--selector',
      'name=api',
      'diff',
      '--suppress-secrets',
      '--detailed-exitcode',
      '--post-renderer',
      '/tmp/stop',
    ]);
  });

  it('list takes the same selection', () => {
    expect(helmfileListArgv({ kubeconfig: '/k', file: 'h.yaml', selectors: ['a=b'] })).toEqual([
      '--kubeconfig',
      '/k',
      '--file',
      'h.yaml',
      '--no-color',
      '--selector',
      'a=b',
      'list',
      '--output',
      'json',
    ]);
  });

  it('build (to read release postRenderers) takes the same selection', () => {
    expect(
      helmfileBuildArgv({ kubeconfig: '/k', file: 'h.yaml', environment: 'prod', selectors: [] }),
    ).toEqual([
      '--kubeconfig',
      '/k',
      '--file',
      'h.yaml',
      '--no-color',
      '--environment',
      'prod',
      'build',
    ]);
  });

  it('a value with spaces or shell characters stays one argument', () => {
    const argv = helmfileArgv({ ...base, mode: 'apply', file: 'my dir/$(rm -rf).yaml' });
    expect(argv).toContain('my dir/$(rm -rf).yaml');
  });
});

describe('helm argv', () => {
  const base = {
    kubeconfig: '/k',
    release: 'web',
    chart: './chart',
    namespace: 'web',
    valuesFiles: ['a.yaml', 'b.yaml'],
    timeoutSeconds: 120,
  };

  it('Helm 3 rolls back with --atomic', () => {
    expect(helmUpgradeArgv({ ...base, helmMajor: 3 })).toEqual([
      'upgrade',
      '--install',
      'web',
      './chart',
      '--kubeconfig',
      '/k',
      '--namespace',
      'web',
      '--create-namespace',
      '--wait',
      '--timeout',
      '120s',
      '--atomic',
      '--values',
      'a.yaml',
      '--values',
      'b.yaml',
    ]);
  });

  it('Helm 4 rolls back with --rollback-on-failure', () => {
    const argv = helmUpgradeArgv({ ...base, helmMajor: 4 });
    expect(argv).toContain('--rollback-on-failure');
    expect(argv).not.toContain('--atomic');
  });

  it('diff: unreleased allowed, secrets suppressed, detailed exit code, post-renderer', () => {
    expect(helmDiffArgv({ ...base, postRenderer: '/tmp/stop' })).toEqual([
      'diff',
      'upgrade',
      'web',
      './chart',
      '--kubeconfig',
      '/k',
      '--namespace',
      'web',
      '--allow-unreleased',
      '--suppress-secrets',
      '--detailed-exitcode',
      '--no-color',
      '--values',
      'a.yaml',
      '--values',
      'b.yaml',
      '--post-renderer',
      '/tmp/stop',
    ]);
  });

  it('reads the major version', () => {
    expect(helmMajorVersion('v3.22.0+gabc\n')).toBe(3);
    expect(helmMajorVersion('v4.0.1')).toBe(4);
    expect(helmMajorVersion('garbage')).toBeUndefined();
  });
});

describe('kubectlArgv', () => {
  it('server-side apply and diff from stdin with our field manager', () => {
    expect(kubectlArgv('/k', 'apply')).toEqual([
      '--kubeconfig',
      '/k',
      'apply',
      '--server-side',
      '--field-manager',
      FIELD_MANAGER,
      '--filename',
      '-',
    ]);
    expect(kubectlArgv('/k', 'diff')[2]).toBe('diff');
  });
});

describe('outcomeOf', () => {
  it.each([
    ['helmfile', 0, { ok: true, changed: false }],
    ['helmfile', 2, { ok: true, changed: true }],
    ['helmfile', 1, { ok: false }],
    ['helm-diff', 2, { ok: true, changed: true }],
    ['helm-diff', 0, { ok: true, changed: false }],
    ['helm-diff', 1, { ok: false }],
    ['kubectl-diff', 0, { ok: true, changed: false }],
    ['kubectl-diff', 1, { ok: true, changed: true }],
    ['kubectl-diff', 2, { ok: false }],
    ['helm-upgrade', 0, { ok: true, changed: true }],
    ['helm-upgrade', 1, { ok: false }],
    ['kubectl-apply', 1, { ok: false }],
  ] as const)('%s exit %i', (command, code, outcome) => {
    expect(outcomeOf(command, code)).toEqual(outcome);
  });
});
