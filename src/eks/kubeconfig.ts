/**
 * A kubeconfig for one EKS cluster whose user is an exec credential plugin: kubectl, helm and
 * helmfile run the command whenever they need a token, so tokens (15 minutes each) refresh during
 * long runs. The command is our token minter (src/eks/token-cli.ts, bundled), which prints an
 * ExecCredential; credentials come from the environment the tool inherits, never from the file.
 * Or, for one operation's own tools, a `tokenFile` that the operation keeps fresh
 * (src/eks/token-file.ts): no process starts for a token.
 */
import { stringify } from 'yaml';

export interface TokenExec {
  /** Usually process.execPath (node). */
  command: string;
  /** The minter's script, before --cluster and --region are appended. */
  args: string[];
  /** Extra environment for the command (never secrets: they would sit in the file). */
  env?: Record<string, string>;
}

export interface KubeconfigInput {
  clusterName: string;
  region: string;
  /** DescribeCluster's endpoint. */
  endpoint: string;
  /** DescribeCluster's certificateAuthority.data (base64 of the PEM). */
  certificateAuthorityData: string;
  /** How the tools get a token: our exec plugin, or a token file kept fresh by the caller. */
  exec?: TokenExec;
  tokenFile?: string;
  /** The context name; default the cluster name. */
  contextName?: string;
}

export function buildKubeconfig(input: KubeconfigInput): string {
  const name = input.contextName ?? input.clusterName;
  const exec = input.exec;
  if (!exec === !input.tokenFile)
    throw new Error('buildKubeconfig needs one of exec and tokenFile');
  const env = Object.entries(exec?.env ?? {}).map(([k, v]) => ({ name: k, value: v }));
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name,
        cluster: {
          server: input.endpoint,
          'certificate-authority-data': input.certificateAuthorityData,
        },
      },
    ],
    users: [
      {
        name,
        user: exec
          ? {
              exec: {
                apiVersion: 'client.authentication.k8s.io/v1beta1',
                command: exec.command,
                args: [...exec.args, '--cluster', input.clusterName, '--region', input.region],
                ...(env.length > 0 ? { env } : {}),
                interactiveMode: 'Never',
                provideClusterInfo: false,
              },
            }
          : { tokenFile: input.tokenFile },
      },
    ],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
  });
}
