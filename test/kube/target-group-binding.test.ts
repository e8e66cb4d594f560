import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  type TargetHealthStateEnum,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import {
  checkBindings,
  waitForHealthyTargets,
  type BindingSpec,
} from '../../src/kube/target-group-binding.js';
import { KubeApiError, type KubeApi } from '../../src/kube/api.js';

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

/** An apiserver that answers every GET with `answer(path)` (an error is thrown); counts GETs. */
function apiserver(answer: (path: string) => unknown): KubeApi & { gets: string[] } {
  const gets: string[] = [];
  const get = async <T>(path: string): Promise<T> => {
    gets.push(path);
    const a = answer(path);
    if (a instanceof Error) throw a;
    return a as T;
  };
  const no = () => Promise.reject(new Error('not expected'));
  return {
    cluster: 'green',
    gets,
    get,
    find: get,
    post: no,
    mergePatch: no,
    delete: no,
    close: () => undefined,
  };
}

const list = (...items: { ns: string; name: string; arn: string }[]) =>
  apiserver((path) => {
    expect(path).toBe('/apis/elbv2.k8s.aws/v1beta1/targetgroupbindings');
    return {
      items: items.map((i) => ({
        metadata: { namespace: i.ns, name: i.name },
        spec: { targetGroupARN: i.arn },
      })),
    };
  });

describe('checkBindings', () => {
  it('accepts a cluster with no bindings, or with its own', async () => {
    await expect(
      checkBindings(list(), binding, [{ cluster: 'blue', targetGroupArn: BLUE }]),
    ).resolves.toBeUndefined();
    await expect(
      checkBindings(list({ ns: 'web', name: 'web-green', arn: GREEN }), binding, [
        { cluster: 'blue', targetGroupArn: BLUE },
      ]),
    ).resolves.toBeUndefined();
  });

  it("refuses a binding of another cluster's target group", async () => {
    await expect(
      checkBindings(list({ ns: 'ops', name: 'old', arn: BLUE }), binding, [
        { cluster: 'blue', targetGroupArn: BLUE },
      ]),
    ).rejects.toThrow(
      'TargetGroupBinding ops/old in this cluster binds the target group of cluster "blue"',
    );
  });

  it('refuses to repoint our binding to another target group', async () => {
    const other = GREEN.replace('fedcba9876543210', '1111111111111111');
    await expect(
      checkBindings(list({ ns: 'web', name: 'web-green', arn: other }), binding, []),
    ).rejects.toThrow("A binding's target group cannot change");
  });

  it('without the CRD says to install the AWS Load Balancer Controller', async () => {
    await expect(
      checkBindings(
        // What the apiserver answers for an API group it does not serve.
        apiserver(
          () =>
            new KubeApiError(
              'green',
              404,
              'GET',
              '/apis/elbv2.k8s.aws/v1beta1/targetgroupbindings',
              '404 page not found',
            ),
        ),
        binding,
        [],
      ),
    ).rejects.toThrow('install the AWS Load Balancer Controller');
  });
});

describe('waitForHealthyTargets', () => {
  const elbv2Mock = mockClient(ElasticLoadBalancingV2Client);
  const health = (...states: [string, string][]) => ({
    TargetHealthDescriptions: states.map(([id, state]) => ({
      Target: { Id: id, Port: 8080 },
      TargetHealth: { State: state as TargetHealthStateEnum },
    })),
  });
  const slices = (...ips: string[]) => ({
    items: [{ endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })) }],
  });
  const endpointsPath =
    '/apis/discovery.k8s.io/v1/namespaces/web/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb';

  function clock() {
    const c = {
      t: 0,
      slept: [] as number[],
      now: () => c.t,
      sleep: async (ms: number) => {
        c.slept.push(ms);
        c.t += ms;
      },
    };
    return c;
  }

  it('reads only the target health (not the apiserver) until enough targets are registered, then the Service’s endpoints beside it, and answers on the poll that sees them healthy', async () => {
    elbv2Mock.reset();
    elbv2Mock
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(health())
      .resolvesOnce(health(['10.0.0.1', 'initial'], ['10.0.0.2', 'initial']))
      .resolvesOnce(health(['10.0.0.1', 'healthy'], ['10.0.0.2', 'initial']))
      .resolves(health(['10.0.0.1', 'healthy'], ['10.0.0.2', 'healthy']));
    const kube = apiserver((path) => {
      expect(path).toBe(endpointsPath);
      return slices('10.0.0.1', '10.0.0.2');
    });
    const c = clock();
    const client = new ElasticLoadBalancingV2Client({ region: 'ap-northeast-1' });
    const bound = await waitForHealthyTargets(client, kube, binding, 2, {
      timeoutMs: 60_000,
      ...c,
    });
    expect(bound.healthyHere).toBe(2);
    expect(bound.endpoints).toEqual(['10.0.0.1', '10.0.0.2']);
    // Poll 3 reads the endpoints; once targets are registered polls come every 200 ms, and the
    // 4th answers with poll 3's endpoints (200 ms old, under the 1 s they may be) and no read.
    expect(kube.gets).toHaveLength(1);
    expect(elbv2Mock.commandCalls(DescribeTargetHealthCommand)).toHaveLength(4);
    expect(c.slept).toEqual([500, 500, 200]);
  });

  it('reads the Service’s endpoints again once the last read is a second old', async () => {
    elbv2Mock.reset();
    elbv2Mock
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(health(['10.0.0.1', 'initial']))
      .resolvesOnce(health(['10.0.0.1', 'initial']))
      .resolvesOnce(health(['10.0.0.1', 'initial']))
      .resolvesOnce(health(['10.0.0.1', 'initial']))
      .resolvesOnce(health(['10.0.0.1', 'initial']))
      .resolves(health(['10.0.0.2', 'healthy']));
    // The first read has only 10.0.0.1; by the second the pod was replaced by 10.0.0.2.
    const reads = [slices('10.0.0.1'), slices('10.0.0.2')];
    let n = 0;
    const kube = apiserver(() => reads[Math.min(n++, reads.length - 1)]);
    const c = clock();
    const client = new ElasticLoadBalancingV2Client({ region: 'ap-northeast-1' });
    const bound = await waitForHealthyTargets(client, kube, binding, 1, {
      timeoutMs: 60_000,
      ...c,
    });
    // Poll 1 (t 0) sees a registered target; poll 2 (t 500) reads the endpoints, polls 3-6 (every
    // 200 ms) reuse them (poll 6 sees 10.0.0.2 healthy, which they do not have), and poll 7
    // (t 1500, the last read a second old) reads them again and answers.
    expect(bound.healthyHere).toBe(1);
    expect(bound.endpoints).toEqual(['10.0.0.2']);
    expect(kube.gets).toHaveLength(2);
    expect(c.slept).toEqual([500, 200, 200, 200, 200, 200]);
  });

  it('does not count healthy targets that are not this cluster’s endpoints, and says so at the deadline', async () => {
    elbv2Mock.reset();
    elbv2Mock.on(DescribeTargetHealthCommand).resolves(health(['10.9.9.9', 'healthy']));
    const kube = apiserver(() => slices('10.0.0.1'));
    const c = clock();
    const client = new ElasticLoadBalancingV2Client({ region: 'ap-northeast-1' });
    await expect(
      waitForHealthyTargets(client, kube, binding, 1, { timeoutMs: 2_000, ...c }),
    ).rejects.toThrow(
      /has 0 healthy target\(s\) from this cluster after 2 s; the analysis needs at least 1\. Ready endpoints of Service web\/web: 10\.0\.0\.1\. Targets: 10\.9\.9\.9:8080 healthy/,
    );
  });
});
