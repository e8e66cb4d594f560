/**
 * The part of the AWS Load Balancer Controller our users rely on: TargetGroupBinding
 * (elbv2.k8s.aws/v1beta1) with targetType ip. For each binding it registers the ready endpoints
 * of the bound Service's port (from its EndpointSlices, as the controller reads them) into the
 * target group through the ELBv2 API (the sandbox's, with the real SDK client), and deregisters
 * endpoints that went away. A finalizer makes deleting a binding deregister its targets first.
 * Problems (unknown target group, targetType instance, a port the Service lacks) become Events
 * on the binding, as the real controller reports them.
 *
 * Not modelled: targetType instance (NodePort), networking rules (security groups), nodeSelector,
 * multi-cluster target groups, the controller's readiness gate injection.
 */
import {
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  RegisterTargetsCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { KubeApiError, type KubeClient, type KubeList, type ObjectMeta } from './client.js';

const GROUP = 'elbv2.k8s.aws';
const FINALIZER = 'elbv2.k8s.aws/resources';

export interface TargetGroupBinding {
  metadata: ObjectMeta;
  spec: {
    targetGroupARN?: string;
    targetGroupName?: string;
    targetType?: 'ip' | 'instance';
    serviceRef: { name: string; port: number | string };
  };
  status?: { observedGeneration?: number };
}

interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
}
interface EndpointSlice {
  ports?: Array<{ name?: string; port?: number }>;
  endpoints: Array<{ addresses: string[]; conditions?: { ready?: boolean } }>;
}

/** The CRD: v1beta1 with the fields users write, as the controller's chart installs it. */
export function targetGroupBindingCrd(): unknown {
  const intOrString = {
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `targetgroupbindings.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: 'TargetGroupBinding',
        listKind: 'TargetGroupBindingList',
        plural: 'targetgroupbindings',
        singular: 'targetgroupbinding',
      },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v1beta1',
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'SERVICE-NAME', type: 'string', jsonPath: '.spec.serviceRef.name' },
            { name: 'SERVICE-PORT', type: 'string', jsonPath: '.spec.serviceRef.port' },
            { name: 'TARGET-TYPE', type: 'string', jsonPath: '.spec.targetType' },
            { name: 'ARN', type: 'string', jsonPath: '.spec.targetGroupARN', priority: 1 },
            { name: 'AGE', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: {
                  type: 'object',
                  required: ['serviceRef'],
                  properties: {
                    targetGroupARN: { type: 'string', minLength: 1 },
                    targetGroupName: { type: 'string' },
                    targetType: { type: 'string', enum: ['instance', 'ip'] },
                    serviceRef: {
                      type: 'object',
                      required: ['name', 'port'],
                      properties: { name: { type: 'string' }, port: intOrString },
                    },
                    ipAddressType: { type: 'string', enum: ['ipv4', 'ipv6'] },
                    vpcID: { type: 'string' },
                    nodeSelector: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                    networking: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                    multiClusterTargetGroup: { type: 'boolean' },
                  },
                },
                status: {
                  type: 'object',
                  properties: { observedGeneration: { type: 'integer', format: 'int64' } },
                },
              },
            },
          },
        },
      ],
    },
  };
}

export interface TgbControllerOptions {
  client: KubeClient;
  elbv2: ElasticLoadBalancingV2Client;
  pollMs?: number;
  log?: (line: string) => void;
}

export class TargetGroupBindingController {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly reported = new Map<string, string>();
  private readonly pollMs: number;
  private readonly log: (line: string) => void;

  constructor(private readonly options: TgbControllerOptions) {
    this.pollMs = options.pollMs ?? 500;
    this.log = options.log ?? (() => {});
  }

  start(): void {
    const loop = (): void => {
      if (this.closed) return;
      this.tick()
        .catch((e: unknown) =>
          this.log(`tgb controller: ${e instanceof Error ? e.message : String(e)}`),
        )
        .finally(() => {
          if (!this.closed) this.timer = setTimeout(loop, this.pollMs);
        });
    };
    loop();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  async tick(): Promise<void> {
    const list = await this.options.client.get<KubeList<TargetGroupBinding>>(
      `/apis/${GROUP}/v1beta1/targetgroupbindings`,
    );
    for (const tgb of list.items) {
      try {
        await this.reconcile(tgb);
      } catch (e) {
        if (e instanceof KubeApiError && (e.status === 404 || e.status === 409)) continue;
        const message = e instanceof Error ? e.message : String(e);
        await this.report(tgb, 'FailedDeployModel', message);
      }
    }
  }

  private async reconcile(tgb: TargetGroupBinding): Promise<void> {
    const { namespace, name } = tgb.metadata as Required<Pick<ObjectMeta, 'namespace' | 'name'>>;
    const client = this.options.client;
    const path = `/apis/${GROUP}/v1beta1/namespaces/${namespace}/targetgroupbindings/${name}`;
    const arn = tgb.spec.targetGroupARN;
    if (tgb.metadata.deletionTimestamp) {
      if (!(tgb.metadata.finalizers ?? []).includes(FINALIZER)) return;
      if (arn) {
        const current = await this.currentTargets(arn).catch((e: unknown) => {
          if ((e as { name?: string }).name === 'TargetGroupNotFoundException') return [];
          throw e;
        });
        if (current.length > 0) {
          await this.options.elbv2.send(
            new DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: current }),
          );
        }
      }
      await client.mergePatch(path, {
        metadata: {
          finalizers: (tgb.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
          resourceVersion: tgb.metadata.resourceVersion,
        },
      });
      return;
    }
    if (!(tgb.metadata.finalizers ?? []).includes(FINALIZER)) {
      await client.mergePatch(path, {
        metadata: {
          finalizers: [...(tgb.metadata.finalizers ?? []), FINALIZER],
          resourceVersion: tgb.metadata.resourceVersion,
        },
      });
      return;
    }
    if (!arn) {
      await this.report(
        tgb,
        'FailedDeployModel',
        'spec.targetGroupARN is required by the sandbox (targetGroupName lookup is not modelled)',
      );
      return;
    }
    if ((tgb.spec.targetType ?? 'instance') !== 'ip') {
      await this.report(
        tgb,
        'FailedDeployModel',
        `targetType ${tgb.spec.targetType ?? '(unset)'} is not supported by the sandbox: it has no nodes with NodePorts; use targetType: ip`,
      );
      return;
    }
    const desired = await this.desiredTargets(namespace, tgb.spec.serviceRef);
    const current = await this.currentTargets(arn);
    const key = (t: { Id?: string; Port?: number }): string => `${t.Id}:${t.Port}`;
    const want = new Set(desired.map(key));
    const have = new Set(current.map(key));
    const add = desired.filter((t) => !have.has(key(t)));
    const remove = current.filter((t) => !want.has(key(t)));
    if (add.length > 0) {
      await this.options.elbv2.send(
        new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: add }),
      );
      this.log(`tgb ${namespace}/${name}: registered ${add.map(key).join(', ')}`);
    }
    if (remove.length > 0) {
      await this.options.elbv2.send(
        new DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: remove }),
      );
      this.log(`tgb ${namespace}/${name}: deregistered ${remove.map(key).join(', ')}`);
    }
    if (tgb.status?.observedGeneration !== tgb.metadata.generation) {
      await client.mergePatch(`${path}/status`, {
        status: { observedGeneration: tgb.metadata.generation },
      });
    }
    this.reported.delete(tgb.metadata.uid as string);
  }

  private async desiredTargets(
    namespace: string,
    ref: { name: string; port: number | string },
  ): Promise<Array<{ Id: string; Port: number }>> {
    const client = this.options.client;
    const service = await client.find<{ spec: { ports?: ServicePort[] } }>(
      `/api/v1/namespaces/${namespace}/services/${ref.name}`,
    );
    if (!service) throw new Error(`service ${namespace}/${ref.name} not found`);
    const ports = service.spec.ports ?? [];
    const port =
      typeof ref.port === 'number' || /^\d+$/.test(ref.port)
        ? ports.find((p) => p.port === Number(ref.port))
        : ports.find((p) => p.name === ref.port);
    if (!port) {
      throw new Error(`service ${namespace}/${ref.name} has no port ${String(ref.port)}`);
    }
    const slices = await client.get<KubeList<EndpointSlice>>(
      `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices?labelSelector=${encodeURIComponent(`kubernetes.io/service-name=${ref.name}`)}`,
    );
    const targets = new Map<string, { Id: string; Port: number }>();
    for (const slice of slices.items) {
      const slicePort = (slice.ports ?? []).find((p) => (p.name ?? '') === (port.name ?? ''));
      if (slicePort?.port === undefined) continue;
      for (const endpoint of slice.endpoints ?? []) {
        if (endpoint.conditions?.ready === false) continue;
        for (const address of endpoint.addresses) {
          targets.set(`${address}:${slicePort.port}`, { Id: address, Port: slicePort.port });
        }
      }
    }
    return [...targets.values()];
  }

  private async currentTargets(arn: string): Promise<Array<{ Id: string; Port: number }>> {
    const out = await this.options.elbv2.send(
      new DescribeTargetHealthCommand({ TargetGroupArn: arn }),
    );
    return (out.TargetHealthDescriptions ?? [])
      .filter((d) => d.TargetHealth?.State !== 'draining')
      .map((d) => ({ Id: d.Target?.Id as string, Port: d.Target?.Port as number }));
  }

  /** An Event on the binding, once per distinct message (the controller's way of saying why). */
  private async report(tgb: TargetGroupBinding, reason: string, message: string): Promise<void> {
    const uid = tgb.metadata.uid as string;
    if (this.reported.get(uid) === message) return;
    this.reported.set(uid, message);
    this.log(`tgb ${tgb.metadata.namespace}/${tgb.metadata.name}: ${message}`);
    const now = new Date().toISOString();
    await this.options.client
      .post(`/api/v1/namespaces/${tgb.metadata.namespace}/events`, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${tgb.metadata.name}.`, namespace: tgb.metadata.namespace },
        involvedObject: {
          apiVersion: `${GROUP}/v1beta1`,
          kind: 'TargetGroupBinding',
          name: tgb.metadata.name,
          namespace: tgb.metadata.namespace,
          uid,
        },
        reason,
        message,
        type: 'Warning',
        source: { component: 'targetGroupBinding' },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      })
      .catch(() => {});
  }
}
