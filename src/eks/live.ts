/**
 * Reading what exists, for the resources a ClusterConfig names and nothing else: DescribeCluster
 * first; when the cluster exists, its node groups, add-ons, access entries (with their
 * policies) and pod identity associations in parallel, and the IAM OIDC provider when the config
 * asks for one. Add-on versions (DescribeAddonVersions) only for add-ons that need a lookup.
 */
import {
  DescribeAccessEntryCommand,
  DescribeAddonCommand,
  DescribeAddonVersionsCommand,
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  DescribePodIdentityAssociationCommand,
  ListAssociatedAccessPoliciesCommand,
  ListPodIdentityAssociationsCommand,
  type AccessEntry,
  type AssociatedAccessPolicy,
  type EKSClient,
} from '@aws-sdk/client-eks';
import { ListOpenIDConnectProvidersCommand, type IAMClient } from '@aws-sdk/client-iam';
import type { AddonConfig, ClusterConfig } from './cluster-config.js';
import {
  emptyLive,
  podIdentityAssociations,
  type AddonVersions,
  type LiveCluster,
} from './plan.js';

export interface EksClients {
  eks: EKSClient;
  iam: IAMClient;
}

type Options = { abortSignal?: AbortSignal };

export async function readLive(
  config: ClusterConfig,
  clients: EksClients,
  signal?: AbortSignal,
): Promise<LiveCluster> {
  const opts: Options = signal ? { abortSignal: signal } : {};
  const live = emptyLive();
  const cluster = await notFoundAsUndefined(
    clients.eks.send(new DescribeClusterCommand({ name: config.name }), opts),
  );
  if (!cluster?.cluster) return live;
  live.cluster = cluster.cluster;
  const name = config.name;
  const reads: Promise<void>[] = [];
  for (const ng of config.nodeGroups) {
    reads.push(
      notFoundAsUndefined(
        clients.eks.send(
          new DescribeNodegroupCommand({ clusterName: name, nodegroupName: ng.name }),
          opts,
        ),
      ).then((r) => {
        if (r?.nodegroup) live.nodegroups.set(ng.name, r.nodegroup);
      }),
    );
  }
  for (const addon of config.addons) {
    reads.push(
      notFoundAsUndefined(
        clients.eks.send(
          new DescribeAddonCommand({ clusterName: name, addonName: addon.name }),
          opts,
        ),
      ).then((r) => {
        if (r?.addon) live.addons.set(addon.name, r.addon);
      }),
    );
  }
  const apiAuth = cluster.cluster.accessConfig?.authenticationMode !== 'CONFIG_MAP';
  for (const entry of apiAuth ? config.access.entries : []) {
    reads.push(
      readAccessEntry(clients.eks, name, entry.principalArn, opts).then((found) => {
        if (found) live.accessEntries.set(entry.principalArn, found);
      }),
    );
  }
  if (podIdentityAssociations(config).length > 0) {
    reads.push(
      (async () => {
        let nextToken: string | undefined;
        do {
          const page = await clients.eks.send(
            new ListPodIdentityAssociationsCommand({ clusterName: name, nextToken }),
            opts,
          );
          // The summaries carry no role: describe each one this config is about.
          const wanted = new Set(
            podIdentityAssociations(config).map((p) => `${p.namespace}/${p.serviceAccountName}`),
          );
          await Promise.all(
            (page.associations ?? [])
              .filter((a) => wanted.has(`${a.namespace}/${a.serviceAccount}`))
              .map(async (a) => {
                const d = await clients.eks.send(
                  new DescribePodIdentityAssociationCommand({
                    clusterName: name,
                    associationId: a.associationId,
                  }),
                  opts,
                );
                if (d.association)
                  live.podIdentityAssociations.set(
                    `${a.namespace}/${a.serviceAccount}`,
                    d.association,
                  );
              }),
          );
          nextToken = page.nextToken;
        } while (nextToken);
      })(),
    );
  }
  const issuer = cluster.cluster.identity?.oidc?.issuer;
  if (config.withOIDC && issuer) {
    reads.push(
      findOidcProvider(clients.iam, issuer, opts).then((arn) => {
        if (arn) live.oidcProviderArn = arn;
      }),
    );
  }
  await Promise.all(reads);
  return live;
}

/** An access entry and its associated policies; undefined when there is none. */
export async function readAccessEntry(
  eks: EKSClient,
  clusterName: string,
  principalArn: string,
  opts: Options = {},
): Promise<{ entry: AccessEntry; policies: AssociatedAccessPolicy[] } | undefined> {
  const found = await notFoundAsUndefined(
    eks.send(new DescribeAccessEntryCommand({ clusterName, principalArn }), opts),
  );
  if (!found?.accessEntry) return undefined;
  const policies: AssociatedAccessPolicy[] = [];
  let nextToken: string | undefined;
  do {
    const page = await eks.send(
      new ListAssociatedAccessPoliciesCommand({ clusterName, principalArn, nextToken }),
      opts,
    );
    policies.push(...(page.associatedAccessPolicies ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return { entry: found.accessEntry, policies };
}

/** The IAM OIDC provider whose URL is the issuer (IAM keeps the URL without https://). */
export async function findOidcProvider(
  iam: IAMClient,
  issuer: string,
  opts: Options = {},
): Promise<string | undefined> {
  const host = issuer.replace(/^https:\/\//, '');
  const list = await iam.send(new ListOpenIDConnectProvidersCommand({}), opts);
  return list.OpenIDConnectProviderList?.map((p) => p.Arn ?? '').find((arn) =>
    arn.endsWith(`:oidc-provider/${host}`),
  );
}

/** Versions of the add-ons that need a lookup: to be created, or asking for `latest`. */
export async function readAddonVersions(
  config: ClusterConfig,
  live: LiveCluster,
  eks: EKSClient,
  signal?: AbortSignal,
): Promise<Map<string, AddonVersions>> {
  const opts: Options = signal ? { abortSignal: signal } : {};
  const needs = (a: AddonConfig): boolean =>
    a.version === 'latest' || (a.version === undefined && !live.addons.has(a.name));
  const out = new Map<string, AddonVersions>();
  await Promise.all(
    config.addons.filter(needs).map(async (a) => {
      const r = await eks.send(
        new DescribeAddonVersionsCommand({ addonName: a.name, kubernetesVersion: config.version }),
        opts,
      );
      const info = r.addons?.find((x) => x.addonName === a.name);
      const versions = (info?.addonVersions ?? []).filter((v) =>
        (v.compatibilities ?? []).some((c) => c.clusterVersion === config.version),
      );
      const all = versions.map((v) => v.addonVersion ?? '').filter((v) => v !== '');
      const def = versions.find((v) =>
        v.compatibilities?.some((c) => c.clusterVersion === config.version && c.defaultVersion),
      )?.addonVersion;
      out.set(a.name, {
        all,
        ...(def ? { default: def } : {}),
        ...(all.length > 0 ? { latest: [...all].sort(compareAddonVersions).at(-1) as string } : {}),
      });
    }),
  );
  return out;
}

/** v1.19.2-eksbuild.3 order: the numbers, then the build. */
export function compareAddonVersions(a: string, b: string): number {
  const nums = (v: string): number[] => (v.match(/\d+/g) ?? []).map(Number);
  const x = nums(a);
  const y = nums(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export async function notFoundAsUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (
      e instanceof Error &&
      (e.name === 'ResourceNotFoundException' || e.name === 'NoSuchEntityException')
    ) {
      return undefined;
    }
    throw e;
  }
}
