/**
 * `npm run sandbox`: runs the sandbox in the foreground and prints the environment to paste
 * into another shell, so the AWS SDK (and our actions and CLI) there talk to it. Stops cleanly
 * on SIGINT / SIGTERM.
 *
 *   --port <n>                     default 4566, or a free port when 4566 is taken
 *   --region <r>                   default ap-northeast-1
 *   --account-id <12 digits>       default 123456789012
 *   --eks-transition-ms <n>        how long EKS resources stay CREATING / DELETING (2000)
 *   --propagation-delay-ms <n>     ALB weight propagation delay
 *   --health-check-time-scale <x>  multiplies ALB health-check timings
 *   --no-kubernetes                EKS clusters as records only (by default each ACTIVE cluster runs
 *                                  real Kubernetes when `npm run kube-tools` has built the tools)
 */
import { parseArgs } from 'node:util';
import { startSandbox, type Sandbox, type SandboxOptions } from './index.js';

const DEFAULT_PORT = 4566;

async function main(argv: string[]): Promise<Sandbox> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      region: { type: 'string' },
      'account-id': { type: 'string' },
      'eks-transition-ms': { type: 'string' },
      'propagation-delay-ms': { type: 'string' },
      'health-check-time-scale': { type: 'string' },
      'no-kubernetes': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const options: SandboxOptions = {
    kubernetes: !values['no-kubernetes'],
    log: (line) => console.log(line),
  };
  if (values.region !== undefined) options.region = values.region;
  if (values['account-id'] !== undefined) {
    if (!/^\d{12}$/.test(values['account-id'])) {
      throw new Error(`--account-id must be 12 digits; got ${values['account-id']}`);
    }
    options.accountId = values['account-id'];
  }
  const num = (name: string, raw: string | undefined): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0)
      throw new Error(`--${name} must be a non-negative number; got ${raw}`);
    return n;
  };
  const eks = num('eks-transition-ms', values['eks-transition-ms']);
  if (eks !== undefined) options.eksTransitionMs = eks;
  const delay = num('propagation-delay-ms', values['propagation-delay-ms']);
  if (delay !== undefined) options.propagationDelayMs = delay;
  const scale = num('health-check-time-scale', values['health-check-time-scale']);
  if (scale !== undefined) options.healthCheckTimeScale = scale;

  const explicitPort = num('port', values.port);
  let sandbox: Sandbox;
  if (explicitPort !== undefined) {
    sandbox = await startSandbox({ ...options, port: explicitPort });
  } else {
    try {
      sandbox = await startSandbox({ ...options, port: DEFAULT_PORT });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      console.log(`port ${DEFAULT_PORT} is in use; using a free port instead`);
      sandbox = await startSandbox({ ...options, port: 0 });
    }
  }

  console.log(`AWS sandbox listening on ${sandbox.endpoint} (account ${sandbox.accountId})`);
  console.log('Paste into another shell:\n');
  for (const [k, v] of Object.entries(sandbox.env)) console.log(`export ${k}=${v}`);
  console.log(
    `\nControl API: ${sandbox.endpoint}/_sandbox/ (see sandbox/README.md). Ctrl-C stops.`,
  );
  if (sandbox.kube?.enabled) {
    console.log(
      'EKS clusters run real Kubernetes: when one is ACTIVE its kubeconfig path is printed here\n' +
        `(also GET ${sandbox.endpoint}/_sandbox/eks/kubeconfig?name=<cluster>).`,
    );
  }
  return sandbox;
}

const sandbox = await main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(`sandbox: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(2);
});
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the sandbox`);
    sandbox.close().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error('sandbox: error while closing', e);
        process.exit(1);
      },
    );
  });
}
