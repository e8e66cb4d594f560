/** A valid rollout file with real-looking ARNs; invalid cases are edits of it. */
export const ACCOUNT = '123456789012';
export const REGION = 'ap-northeast-1';

export function tgArn(name: string, id: string, region = REGION, account = ACCOUNT): string {
  return `arn:aws:elasticloadbalancing:${region}:${account}:targetgroup/${name}/${id}`;
}
export function listenerArn(region = REGION, account = ACCOUNT): string {
  return `arn:aws:elasticloadbalancing:${region}:${account}:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2`;
}
export function ruleArn(region = REGION, account = ACCOUNT): string {
  return `arn:aws:elasticloadbalancing:${region}:${account}:listener-rule/app/web-internal/6d0ecf831eec9f09/9683b2d02a6cabee/a1b2c3d4e5f60718`;
}

export const BLUE_TG = tgArn('web-blue', '0123456789abcdef');
export const GREEN_TG = tgArn('web-green', 'fedcba9876543210');

// Line numbers matter: the tests name positions in this text.
export const VALID = `version: 1
name: web
region: ap-northeast-1
clusters:
  blue:
    eks: prod-1-31
    targetGroup: ${BLUE_TG}
  green:
    eks: prod-1-32
    targetGroup: ${GREEN_TG}
routes:
  - listener: ${listenerArn()}
  - rule: ${ruleArn()}
weights: { blue: 90, green: 10 }
canary: green
steps: [10, 25, 50, 100]
owner: blue
analysis:
  warmup: 30s
  interval: 30s
  duration: 5m
  failureLimit: 0
  checks:
    - targetHealth: { minHealthy: 2 }
    - cloudwatch: { metric: error-rate, max: 0.01 }
    - cloudwatch: { metric: latency-p99, max: 800ms }
    - cloudwatch: { metric: error-rate, vsBaseline: { maxIncrease: 0.005 } }
    - prometheus: { url: http://prometheus:9090, query: 'sum(rate(http_errors{cluster="{{cluster}}"}[1m]))', max: 1 }
    - http: { url: https://web.example.com/healthz, headers: { X-Canary: "1" }, expectStatus: 200 }
`;

/**
 * VALID with each `from` (which must occur exactly once) replaced by `to`. Replacing one line
 * with one line keeps every other line number as in VALID.
 */
export function edit(...edits: [from: string, to: string][]): string {
  let text = VALID;
  for (const [from, to] of edits) {
    const count = text.split(from).length - 1;
    if (count !== 1) throw new Error(`fixture edit: "${from}" occurs ${count} times in VALID`);
    text = text.replace(from, () => to);
  }
  return text;
}
