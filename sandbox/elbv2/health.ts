/**
 * Registered targets of one target group and their health, as DescribeTargetHealth reports
 * it and as the data plane routes by it.
 *
 * States follow ALB: a target registered in a group no listener uses is `unused`
 * (Target.NotInUse). Once the group is in use, a target is `initial` until
 * HealthyThresholdCount consecutive checks pass (`healthy`) or UnhealthyThresholdCount fail
 * (`unhealthy`, with the reason of the last failure). DeregisterTargets puts it in `draining`
 * for the deregistration delay, then it is gone. Health checks run only while the group is in
 * use, each target on its own clock (each load balancer node checks each target, AWS's docs say;
 * nothing ties targets to a common tick): the first check when the target is registered (or the
 * group comes into use), then every interval. Every timer is multiplied by `timeScale`, so tests
 * can run a 5 s interval in 250 ms.
 */
import { request } from 'node:http';
import type { TargetGroup } from './model.js';

export type TargetState =
  'initial' | 'healthy' | 'unhealthy' | 'unused' | 'draining' | 'unavailable';

export interface RegisteredTarget {
  id: string;
  port: number;
  state: TargetState;
  reason?: string;
  description?: string;
  /** Consecutive passed / failed checks since the last state change. */
  passes: number;
  failures: number;
  drainTimer?: NodeJS.Timeout;
  /** The target's next health check. */
  checkTimer?: NodeJS.Timeout;
}

type CheckResult = { ok: true } | { ok: false; reason: string; description: string };

const REASONS = {
  registering: ['Elb.RegistrationInProgress', 'Target registration is in progress'],
  initial: ['Elb.InitialHealthChecking', 'Initial health checks in progress'],
  notInUse: [
    'Target.NotInUse',
    'Target group is not configured to receive traffic from the load balancer',
  ],
  draining: ['Target.DeregistrationInProgress', 'Target deregistration is in progress'],
  disabled: ['Target.HealthCheckDisabled', 'Health checks are disabled'],
} as const;

export class TargetGroupRuntime {
  readonly targets = new Map<string, RegisteredTarget>();
  private inUse = false;
  private roundRobin = 0;
  private stopped = false;

  constructor(
    readonly targetGroup: TargetGroup,
    private readonly timeScale: number,
    /** Told each change of a target's state (benchmarks time health from it, not by polling). */
    private readonly onState?: (target: RegisteredTarget) => void,
  ) {}

  static key(id: string, port: number): string {
    return `${id}:${port}`;
  }

  /** Whether any listener or rule forwards to the group; starts or stops health checks. */
  setInUse(inUse: boolean): void {
    if (inUse === this.inUse) return;
    this.inUse = inUse;
    for (const t of this.targets.values()) {
      if (t.state !== 'draining') this.enterStartState(t);
    }
    if (inUse) for (const t of this.targets.values()) this.scheduleCheck(t, 0);
    else this.stopChecks();
  }

  isInUse(): boolean {
    return this.inUse;
  }

  register(id: string, port: number): void {
    const key = TargetGroupRuntime.key(id, port);
    const existing = this.targets.get(key);
    if (existing && existing.state !== 'draining') return;
    if (existing?.drainTimer) clearTimeout(existing.drainTimer);
    if (existing?.checkTimer) clearTimeout(existing.checkTimer);
    const target: RegisteredTarget = { id, port, state: 'initial', passes: 0, failures: 0 };
    this.enterStartState(target);
    this.targets.set(key, target);
    this.scheduleCheck(target, 0);
  }

  /** Starts draining; the target leaves after the deregistration delay (at once if unused). */
  deregister(id: string, port: number): void {
    const key = TargetGroupRuntime.key(id, port);
    const target = this.targets.get(key);
    if (!target || target.state === 'draining') return;
    if (target.checkTimer) clearTimeout(target.checkTimer);
    const delayMs = this.targetGroup.deregistrationDelaySeconds * 1000 * this.timeScale;
    if (!this.inUse || delayMs <= 0) {
      this.targets.delete(key);
      return;
    }
    this.setState(target, 'draining', REASONS.draining);
    target.drainTimer = setTimeout(() => {
      if (this.targets.get(key) === target) this.targets.delete(key);
    }, delayMs);
    target.drainTimer.unref();
  }

  /**
   * The next target for a request: round robin over healthy targets; when none is healthy,
   * over every registered target that is not draining (ALB fails open). Undefined when the
   * group has no such target.
   */
  pick(): RegisteredTarget | undefined {
    const live = [...this.targets.values()].filter((t) => t.state !== 'draining');
    const healthy = live.filter((t) => t.state === 'healthy' || t.state === 'unavailable');
    const pool = healthy.length > 0 ? healthy : live;
    if (pool.length === 0) return undefined;
    this.roundRobin = (this.roundRobin + 1) % pool.length;
    return pool[this.roundRobin];
  }

  stop(): void {
    this.stopped = true;
    this.stopChecks();
    for (const t of this.targets.values()) if (t.drainTimer) clearTimeout(t.drainTimer);
  }

  private enterStartState(t: RegisteredTarget): void {
    t.passes = 0;
    t.failures = 0;
    if (!this.inUse) this.setState(t, 'unused', REASONS.notInUse);
    else if (!this.targetGroup.healthCheck.enabled)
      this.setState(t, 'unavailable', REASONS.disabled);
    else this.setState(t, 'initial', REASONS.registering);
  }

  private setState(
    t: RegisteredTarget,
    state: TargetState,
    why?: readonly [string, string] | { reason: string; description: string },
  ): void {
    const changed = t.state !== state;
    t.state = state;
    if (changed) this.onState?.(t);
    if (!why) {
      t.reason = undefined;
      t.description = undefined;
    } else if (Array.isArray(why)) {
      t.reason = why[0];
      t.description = why[1];
    } else {
      const w = why as { reason: string; description: string };
      t.reason = w.reason;
      t.description = w.description;
    }
  }

  private stopChecks(): void {
    for (const t of this.targets.values()) {
      if (t.checkTimer) clearTimeout(t.checkTimer);
      t.checkTimer = undefined;
    }
  }

  private scheduleCheck(t: RegisteredTarget, delayMs: number): void {
    if (t.checkTimer) clearTimeout(t.checkTimer);
    t.checkTimer = undefined;
    if (this.stopped || !this.inUse || !this.targetGroup.healthCheck.enabled) return;
    if (t.state === 'draining') return;
    t.checkTimer = setTimeout(() => void this.check(t), delayMs);
    t.checkTimer.unref();
  }

  private async check(t: RegisteredTarget): Promise<void> {
    t.checkTimer = undefined;
    const started = Date.now();
    const result = await this.probe(t);
    if (this.stopped || !this.inUse) return;
    // A target deregistered or re-registered while its check was in flight keeps its new state.
    if (this.targets.get(TargetGroupRuntime.key(t.id, t.port)) !== t || t.state === 'draining') {
      return;
    }
    this.apply(t, result);
    const intervalMs = this.targetGroup.healthCheck.intervalSeconds * 1000 * this.timeScale;
    this.scheduleCheck(t, Math.max(0, intervalMs - (Date.now() - started)));
  }

  private apply(t: RegisteredTarget, result: CheckResult): void {
    const hc = this.targetGroup.healthCheck;
    if (result.ok) {
      t.failures = 0;
      t.passes += 1;
      if (t.state === 'healthy') return;
      if (t.passes >= hc.healthyThresholdCount) {
        this.setState(t, 'healthy');
      } else if (t.state === 'initial') {
        this.setState(t, 'initial', REASONS.initial);
      }
      return;
    }
    t.passes = 0;
    t.failures += 1;
    if (t.state === 'unhealthy') {
      this.setState(t, 'unhealthy', result);
    } else if (t.failures >= hc.unhealthyThresholdCount) {
      this.setState(t, 'unhealthy', result);
    } else if (t.state === 'initial') {
      this.setState(t, 'initial', REASONS.initial);
    }
  }

  private probe(t: RegisteredTarget): Promise<CheckResult> {
    const hc = this.targetGroup.healthCheck;
    const port = hc.port === 'traffic-port' ? t.port : Number(hc.port);
    const timeoutMs = hc.timeoutSeconds * 1000 * this.timeScale;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (r: CheckResult): void => {
        if (settled) return;
        settled = true;
        resolve(r);
      };
      const req = request(
        {
          host: targetHost(t.id),
          port,
          path: hc.path,
          method: 'GET',
          headers: { 'user-agent': 'ELB-HealthChecker/2.0', connection: 'close' },
          agent: false,
        },
        (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          if (matches(hc.matcher, status)) finish({ ok: true });
          else {
            finish({
              ok: false,
              reason: 'Target.ResponseCodeMismatch',
              description: `Health checks failed with these codes: [${status}]`,
            });
          }
        },
      );
      req.setTimeout(timeoutMs, () => {
        finish({ ok: false, reason: 'Target.Timeout', description: 'Request timed out' });
        req.destroy();
      });
      req.on('error', () =>
        finish({
          ok: false,
          reason: 'Target.FailedHealthChecks',
          description: 'Health checks failed',
        }),
      );
      req.end();
    });
  }
}

/**
 * Where a target lives. IP targets are reached at their IP; instance targets have no EC2 behind
 * them in the sandbox, so every instance is taken to run on this host (127.0.0.1).
 */
export function targetHost(id: string): string {
  return id.startsWith('i-') ? '127.0.0.1' : id;
}

/** Matcher HttpCode: "200", "200,202" or "200-299". */
export function matches(matcher: string, status: number): boolean {
  return matcher.split(',').some((part) => {
    const [lo, hi] = part.trim().split('-');
    const low = Number(lo);
    const high = hi === undefined ? low : Number(hi);
    return status >= low && status <= high;
  });
}
