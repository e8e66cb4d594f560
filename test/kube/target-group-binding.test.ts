import { describe, expect, it } from 'vitest';
import { checkBindings, type BindingSpec } from '../../src/kube/target-group-binding.js';
import type { ToolResult, ToolRunner } from '../../src/kube/tools.js';

const BLUE =
  'arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web-blue/0123456789abcdef';
const GREEN =
  'arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web-green/fedcba9876543210';
const binding: BindingSpec = {
  name: 'web-green',
  namespace: 'web',
  serviceName: 'web',
  servicePort: 80,
  targetGroupArn: GREEN,
};

/** A kubectl that answers `get targetgroupbindings` with `result`. */
function kubectl(result: Partial<ToolResult>): ToolRunner {
  return {
    resolve: () => '/usr/bin/kubectl',
    run: async () => ({ exitCode: 0, stdout: '', stderr: '', durationMs: 1, ...result }),
  };
}

const list = (...items: { ns: string; name: string; arn: string }[]) =>
  JSON.stringify({
    items: items.map((i) => ({
      metadata: { namespace: i.ns, name: i.name },
      spec: { targetGroupARN: i.arn },
    })),
  });

describe('checkBindings', () => {
  it('accepts a cluster with no bindings, or with its own', async () => {
    await expect(
      checkBindings(kubectl({ stdout: list() }), '/k', binding, [
        { cluster: 'blue', targetGroupArn: BLUE },
      ]),
    ).resolves.toBeUndefined();
    await expect(
      checkBindings(
        kubectl({ stdout: list({ ns: 'web', name: 'web-green', arn: GREEN }) }),
        '/k',
        binding,
        [{ cluster: 'blue', targetGroupArn: BLUE }],
      ),
    ).resolves.toBeUndefined();
  });

  it("refuses a binding of another cluster's target group", async () => {
    await expect(
      checkBindings(
        kubectl({ stdout: list({ ns: 'ops', name: 'old', arn: BLUE }) }),
        '/k',
        binding,
        [{ cluster: 'blue', targetGroupArn: BLUE }],
      ),
    ).rejects.toThrow(
      'TargetGroupBinding ops/old in this cluster binds the target group of cluster "blue"',
    );
  });

  it('refuses to repoint our binding to another target group', async () => {
    const other = GREEN.replace('fedcba9876543210', '1111111111111111');
    await expect(
      checkBindings(
        kubectl({ stdout: list({ ns: 'web', name: 'web-green', arn: other }) }),
        '/k',
        binding,
        [],
      ),
    ).rejects.toThrow("A binding's target group cannot change");
  });

  it('without the CRD says to install the AWS Load Balancer Controller', async () => {
    await expect(
      checkBindings(
        kubectl({
          exitCode: 1,
          stderr: 'error: the server doesn\'t have a resource type "targetgroupbindings"',
        }),
        '/k',
        binding,
        [],
      ),
    ).rejects.toThrow('install the AWS Load Balancer Controller');
  });
});
