/**
 * The retire-cluster gate and plan with fakes: an in-memory ALB (its live weights), EKS and IAM
 * answering from aws-sdk-client-mock, and an in-memory apiserver. The gate reads only and names
 * every reason at once; a dry run plans without a write. The deletions themselves run against
 * the sandbox in test/e2e/retire-cluster.test.ts.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import {
  DeleteAddonCommand,
  DeleteClusterCommand,
  DeleteNodegroupCommand,
  DeletePodIdentityAssociationCommand,
  DescribeAddonCommand,
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  EKSClient,
  ListAddonsCommand,
  ListNodegroupsCommand,
  ListPodIdentityAssociationsCommand,
} from '@aws-sdk/client-eks';
import { IAMClient, ListOpenIDConnectProvidersCommand } from '@aws-sdk/client-iam';
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { systemClock } from '../../src/common/clock.js';
import { MemoryLogger } from '../../src/common/logger.js';
import { parseRolloutFile } from '../../src/rollout-file/index.js';
import { retireMarkdown } from '../../src/operations/markdown.js';
import { retireCluster } from '../../src/operations/retire-cluster.js';
import type { RetireOutcome } from '../../src/operations/results.js';
import { FakeAlb, TG_OTHER, forward } from '../fakes/fake-alb.js';
import { FakeKubeApi } from '../fakes/fake-kube.js';
import { BLUE_TG, GREEN_TG, VALID, listenerArn, ruleArn } from '../rollout-file/fixtures.js';

const ISSUER = 'https://oidc.eks.ap-northeast-1.amazonaws.com/id/0123456789ABCDEF';
const PROVIDER =
  'arn:aws:iam::123456789012:oidc-provider/oidc.eks.ap-northeast-1.amazonaws.com/id/0123456789ABCDEF';
const OTHER_PROVIDER =
  'arn:aws:iam::123456789012:oidc-provider/oidc.eks.ap-northeast-1.amazonaws.com/id/FFFF';
const SELECTOR = encodeURIComponent('app.kubernetes.io/singleton=true');
const TGB_LIST = '/apis/elbv2.k8s.aws/v1beta1/targetgroupbindings';

function fileText(o: { owner?: string; blue?: number } = {}): string {
  const blue = o.blue ?? 0;
  return (
    VALID.replace(
      'weights: { blue: 90, green: 10 }',
      `weights: { blue: ${blue}, green: ${100 - blue} }`,
    ).replace('owner: blue', `owner: ${o.owner ?? 'green'}`) +
    'singletons:\n  namespaces: [jobs]\n  selector: { app.kubernetes.io/singleton: "true" }\n'
  );
}

let alb: FakeAlb;
let eks: EKSClient;
let iam: IAMClient;
let eksMock: ReturnType<typeof mockClient>;
let kube: FakeKubeApi;
let targets: { Target: { Id: string; Port: number }; TargetHealth: { State: string } }[];

beforeEach(() => {
  alb = new FakeAlb()
    .addListener(listenerArn(), [forward({ [BLUE_TG]: 0, [GREEN_TG]: 100 })])
    .addRule(ruleArn(), [forward({ [BLUE_TG]: 0, [GREEN_TG]: 100 })]);
  targets = [
    { Target: { Id: '198.18.0.5', Port: 8080 }, TargetHealth: { State: 'healthy' } },
    { Target: { Id: '198.18.0.6', Port: 8080 }, TargetHealth: { State: 'healthy' } },
  ];
  alb.mock
    .on(DescribeTargetHealthCommand)
    .callsFake(() => ({ TargetHealthDescriptions: structuredClone(targets) }));
  eks = new EKSClient({
    region: 'ap-northeast-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  iam = new IAMClient({
    region: 'ap-northeast-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  eksMock = mockClient(eks);
  eksMock
    .on(DescribeClusterCommand)
    .resolves({
      cluster: { name: 'prod-1-31', status: 'ACTIVE', identity: { oidc: { issuer: ISSUER } } },
    })
    .on(ListNodegroupsCommand)
    .resolves({ nodegroups: ['apps'] })
    .on(DescribeNodegroupCommand)
    .resolves({ nodegroup: { nodegroupName: 'apps', status: 'ACTIVE' } })
    .on(ListAddonsCommand)
    .resolves({ addons: ['vpc-cni'] })
    .on(DescribeAddonCommand)
    .resolves({ addon: { addonName: 'vpc-cni', status: 'ACTIVE' } })
    .on(ListPodIdentityAssociationsCommand)
    .resolves({
      associations: [{ associationId: 'a-1', namespace: 'web', serviceAccount: 'web' }],
    });
  mockClient(iam)
    .on(ListOpenIDConnectProvidersCommand)
    .resolves({ OpenIDConnectProviderList: [{ Arn: OTHER_PROVIDER }, { Arn: PROVIDER }] });
  kube = new FakeKubeApi('blue')
    .list(TGB_LIST, [
      {
        metadata: { name: 'web-blue', namespace: 'web', finalizers: ['elbv2.k8s.aws/resources'] },
        spec: { targetGroupARN: BLUE_TG, serviceRef: { name: 'web', port: 80 } },
      },
    ])
    .list('/api/v1/pods', [
      { status: { podIP: '198.18.0.5' } },
      { status: { podIP: '198.18.0.6' } },
    ])
    .list('/apis/discovery.k8s.io/v1/endpointslices', [])
    .list('/apis/batch/v1/namespaces/jobs/cronjobs', [cronJob(true)])
    .list('/apis/batch/v1/namespaces/jobs/jobs', [])
    .list(`/apis/apps/v1/namespaces/jobs/deployments?labelSelector=${SELECTOR}`, [deployment(0)])
    .list(`/api/v1/namespaces/jobs/pods?labelSelector=${encodeURIComponent('app=worker')}`, []);
});

function cronJob(suspend: boolean): unknown {
  return {
    metadata: { name: 'notify', namespace: 'jobs', uid: 'cj-1' },
    spec: { schedule: '* * * * *', suspend },
  };
}

function deployment(replicas: number): unknown {
  return {
    metadata: { name: 'worker', namespace: 'jobs', uid: 'd-1' },
    spec: { replicas, selector: { matchLabels: { app: 'worker' } } },
  };
}

async function retire(
  text: string,
  dryRun = false,
  more: [path: string, text: string][] = [],
  limits: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<RetireOutcome> {
  const file = parseRolloutFile(text, 'rollouts/web.yaml');
  const others = more.map(([path, t]) => parseRolloutFile(t, path));
  return retireCluster(
    {
      files: [file, ...others],
      as: 'blue',
      region: 'ap-northeast-1',
      dryRun,
      timeoutMs: limits.timeoutMs ?? 60_000,
      pollMs: 100,
    },
    {
      clients: { eks, iam, elbv2: alb.client, kube: async () => kube },
      logger: new MemoryLogger(),
      clock: systemClock,
      ...(limits.signal ? { signal: limits.signal } : {}),
    },
  );
}

function writes(): string[] {
  return eksMock
    .calls()
    .map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name)
    .filter((n) => /^(Delete|Create|Update)/.test(n));
}

describe('retire-cluster gate', () => {
  it('names every reason at once and changes nothing', async () => {
    alb.listeners.set(listenerArn(), [forward({ [BLUE_TG]: 10, [GREEN_TG]: 90 })]);
    kube
      .list('/apis/batch/v1/namespaces/jobs/cronjobs', [cronJob(false)])
      .list('/apis/batch/v1/namespaces/jobs/jobs', [
        {
          metadata: {
            name: 'notify-29000000',
            namespace: 'jobs',
            uid: 'j-1',
            ownerReferences: [{ kind: 'CronJob', name: 'notify', uid: 'cj-1' }],
          },
          status: { startTime: '2026-11-30T20:00:00Z' },
        },
      ])
      .list(`/apis/apps/v1/namespaces/jobs/deployments?labelSelector=${SELECTOR}`, [deployment(1)]);
    const o = await retire(fileText({ owner: 'blue', blue: 10 }));
    expect(o.status).toBe('refused');
    expect(o.refusals).toEqual([
      expect.stringMatching(
        /^rollouts\/web\.yaml:17:8: blue is the owner: it runs the CronJobs and singletons/,
      ),
      expect.stringMatching(
        /^rollouts\/web\.yaml:14:18: the rollout file gives blue weight 10\. Move its traffic away first/,
      ),
      expect.stringContaining(
        `The ALB still sends blue traffic: listener ${listenerArn()} forwards with weight 10 to web-blue (live: blue 10 / green 90)`,
      ),
      expect.stringContaining(
        'The singleton handoff is not done on blue: CronJob jobs/notify on blue is not suspended and has 1 running Job (notify-29000000); Deployment jobs/worker on blue has 1 replica.',
      ),
    ]);
    expect(o.failure).toMatch(/^Refused to retire blue; nothing was changed:\n- /);
    expect(writes()).toEqual([]);
    expect(kube.deleted).toEqual([]);
    expect(alb.modifyCalls()).toBe(0);
    expect(o.plan.map((p) => `${p.resource} ${p.name}: ${p.action}`)).toContain(
      'target-group-binding web/web-blue: delete',
    );
  });

  it('refuses a cluster whose apiserver does not answer: the handoff cannot be checked', async () => {
    kube.unreachable = true;
    const o = await retire(fileText());
    expect(o.status).toBe('refused');
    expect(o.refusals).toEqual([
      expect.stringMatching(
        /^Cannot read the apiserver of blue \(prod-1-31\) to check that the handoff is done and find its TargetGroupBindings: blue: GET .*: the apiserver did not answer \(ECONNREFUSED\)/,
      ),
    ]);
    expect(writes()).toEqual([]);
  });

  it('refuses targets of the cluster that no binding would deregister', async () => {
    kube.list(TGB_LIST, []);
    const o = await retire(fileText());
    expect(o.refusals).toEqual([
      expect.stringContaining(
        `2 target(s) of blue are registered in web-blue (198.18.0.5:8080 healthy, 198.18.0.6:8080 healthy) but no TargetGroupBinding in blue binds it, so nothing would deregister them. Deregister them (aws elbv2 deregister-targets --target-group-arn ${BLUE_TG} --targets Id=198.18.0.5,Port=8080 Id=198.18.0.6,Port=8080)`,
      ),
    ]);
  });

  it('a route that no longer forwards to the cluster counts as weight 0', async () => {
    alb.listeners.set(listenerArn(), [forward({ [GREEN_TG]: 100 })]);
    const o = await retire(fileText(), true);
    expect(o.refusals).toEqual([]);
    expect(o.status).toBe('planned');
  });

  it('a dry run plans every deletion, the OIDC provider of the issuer only, and writes nothing', async () => {
    targets.push({ Target: { Id: '10.0.0.9', Port: 8080 }, TargetHealth: { State: 'healthy' } });
    const o = await retire(fileText(), true);
    expect(o.status).toBe('planned');
    expect(o.plan.map((p) => [p.resource, p.name, p.action, p.state])).toEqual([
      ['target-group-binding', 'web/web-blue', 'delete', 'binds Service web to web-blue'],
      [
        'targets',
        'web-blue',
        'wait',
        '2 registered from blue (2 healthy); deregistered by the controller',
      ],
      ['pod-identity-association', 'web/web', 'delete', 'a-1'],
      ['nodegroup', 'apps', 'delete', 'ACTIVE'],
      ['addon', 'vpc-cni', 'delete', 'ACTIVE'],
      ['cluster', 'prod-1-31', 'delete', 'ACTIVE'],
      ['oidc-provider', PROVIDER, 'delete', `exists for ${ISSUER}`],
    ]);
    expect(o.notes).toEqual([
      'web-blue also has 1 target(s) that are not pods of blue (10.0.0.9:8080 healthy): left alone.',
    ]);
    const summary = retireMarkdown(o);
    expect(summary).toContain(
      '## retire-cluster blue (prod-1-31): plan (dry run, nothing changed)',
    );
    expect(summary).toContain(
      '| target-group-binding | web/web-blue | delete | binds Service web to web-blue |',
    );
    expect(summary).toContain('| nodegroup | apps | delete | ACTIVE |');
    expect(summary).toContain('> web-blue also has 1 target(s) that are not pods of blue');
    expect(writes()).toEqual([]);
    expect(kube.deleted).toEqual([]);
  });

  it('a cluster already gone is retired: nothing to do', async () => {
    eksMock.on(DescribeClusterCommand).rejects(
      Object.assign(new Error('No cluster found for name: prod-1-31.'), {
        name: 'ResourceNotFoundException',
      }),
    );
    targets = [];
    const o = await retire(fileText());
    expect(o.status).toBe('retired');
    expect(o.steps).toEqual([]);
    expect(o.plan.find((p) => p.resource === 'cluster')).toMatchObject({
      action: 'gone',
      state: 'absent',
    });
    expect(writes()).toEqual([]);
  });

  it('refuses a binding of a target group that no rollout file given gives to the cluster', async () => {
    kube.list(TGB_LIST, [
      {
        metadata: { name: 'web-blue', namespace: 'web' },
        spec: { targetGroupARN: BLUE_TG, serviceRef: { name: 'web', port: 80 } },
      },
      {
        metadata: { name: 'api-blue', namespace: 'api' },
        spec: { targetGroupARN: TG_OTHER, serviceRef: { name: 'api', port: 80 } },
      },
    ]);
    const o = await retire(fileText(), true);
    expect(o.refusals).toEqual([
      'TargetGroupBinding api/api-blue in blue binds web-other, which no rollout file given here gives to blue: its traffic may still reach blue. Give the rollout file of that service too (rollout-file takes several), or delete the binding once its traffic is elsewhere, then run again.',
    ]);

    // With the other service's rollout file too, both bindings are planned and its route checked.
    const apiListener = listenerArn().replace('/app/web/', '/app/api/');
    alb.addListener(apiListener, [forward({ [TG_OTHER]: 0, [GREEN_TG]: 100 })]);
    const api = fileText()
      .replace('name: web', 'name: api')
      .replace(`targetGroup: ${BLUE_TG}`, `targetGroup: ${TG_OTHER}`)
      .replace(
        `  - listener: ${listenerArn()}\n  - rule: ${ruleArn()}\n`,
        `  - listener: ${apiListener}\n`,
      );
    const both = await retire(fileText(), true, [['rollouts/api.yaml', api]]);
    expect(both.refusals).toEqual([]);
    expect(both.targetGroups).toEqual([BLUE_TG, TG_OTHER]);
    expect(
      both.plan
        .filter((p) => p.resource !== 'nodegroup' && p.resource !== 'addon')
        .map((p) => `${p.resource} ${p.name}: ${p.action}`),
    ).toEqual([
      'target-group-binding api/api-blue: delete',
      'target-group-binding web/web-blue: delete',
      'targets web-blue: wait',
      'targets web-other: wait',
      'pod-identity-association web/web: delete',
      'cluster prod-1-31: delete',
      `oidc-provider ${PROVIDER}: delete`,
    ]);

    // A live weight on the other service's route is a reason too, named with its file.
    alb.listeners.set(apiListener, [forward({ [TG_OTHER]: 5, [GREEN_TG]: 95 })]);
    const refused = await retire(fileText(), true, [['rollouts/api.yaml', api]]);
    expect(refused.refusals).toEqual([
      expect.stringContaining(
        `forwards with weight 5 to web-other (live: blue 5 / green 95). Apply a rollout step of rollouts/api.yaml that gives blue 0 on every route`,
      ),
    ]);
  });
});

describe('retire-cluster stops', () => {
  const BINDING = '/apis/elbv2.k8s.aws/v1beta1/namespaces/web/targetgroupbindings/web-blue';

  it('a binding nobody finalizes times out, naming the controller and everything left', async () => {
    // No controller: the binding stays listed after the delete, its targets stay registered.
    kube.objects.set(BINDING, { metadata: { name: 'web-blue', namespace: 'web' } });
    const o = await retire(fileText(), false, [], { timeoutMs: 1_500 });
    expect(o.status).toBe('failed');
    expect(kube.deleted).toEqual([BINDING]);
    expect(o.failure).toMatch(
      /^Timed out waiting for targets of blue to leave web-blue\. TargetGroupBinding web\/web-blue is still there \(finalizers: elbv2\.k8s\.aws\/resources\); is the AWS Load Balancer Controller running\? Still registered: 198\.18\.0\.5:8080 healthy, 198\.18\.0\.6:8080 healthy .* Done: delete TargetGroupBinding web\/web-blue\. Still there: target-group-binding web\/web-blue .*; nodegroup apps \(ACTIVE\);.* Run again to continue from here\.$/s,
    );
    expect(o.left?.find((p) => p.resource === 'cluster')).toMatchObject({ action: 'delete' });
    expect(writes()).toEqual([]);
  });

  it('a cancel while waiting stops at once and says what is left', async () => {
    kube.objects.set(BINDING, { metadata: { name: 'web-blue', namespace: 'web' } });
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(new Error('received SIGINT')), 300);
    const started = Date.now();
    const o = await retire(fileText(), false, [], { signal: cancel.signal });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(o.status).toBe('stopped');
    expect(o.failure).toMatch(
      /^Stopped \(received SIGINT\)\. Done: delete TargetGroupBinding web\/web-blue\. Still there: .*cluster prod-1-31 \(ACTIVE\).* Run again to continue from here\.$/,
    );
    expect(retireMarkdown(o)).toContain('### Left');
  });

  it('a deletion EKS refuses fails the run with its error and what is left', async () => {
    kube.objects.set(BINDING, { metadata: { name: 'web-blue', namespace: 'web' } });
    // No finalizer here: the binding goes at once, and its targets with it.
    kube.list(TGB_LIST, [
      {
        metadata: { name: 'web-blue', namespace: 'web' },
        spec: { targetGroupARN: BLUE_TG, serviceRef: { name: 'web', port: 80 } },
      },
    ]);
    kube.onDelete = () => {
      targets = [];
    };
    const notFound = (what: string) =>
      Object.assign(new Error(`No ${what} found.`), { name: 'ResourceNotFoundException' });
    let nodegroupGone = false;
    let addonGone = false;
    eksMock
      .on(DeletePodIdentityAssociationCommand)
      .resolves({})
      .on(DeleteNodegroupCommand)
      .callsFake(async () => {
        nodegroupGone = true;
        return { nodegroup: { status: 'DELETING' } };
      })
      .on(DescribeNodegroupCommand)
      .callsFake(async () => {
        if (nodegroupGone) throw notFound('node group');
        return { nodegroup: { nodegroupName: 'apps', status: 'ACTIVE' } };
      })
      .on(DeleteAddonCommand)
      .callsFake(async () => {
        addonGone = true;
        return { addon: { status: 'DELETING' } };
      })
      .on(DescribeAddonCommand)
      .callsFake(async () => {
        if (addonGone) throw notFound('addon');
        return { addon: { addonName: 'vpc-cni', status: 'ACTIVE' } };
      })
      .on(ListNodegroupsCommand)
      .callsFake(async () => ({ nodegroups: nodegroupGone ? [] : ['apps'] }))
      .on(ListAddonsCommand)
      .callsFake(async () => ({ addons: addonGone ? [] : ['vpc-cni'] }))
      .on(DeleteClusterCommand)
      .rejects(
        Object.assign(new Error('Cluster has fargate profiles attached'), {
          name: 'ResourceInUseException',
          $metadata: { httpStatusCode: 409 },
        }),
      );
    const o = await retire(fileText(), false, [], { timeoutMs: 20_000 });
    expect(o.status).toBe('failed');
    expect(o.failure).toMatch(
      /^ResourceInUseException: Cluster has fargate profiles attached\. Done: delete TargetGroupBinding web\/web-blue; targets of blue deregistered from web-blue; delete pod identity association web\/web; delete node group apps; node group apps deleted; delete add-on vpc-cni; add-on vpc-cni deleted\. Still there: .*cluster prod-1-31 \(ACTIVE\); oidc-provider .* Run again to continue from here\.$/,
    );
    expect(o.left?.filter((p) => p.action !== 'gone').map((p) => p.resource)).toEqual([
      'pod-identity-association',
      'cluster',
      'oidc-provider',
    ]);
  });
});
