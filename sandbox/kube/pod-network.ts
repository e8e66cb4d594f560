/**
 * The addresses the node agent gives pods. Kubernetes refuses loopback addresses in
 * EndpointSlices ("may not be in the loopback range (127.0.0.0/8, ::1/128)"), so pods on
 * 127.x.y.z would run but no Service would ever list them. Instead pods get addresses in
 * 198.18.0.0/16 (RFC 2544's benchmarking range, never routed on the internet), made local with
 * one route, as 127.0.0.0/8 is by default:
 *
 *     ip route add local 198.18.0.0/16 dev lo
 *
 * The sandbox adds that route itself when it may (root, or CAP_NET_ADMIN), and leaves it in
 * place (other sandboxes on the machine may be using it; it only makes those addresses local).
 * When it cannot, pods fall back to 127.x.y.z and the sandbox says what breaks and how to fix it.
 */
import { execFileSync } from 'node:child_process';

export const POD_CIDR = '198.18.0.0/16';

export interface PodNetwork {
  /** The first two octets pods get addresses under, e.g. "198.18" or "127.64". */
  prefix: string;
  /** Set when pods fall back to loopback addresses: what breaks, and the command that fixes it. */
  warning?: string;
}

let cached: PodNetwork | undefined;

export function podNetwork(): PodNetwork {
  cached ??= detect();
  return cached;
}

function detect(): PodNetwork {
  const ip = (args: string[]): string =>
    execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    if (
      ip(['route', 'show', 'table', 'local', POD_CIDR]).includes(POD_CIDR.split('/')[0] as string)
    ) {
      return { prefix: '198.18' };
    }
    ip(['route', 'add', 'local', POD_CIDR, 'dev', 'lo']);
    return { prefix: '198.18' };
  } catch (e) {
    const why = (e as { stderr?: string }).stderr?.trim() || (e as Error).message;
    return {
      // Spread by pid so two sandboxes on one machine rarely start from the same address.
      prefix: `127.${64 + (process.pid % 128)}`,
      warning:
        `pods get loopback addresses, which Kubernetes refuses in EndpointSlices: Services will ` +
        `list no endpoints and TargetGroupBindings register nothing. The sandbox could not add ` +
        `the route that gives pods ${POD_CIDR} (${why}); run once as root: ` +
        `ip route add local ${POD_CIDR} dev lo`,
    };
  }
}
