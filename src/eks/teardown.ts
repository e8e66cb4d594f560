/**
 * What an EKS cluster has that retiring it deletes, read from EKS (every node group, add-on and
 * pod identity association the cluster has, not only those a ClusterConfig names) and IAM (the
 * OIDC provider of its issuer, and only that one), and the delete calls. A resource already
 * gone is not an error: a retirement continues where a cancelled one stopped.
 */
import {
  DeleteAddonCommand,
  DeleteClusterCommand,
  DeleteNodegroupCommand,
  DeletePodIdentityAssociationCommand,
  DescribeAddonCommand,
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  ListAddonsCommand,
  ListNodegroupsCommand,
  ListPodIdentityAssociationsCommand,
  type Cluster,
  type EKSClient,
} from '@aws-sdk/client-eks';
import { DeleteOpenIDConnectProviderCommand } from '@aws-sdk/client-iam';
import { findOidcProvider, notFoundAsUndefined, type EksClients } from './live.js';

type Options = { abortSignal?: AbortSignal };

export interface TeardownState {
  /** Undefined: the cluster does not exist (any more). */
  cluster?: Cluster;
  nodegroups: { name: string; status: string }[];
  addons: { name: string; status: string }[];
  podIdentityAssociations: { id: string; namespace: string; serviceAccount: string }[];
  /** The IAM OIDC provider whose URL is the cluster's issuer, when one exists. */
  oidcProviderArn?: string;
}

/** Reads the cluster and everything on it; `issuer` finds the OIDC provider once the cluster is gone. */
export async function readTeardown(
  clients: EksClients,
  name: string,
  opts: Options,
  issuer?: string,
): Promise<TeardownState> {
  const { eks } = clients;
  const described = await notFoundAsUndefined(eks.send(new DescribeClusterCommand({ name }), opts));
  const cluster = described?.cluster;
  const state: TeardownState = { nodegroups: [], addons: [], podIdentityAssociations: [] };
  if (cluster) state.cluster = cluster;
  const theIssuer = cluster?.identity?.oidc?.issuer ?? issuer;
  await Promise.all([
    cluster
      ? listAll(eks, name, opts).then((x) => Object.assign(state, x))
      : Promise.resolve(undefined),
    theIssuer
      ? findOidcProvider(clients.iam, theIssuer, opts).then((arn) => {
          if (arn) state.oidcProviderArn = arn;
        })
      : Promise.resolve(undefined),
  ]);
  return state;
}

async function listAll(
  eks: EKSClient,
  clusterName: string,
  opts: Options,
): Promise<Pick<TeardownState, 'nodegroups' | 'addons' | 'podIdentityAssociations'>> {
  const pages = async <T>(
    read: (nextToken: string | undefined) => Promise<{ items: T[]; nextToken?: string }>,
  ): Promise<T[]> => {
    const out: T[] = [];
    let token: string | undefined;
    do {
      const page = await read(token);
      out.push(...page.items);
      token = page.nextToken;
    } while (token);
    return out;
  };
  // A cluster deleted between the reads lists nothing more.
  const orNone = <T>(p: Promise<T[]>): Promise<T[]> => notFoundAsUndefined(p).then((x) => x ?? []);
  const [ngNames, addonNames, pias] = await Promise.all([
    orNone(
      pages(async (nextToken) => {
        const r = await eks.send(new ListNodegroupsCommand({ clusterName, nextToken }), opts);
        return { items: r.nodegroups ?? [], ...(r.nextToken ? { nextToken: r.nextToken } : {}) };
      }),
    ),
    orNone(
      pages(async (nextToken) => {
        const r = await eks.send(new ListAddonsCommand({ clusterName, nextToken }), opts);
        return { items: r.addons ?? [], ...(r.nextToken ? { nextToken: r.nextToken } : {}) };
      }),
    ),
    orNone(
      pages(async (nextToken) => {
        const r = await eks.send(
          new ListPodIdentityAssociationsCommand({ clusterName, nextToken }),
          opts,
        );
        return {
          items: (r.associations ?? []).map((a) => ({
            id: a.associationId ?? '',
            namespace: a.namespace ?? '',
            serviceAccount: a.serviceAccount ?? '',
          })),
          ...(r.nextToken ? { nextToken: r.nextToken } : {}),
        };
      }),
    ),
  ]);
  const [nodegroups, addons] = await Promise.all([
    Promise.all(
      ngNames.map(async (n) => {
        const r = await notFoundAsUndefined(
          eks.send(new DescribeNodegroupCommand({ clusterName, nodegroupName: n }), opts),
        );
        return r?.nodegroup ? { name: n, status: r.nodegroup.status ?? '?' } : undefined;
      }),
    ),
    Promise.all(
      addonNames.map(async (a) => {
        const r = await notFoundAsUndefined(
          eks.send(new DescribeAddonCommand({ clusterName, addonName: a }), opts),
        );
        return r?.addon ? { name: a, status: r.addon.status ?? '?' } : undefined;
      }),
    ),
  ]);
  return {
    nodegroups: nodegroups.filter((x) => x !== undefined).sort(byName),
    addons: addons.filter((x) => x !== undefined).sort(byName),
    podIdentityAssociations: pias.sort((a, b) =>
      `${a.namespace}/${a.serviceAccount}`.localeCompare(`${b.namespace}/${b.serviceAccount}`),
    ),
  };
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name.localeCompare(b.name);
}

/** Each delete answers false when the resource was gone already. */
export async function deletePodIdentityAssociation(
  eks: EKSClient,
  clusterName: string,
  associationId: string,
  opts: Options,
): Promise<boolean> {
  return gone(
    eks.send(new DeletePodIdentityAssociationCommand({ clusterName, associationId }), opts),
  );
}

export async function deleteNodegroup(
  eks: EKSClient,
  clusterName: string,
  nodegroupName: string,
  opts: Options,
): Promise<boolean> {
  return gone(eks.send(new DeleteNodegroupCommand({ clusterName, nodegroupName }), opts));
}

export async function deleteAddon(
  eks: EKSClient,
  clusterName: string,
  addonName: string,
  opts: Options,
): Promise<boolean> {
  return gone(eks.send(new DeleteAddonCommand({ clusterName, addonName }), opts));
}

export async function deleteCluster(eks: EKSClient, name: string, opts: Options): Promise<boolean> {
  return gone(eks.send(new DeleteClusterCommand({ name }), opts));
}

export async function deleteOidcProvider(
  clients: EksClients,
  arn: string,
  opts: Options,
): Promise<boolean> {
  return gone(
    clients.iam.send(
      new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }),
      opts,
    ),
  );
}

async function gone(p: Promise<unknown>): Promise<boolean> {
  return (await notFoundAsUndefined(p.then(() => true))) ?? false;
}
