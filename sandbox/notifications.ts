/**
 * The demo's "push notifications": a Job of the demo app run with `--notify <url>` posts one to
 * the sandbox (`POST /_sandbox/notifications`), and `GET /_sandbox/notifications` counts them per
 * CronJob schedule slot, so a migration can show that users got one notification per slot, not
 * two (the incident this project started from) and not none.
 */
import type { ControlRoute } from './core.js';

export interface Notification {
  /** The pod that sent it: <cronjob>-<minutes since the epoch>-<5 chars> for a CronJob's Job. */
  pod: string;
  namespace?: string;
  /** The node, `sandbox-<cluster>`: which cluster sent it. */
  node?: string;
  receivedAt: string;
}

export class NotificationCounter {
  readonly received: Notification[] = [];

  add(body: unknown): Notification {
    const b = (body ?? {}) as Record<string, unknown>;
    if (typeof b.pod !== 'string' || b.pod === '') {
      throw new Error('a notification needs "pod" (the sending pod\'s name)');
    }
    const n: Notification = {
      pod: b.pod,
      ...(typeof b.namespace === 'string' ? { namespace: b.namespace } : {}),
      ...(typeof b.node === 'string' ? { node: b.node } : {}),
      receivedAt: new Date().toISOString(),
    };
    this.received.push(n);
    return n;
  }

  /** Per `<namespace>/<cronjob> <slot>`: the clusters (nodes) that sent a notification for it. */
  perSlot(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const n of this.received) {
      const m = /^(.*)-(\d{8,})-[a-z0-9]{5}$/.exec(n.pod);
      const key = m
        ? `${n.namespace ?? ''}/${m[1]} ${new Date(Number(m[2]) * 60_000).toISOString()}`
        : `${n.namespace ?? ''}/${n.pod}`;
      (out[key] ??= []).push((n.node ?? '?').replace(/^sandbox-/, ''));
    }
    return out;
  }

  routes(): ControlRoute[] {
    return [
      { method: 'POST', path: '/_sandbox/notifications', handle: (body) => this.add(body) },
      {
        method: 'GET',
        path: '/_sandbox/notifications',
        handle: () => ({ received: this.received, perSlot: this.perSlot() }),
      },
    ];
  }
}
