import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/common/errors.js';
import {
  parseRolloutFile,
  readRolloutFile,
  type RolloutFile,
} from '../../src/rollout-file/index.js';
import { BLUE_TG, GREEN_TG, VALID, edit, listenerArn, ruleArn, tgArn } from './fixtures.js';

const FILE = 'rollouts/web.yaml';

/** The ConfigurationError parseRolloutFile throws for `text`. */
function problems(text: string): ConfigurationError {
  try {
    parseRolloutFile(text, FILE);
  } catch (e) {
    if (e instanceof ConfigurationError) return e;
    throw e;
  }
  throw new Error('expected the rollout file to be rejected');
}

function withoutLocate(file: RolloutFile): Omit<RolloutFile, 'locate'> {
  const { locate: _locate, ...data } = file;
  return data;
}

describe('parseRolloutFile: a valid file', () => {
  it('parses every key of the DESIGN.md example into the RolloutFile shape', () => {
    const file = parseRolloutFile(VALID, FILE);
    expect(withoutLocate(file)).toEqual({
      path: FILE,
      version: 1,
      name: 'web',
      region: 'ap-northeast-1',
      clusters: [
        { name: 'blue', eks: 'prod-1-31', targetGroup: BLUE_TG },
        { name: 'green', eks: 'prod-1-32', targetGroup: GREEN_TG },
      ],
      routes: [
        { kind: 'listener', arn: listenerArn() },
        { kind: 'rule', arn: ruleArn() },
      ],
      weights: { blue: 90, green: 10 },
      canary: 'green',
      steps: [10, 25, 50, 100],
      owner: 'blue',
      analysis: {
        warmupMs: 30_000,
        intervalMs: 30_000,
        durationMs: 300_000,
        failureLimit: 0,
        checks: [
          { kind: 'targetHealth', minHealthy: 2, maxUnhealthy: 0 },
          { kind: 'cloudwatch', metric: 'error-rate', max: 0.01 },
          { kind: 'cloudwatch', metric: 'latency-p99', max: 0.8 },
          { kind: 'cloudwatch', metric: 'error-rate', vsBaseline: { maxIncrease: 0.005 } },
          {
            kind: 'prometheus',
            url: 'http://prometheus:9090',
            query: 'sum(rate(http_errors{cluster="{{cluster}}"}[1m]))',
            max: 1,
            headers: {},
          },
          {
            kind: 'http',
            url: 'https://web.example.com/healthz',
            method: 'GET',
            headers: { 'X-Canary': '1' },
            expectStatus: 200,
            count: 1,
            timeoutMs: 5_000,
            minSuccessRatio: 1,
          },
        ],
      },
    });
  });

  it('reads failEarly: false (early failure is on unless turned off)', () => {
    const off = parseRolloutFile(
      VALID.replace('  failureLimit: 0', '  failureLimit: 0\n  failEarly: false'),
      FILE,
    );
    expect(off.analysis.failEarly).toBe(false);
    const on = parseRolloutFile(
      VALID.replace('  failureLimit: 0', '  failureLimit: 0\n  failEarly: true'),
      FILE,
    );
    expect(on.analysis.failEarly).toBeUndefined();
  });

  it('fills the analysis defaults when the file has no analysis', () => {
    const text = VALID.slice(0, VALID.indexOf('analysis:'));
    const file = parseRolloutFile(text, FILE);
    expect(file.analysis).toEqual({
      warmupMs: 0,
      intervalMs: 60_000,
      durationMs: 300_000,
      failureLimit: 0,
      checks: [{ kind: 'targetHealth', minHealthy: 1, maxUnhealthy: 0 }],
    });
  });

  it('accepts five clusters, block-style weights, comments and a zero weight', () => {
    const extra = ['c3', 'c4', 'c5'].map(
      (c, i) =>
        `  ${c}: { eks: prod-${c}, targetGroup: "${tgArn(`web-${c}`, `${i}`.repeat(16))}" }`,
    );
    const text = edit(
      [`    targetGroup: ${GREEN_TG}\n`, `    targetGroup: ${GREEN_TG}\n${extra.join('\n')}\n`],
      [
        'weights: { blue: 90, green: 10 }',
        '# percent of traffic\nweights:\n  blue: 70\n  green: 10\n  c3: 10\n  c4: 10\n  c5: 0',
      ],
    );
    const file = parseRolloutFile(text, FILE);
    expect(file.clusters.map((c) => c.name)).toEqual(['blue', 'green', 'c3', 'c4', 'c5']);
    expect(file.clusters[2]).toEqual({
      name: 'c3',
      eks: 'prod-c3',
      targetGroup: tgArn('web-c3', '0000000000000000'),
    });
    expect(file.weights).toEqual({ blue: 70, green: 10, c3: 10, c4: 10, c5: 0 });
  });

  it('resolves YAML anchors and aliases (shared headers)', () => {
    const text = edit([
      '    - targetHealth: { minHealthy: 2 }',
      '    - http: { url: "https://a.example.com/", headers: &probe { X-Probe: canary } }\n' +
        '    - http: { url: "https://b.example.com/", headers: *probe, method: head, count: 5, timeout: 1500ms, minSuccessRatio: 0.8, expectStatus: 204, bodyContains: ok }',
    ]);
    const checks = parseRolloutFile(text, FILE).analysis.checks;
    expect(checks[1]).toEqual({
      kind: 'http',
      url: 'https://b.example.com/',
      method: 'HEAD',
      headers: { 'X-Probe': 'canary' },
      expectStatus: 204,
      bodyContains: 'ok',
      count: 5,
      timeoutMs: 1_500,
      minSuccessRatio: 0.8,
    });
  });
});

type Row = [title: string, text: string, message: string, position: string];

const CHECK_LINE = '    - targetHealth: { minHealthy: 2 }';
/** VALID with its first check (line 24) replaced; `check` is the text after "    - ". */
const check = (text: string) => edit([CHECK_LINE, `    - ${text}`]);
const WEIGHTS_LINE = 'weights: { blue: 90, green: 10 }';

const INVALID: Row[] = [
  // YAML itself
  [
    'a YAML syntax error',
    edit(['  blue:\n    eks: prod-1-31', '  blue:\n    eks: prod-1-31\n   oops: 1']),
    'YAML syntax error: All mapping items must start at the same column.',
    '7:1',
  ],
  [
    'a key written twice',
    edit(['canary: green', 'canary: green\ncanary: blue']),
    'This key appears twice in the same map; keep one of them.',
    '16:1',
  ],
  ['an empty file', '# nothing yet\n', 'The rollout file is empty', '1:1'],
  [
    'a list at the top level',
    '- version: 1\n',
    'the rollout file must be a map of settings',
    '1:1',
  ],
  ['a second YAML document', `${VALID}---\nversion: 1\n`, 'This is a second YAML document', '30:1'],

  // keys
  [
    'a misspelt top-level key',
    edit([WEIGHTS_LINE, 'weigths: { blue: 90, green: 10 }']),
    'Unknown key "weigths" in the rollout file; did you mean "weights"?',
    '14:1',
  ],
  [
    'a misspelt cluster key',
    edit([`    targetGroup: ${GREEN_TG}`, `    targetgroup: ${GREEN_TG}`]),
    'Unknown key "targetgroup" in clusters.green; did you mean "targetGroup"?',
    '10:5',
  ],
  [
    'an unknown analysis key',
    edit(['  failureLimit: 0', '  colour: red']),
    'Unknown key "colour" in analysis; the keys allowed here are warmup, interval, duration, failureLimit, failEarly, checks.',
    '22:3',
  ],
  [
    'no version',
    edit(['version: 1\n', '# version: 1\n']),
    'Missing required key "version": the file format; write "version: 1".',
    '2:1',
  ],
  [
    'no steps',
    edit(['steps: [10, 25, 50, 100]', '# steps']),
    'Missing required key "steps"',
    '1:1',
  ],
  [
    'no owner',
    edit(['owner: blue', '# owner']),
    'Missing required key "owner": the cluster that runs CronJobs and singletons.',
    '1:1',
  ],
  [
    'no targetGroup in a cluster',
    edit([`    targetGroup: ${BLUE_TG}`, '    # no target group']),
    'Missing required key "targetGroup" in clusters.blue',
    '5:3',
  ],

  // version, name, region
  [
    'version 2',
    edit(['version: 1', 'version: 2']),
    'version 2 is not supported; this release reads version 1.',
    '1:10',
  ],
  [
    'version as a string',
    edit(['version: 1', 'version: "1"']),
    'version must be the number 1, got the string "1"; write the number without quotes.',
    '1:10',
  ],
  [
    'a name with capitals and underscores',
    edit(['name: web', 'name: Web_API']),
    'name "Web_API" must be up to 63 lowercase letters, digits and hyphens',
    '2:7',
  ],
  [
    'a region that is not a region name',
    edit(['region: ap-northeast-1', 'region: tokyo']),
    'region "tokyo" is not an AWS region name; write it like us-east-1 or ap-northeast-1.',
    '3:9',
  ],

  // clusters
  [
    'a single cluster',
    edit(
      ['  green:\n    eks: prod-1-32\n', '  # green:\n    # eks: prod-1-32\n'],
      [`    targetGroup: ${GREEN_TG}`, '    # targetGroup'],
    ),
    'clusters declares 1; a rollout needs at least 2',
    '4:1',
  ],
  [
    'six clusters',
    edit([
      `    targetGroup: ${GREEN_TG}\n`,
      `    targetGroup: ${GREEN_TG}\n${['c3', 'c4', 'c5', 'c6'].map((c, i) => `  ${c}: { eks: ${c}, targetGroup: "${tgArn(c, `${i}`.repeat(16))}" }`).join('\n')}\n`,
    ]),
    'clusters declares 6; an ALB forward action holds at most 5 target groups, so at most 5 clusters.',
    '14:3',
  ],
  [
    'a cluster name with capitals',
    edit(['  green:', '  Green:'], ['canary: green', 'canary: Green'], ['green: 10', 'Green: 10']),
    'Cluster name "Green" must be up to 63 lowercase letters',
    '8:3',
  ],
  [
    'an EKS name with a dot',
    edit(['eks: prod-1-32', 'eks: prod-1.32']),
    'clusters.green.eks "prod-1.32" is not a valid EKS cluster name: 1 to 100 letters, digits, hyphens and underscores',
    '9:10',
  ],
  [
    'an EKS name of 101 characters',
    edit(['eks: prod-1-32', `eks: ${'p'.repeat(101)}`]),
    'is not a valid EKS cluster name',
    '9:10',
  ],
  [
    'two clusters on one EKS cluster',
    edit(['eks: prod-1-32', 'eks: prod-1-31']),
    'clusters.green.eks "prod-1-31" is also the EKS cluster of "blue"',
    '9:10',
  ],
  // service and singletons (sync-apps)
  [
    'a service without a port',
    edit([
      `targetGroup: ${GREEN_TG}`,
      `targetGroup: ${GREEN_TG}\n    service: { namespace: web, name: web }`,
    ]),
    'Missing required key "port" in clusters.green.service',
    '11:5',
  ],
  [
    'a service port out of range',
    edit([
      `targetGroup: ${GREEN_TG}`,
      `targetGroup: ${GREEN_TG}\n    service: { namespace: web, name: web, port: 70000 }`,
    ]),
    'clusters.green.service.port must be an integer from 1 to 65535, got 70000.',
    '11:49',
  ],
  [
    'a service namespace Kubernetes refuses',
    edit([
      `targetGroup: ${GREEN_TG}`,
      `targetGroup: ${GREEN_TG}\n    service: { namespace: Web_NS, name: web, port: http }`,
    ]),
    'clusters.green.service.namespace "Web_NS" is not a namespace Kubernetes accepts',
    '11:27',
  ],
  [
    'a misspelt service key',
    edit([
      `targetGroup: ${GREEN_TG}`,
      `targetGroup: ${GREEN_TG}\n    service: { namespace: web, nmae: web, port: 80 }`,
    ]),
    'did you mean "name"?',
    '11:32',
  ],
  [
    'singletons as a list',
    edit(['owner: blue', 'owner: blue\nsingletons: [web]']),
    'singletons must be a map with namespaces (a list), selector',
    '18:13',
  ],
  [
    'an empty singleton namespace list',
    edit(['owner: blue', 'owner: blue\nsingletons:\n  namespaces: []']),
    'singletons.namespaces is empty',
    '19:15',
  ],
  [
    'a singleton selector value that is a list',
    edit([
      'owner: blue',
      'owner: blue\nsingletons:\n  selector: { app.kubernetes.io/singleton: [yes] }',
    ]),
    'singletons.selector.app.kubernetes.io/singleton must be a label value',
    '19:44',
  ],
  [
    'an empty singleton selector',
    edit(['owner: blue', 'owner: blue\nsingletons:\n  selector: {}']),
    'which would select every Deployment',
    '19:13',
  ],
  [
    'an activeJobs that is neither wait nor delete',
    edit(['owner: blue', 'owner: blue\nsingletons:\n  activeJobs: kill']),
    'singletons.activeJobs must be "wait" (a handoff waits for the old owner\'s running Jobs, up to drainTimeout) or "delete" (it deletes them), got "kill".',
    '19:15',
  ],
  [
    'a drainTimeout that is not a duration',
    edit(['owner: blue', 'owner: blue\nsingletons:\n  drainTimeout: soon']),
    'singletons.drainTimeout',
    '19:17',
  ],
  [
    'a target group that is not an ARN',
    edit([`targetGroup: ${GREEN_TG}`, 'targetGroup: web-green']),
    'clusters.green.targetGroup: "web-green" is not an Elastic Load Balancing ARN; expected arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<16 hex>.',
    '10:18',
  ],
  [
    'a listener ARN as a target group',
    edit([`targetGroup: ${GREEN_TG}`, `targetGroup: ${listenerArn()}`]),
    'is a listener ARN; expected arn:aws:elasticloadbalancing:<region>:<account>:targetgroup',
    '10:18',
  ],
  [
    'a target group in another region',
    edit([
      `targetGroup: ${GREEN_TG}`,
      `targetGroup: ${tgArn('web-green', 'fedcba9876543210', 'us-east-1')}`,
    ]),
    "clusters.green.targetGroup is in region us-east-1, but the file's region is ap-northeast-1",
    '10:18',
  ],
  [
    'a target group used by two clusters',
    edit([`targetGroup: ${GREEN_TG}`, `targetGroup: ${BLUE_TG}`]),
    'clusters.green.targetGroup is the target group of cluster "blue" too (line 7); each cluster needs its own target group.',
    '10:18',
  ],
  [
    'a target group in another account',
    edit([
      `targetGroup: ${GREEN_TG}`,
      `targetGroup: ${tgArn('web-green', 'fedcba9876543210', 'ap-northeast-1', '210987654321')}`,
    ]),
    'clusters.green.targetGroup is in account 210987654321, but cluster "blue"\'s target group is in account 123456789012; an ALB can only forward to target groups in its own account.',
    '10:18',
  ],

  // routes
  [
    'no routes',
    edit([`routes:\n  - listener: ${listenerArn()}\n  - rule: ${ruleArn()}`, 'routes: []\n#\n#']),
    'routes is empty; list at least one "- listener: <ARN>" or "- rule: <ARN>".',
    '11:9',
  ],
  [
    'a route with both listener and rule',
    edit([
      `  - rule: ${ruleArn()}`,
      `  - { listener: ${listenerArn('ap-northeast-1', '111111111111')}, rule: x }`,
    ]),
    'routes[1] has both listener and rule',
    '13:126',
  ],
  [
    'a route that is a bare ARN',
    edit([`  - rule: ${ruleArn()}`, `  - ${ruleArn()}`]),
    `routes[1] must say what the ARN is; write "- rule: ${ruleArn()}".`,
    '13:5',
  ],
  [
    'a misspelt route key',
    edit([`  - listener: ${listenerArn()}`, `  - listner: ${listenerArn()}`]),
    'Unknown key "listner" in routes[0]; did you mean "listener"?',
    '12:5',
  ],
  [
    'a listener rule under listener:',
    edit([
      `  - listener: ${listenerArn()}`,
      `  - listener: ${ruleArn().replace('web-internal', 'web')}`,
    ]),
    'is a listener-rule ARN; expected arn:aws:elasticloadbalancing:<region>:<account>:listener/app/<lb-name>/<16 hex>/<16 hex>; for a listener rule write "rule:".',
    '12:15',
  ],
  [
    'a route in another region',
    edit([`  - rule: ${ruleArn()}`, `  - rule: ${ruleArn('eu-west-1')}`]),
    "routes[1].rule is in region eu-west-1, but the file's region is ap-northeast-1",
    '13:11',
  ],
  [
    'a route listed twice',
    edit([`  - rule: ${ruleArn()}`, `  - listener: ${listenerArn()}`]),
    'routes[1] repeats routes[0].listener (line 12); list each route once.',
    '13:15',
  ],
  [
    'a route in another account',
    edit([`  - rule: ${ruleArn()}`, `  - rule: ${ruleArn('ap-northeast-1', '999999999999')}`]),
    'routes[1].rule is in account 999999999999, but the target groups are in account 123456789012; an ALB can only forward to target groups in its own account.',
    '13:11',
  ],

  // weights
  [
    'a fractional weight',
    edit([WEIGHTS_LINE, 'weights: { blue: 87.5, green: 12.5 }']),
    'weights.blue must be an integer from 0 to 100, got 87.5.',
    '14:18',
  ],
  [
    'a weight written as a string',
    edit([WEIGHTS_LINE, 'weights: { blue: 90, green: "10" }']),
    'weights.green must be an integer from 0 to 100, got the string "10"; write the number without quotes.',
    '14:29',
  ],
  [
    'a weight above 100',
    edit([WEIGHTS_LINE, 'weights: { blue: -20, green: 120 }']),
    'weights.green must be an integer from 0 to 100, got 120.',
    '14:30',
  ],
  [
    'weights that sum to 95',
    edit([WEIGHTS_LINE, 'weights: { blue: 85, green: 10 }']),
    'weights sum to 95; they are percents of the traffic and must sum to 100.',
    '14:1',
  ],
  [
    'a weight for an undeclared cluster',
    edit([WEIGHTS_LINE, 'weights: { blue: 90, green: 10, grean: 0 }']),
    'weights has "grean", which is not a declared cluster; did you mean "green"?',
    '14:33',
  ],
  [
    'a cluster without a weight',
    edit([WEIGHTS_LINE, 'weights: { blue: 100 }']),
    'weights has no entry for cluster "green"; give every cluster a weight (0 sends it no traffic).',
    '14:1',
  ],
  [
    'weights as a list',
    edit([WEIGHTS_LINE, 'weights: [90, 10]']),
    'weights must be a map of cluster names to integer percents, e.g. { blue: 90, green: 10 }, got a list.',
    '14:10',
  ],

  // canary, owner, steps
  [
    'a canary that is not a cluster',
    edit(['canary: green', 'canary: gren']),
    'canary "gren" is not a declared cluster; did you mean "green"?',
    '15:9',
  ],
  [
    'an owner that is not a cluster',
    edit(['owner: blue', 'owner: red']),
    'owner "red" is not a declared cluster; the clusters are blue, green.',
    '17:8',
  ],
  [
    'empty steps',
    edit(['steps: [10, 25, 50, 100]', 'steps: []']),
    'steps is empty; list the canary weights to move through',
    '16:8',
  ],
  [
    'steps out of order',
    edit(['steps: [10, 25, 50, 100]', 'steps: [10, 50, 25, 100]']),
    'steps[2] is 25, not above steps[1] (50); steps are canary weights in increasing order.',
    '16:17',
  ],
  [
    'a repeated step',
    edit(['steps: [10, 25, 50, 100]', 'steps: [10, 25, 25, 100]']),
    'steps[2] is 25, not above steps[1] (25)',
    '16:17',
  ],
  [
    'a step above 100',
    edit(['steps: [10, 25, 50, 100]', 'steps: [10, 25, 50, 150]']),
    'steps[3] must be an integer from 0 to 100, got 150.',
    '16:21',
  ],

  // analysis
  [
    'a duration without a unit word',
    edit(['  warmup: 30s', '  warmup: 30 sec']),
    'analysis.warmup must be a duration like 30s, 5m, 1m30s or 500ms, got "30 sec".',
    '19:11',
  ],
  [
    'a bare number as a duration',
    edit(['  interval: 30s', '  interval: 30']),
    'analysis.interval is the bare number 30; give the unit, e.g. 30s or 30ms.',
    '20:13',
  ],
  [
    'a zero interval',
    edit(['  interval: 30s', '  interval: 0s']),
    'analysis.interval must be longer than 0, got "0s".',
    '20:13',
  ],
  [
    'a duration shorter than warmup plus one interval',
    edit(['  duration: 5m', '  duration: 45s']),
    'analysis.duration (45s) is shorter than warmup (30s) + one interval (30s); the bake time counts from the shift and must hold the warmup and at least one measurement.',
    '21:13',
  ],
  [
    'an interval longer than the duration, with the default warmup (0s)',
    edit(
      ['  warmup: 30s\n', '  # default warmup\n'],
      ['  duration: 5m', '  duration: 1m'],
      ['  interval: 30s', '  interval: 2m'],
    ),
    'analysis.duration (1m) is shorter than warmup (0s) + one interval (2m)',
    '21:13',
  ],
  [
    'failEarly written as yes',
    edit(['  failureLimit: 0', '  failureLimit: 0\n  failEarly: yes']),
    'analysis.failEarly must be true or false, got "yes".',
    '23:14',
  ],
  [
    'a negative failureLimit',
    edit(['  failureLimit: 0', '  failureLimit: -1']),
    'analysis.failureLimit must be a non-negative integer, got -1.',
    '22:17',
  ],
  [
    'empty checks',
    VALID.slice(0, VALID.indexOf('  checks:')) + '  checks: []\n',
    'analysis.checks is empty; list at least one check.',
    '23:11',
  ],

  // checks
  [
    'a check naming two kinds',
    check('{ targetHealth: {}, http: { url: "https://x.example.com" } }'),
    'analysis.checks[0] names two checks (targetHealth and http); start each check with its own "-".',
    '24:27',
  ],
  [
    'an interval that is no CloudWatch period, with cloudwatch checks',
    edit(['  interval: 30s', '  interval: 45s']),
    'analysis.interval (45s) must be 1s, 5s, 10s, 20s, 30s or a whole number of minutes with cloudwatch checks',
    '20:13',
  ],
  [
    'a misspelt check kind',
    check('targetHeath: {}'),
    'Unknown check "targetHeath" in analysis.checks[0]; did you mean "targetHealth"?',
    '24:7',
  ],
  [
    'a check setting without its kind',
    check('metric: error-rate'),
    'Unknown check "metric" in analysis.checks[0]; "metric" is a setting of cloudwatch: write "- cloudwatch: { metric: ... }".',
    '24:7',
  ],
  [
    'a check kind without a map',
    check('targetHealth'),
    'analysis.checks[0] must be a map; write "- targetHealth: {}" to use its defaults.',
    '24:7',
  ],
  [
    'a negative minHealthy',
    check('targetHealth: { minHealthy: -1 }'),
    'analysis.checks[0].targetHealth.minHealthy must be a non-negative integer, got -1.',
    '24:35',
  ],
  [
    'an unknown targetHealth setting',
    check('targetHealth: { minHealty: 1 }'),
    'Unknown key "minHealty" in analysis.checks[0].targetHealth; did you mean "minHealthy"?',
    '24:23',
  ],
  [
    'an unknown CloudWatch metric',
    check('cloudwatch: { metric: error_rate, max: 0.01 }'),
    'analysis.checks[0].cloudwatch.metric "error_rate" is not a built-in metric; did you mean "error-rate"?',
    '24:29',
  ],
  [
    'a CloudWatch check that compares nothing',
    check('cloudwatch: { metric: error-rate }'),
    'analysis.checks[0].cloudwatch compares nothing; set "max", "min" or "vsBaseline".',
    '24:7',
  ],
  [
    'a CloudWatch check with neither metric nor queries',
    check('cloudwatch: { max: 1 }'),
    'analysis.checks[0].cloudwatch needs "metric" (one of error-rate, latency-p99, latency-p95, latency-avg, request-count) or "queries" with "returnId".',
    '24:7',
  ],
  [
    'an error-rate above 1',
    check('cloudwatch: { metric: error-rate, max: 5 }'),
    'analysis.checks[0].cloudwatch.max must be a fraction from 0 to 1 (0.01 is 1%), got 5.',
    '24:46',
  ],
  [
    'a latency as a bare large number',
    check('cloudwatch: { metric: latency-p99, max: 800 }'),
    'analysis.checks[0].cloudwatch.max is 800 seconds (a bare number is seconds); write 800ms if you meant milliseconds',
    '24:47',
  ],
  [
    'a latency that is not a duration',
    check('cloudwatch: { metric: latency-p95, max: fast }'),
    'analysis.checks[0].cloudwatch.max must be a duration like 30s, 5m, 1m30s or 500ms, got "fast".',
    '24:47',
  ],
  [
    'a latency duration on error-rate',
    check('cloudwatch: { metric: error-rate, max: 800ms }'),
    'analysis.checks[0].cloudwatch.max must be a fraction from 0 to 1 (0.01 is 1%), got "800ms".',
    '24:46',
  ],
  [
    'min above max',
    check('cloudwatch: { metric: request-count, min: 100, max: 10 }'),
    'analysis.checks[0].cloudwatch has min 100 above max 10; no value could pass.',
    '24:49',
  ],
  [
    'an empty vsBaseline',
    check('cloudwatch: { metric: error-rate, vsBaseline: {} }'),
    'analysis.checks[0].cloudwatch.vsBaseline is empty; set "maxIncrease" (canary minus baseline) or "maxRatio" (canary / baseline).',
    '24:53',
  ],
  [
    'a vsBaseline ratio of 0',
    check('cloudwatch: { metric: latency-avg, vsBaseline: { maxRatio: 0 } }'),
    'analysis.checks[0].cloudwatch.vsBaseline.maxRatio must be above 0',
    '24:66',
  ],
  [
    'a fractional minRequests',
    check('cloudwatch: { metric: error-rate, max: 0.01, minRequests: 1.5 }'),
    'analysis.checks[0].cloudwatch.minRequests must be a non-negative integer, got 1.5.',
    '24:65',
  ],
  [
    'both metric and queries',
    check('cloudwatch: { metric: error-rate, queries: [], max: 1 }'),
    'analysis.checks[0].cloudwatch has both "metric" and "queries"',
    '24:41',
  ],
  [
    'queries without returnId',
    check('cloudwatch: { queries: [{ Id: errors, Expression: "1" }], max: 1 }'),
    'Missing required key "returnId" in analysis.checks[0].cloudwatch: the Id of the query whose value is compared.',
    '24:7',
  ],
  [
    'a returnId that names no query',
    check('cloudwatch: { queries: [{ Id: errors, Expression: "1" }], returnId: error, max: 1 }'),
    'analysis.checks[0].cloudwatch.returnId "error" is not the Id of any query; did you mean "errors"?',
    '24:75',
  ],
  [
    'a custom query check compared with the baseline',
    check(
      'cloudwatch: { queries: [{ Id: errors, Expression: "1" }], returnId: errors, vsBaseline: { maxIncrease: 1 } }',
    ),
    'analysis.checks[0].cloudwatch.vsBaseline only applies to a built-in "metric"; a check with "queries" compares the "returnId" value with "max" and/or "min".',
    '24:83',
  ],
  [
    'a custom query check that compares nothing',
    check('cloudwatch: { queries: [{ Id: errors, Expression: "1" }], returnId: errors }'),
    'analysis.checks[0].cloudwatch compares nothing; set "max", "min" or both.',
    '24:7',
  ],
  [
    'a query Id CloudWatch refuses',
    check('cloudwatch: { queries: [{ Id: Errors, Expression: "1" }], returnId: Errors, max: 1 }'),
    'analysis.checks[0].cloudwatch.queries[0].Id "Errors" must start with a lowercase letter',
    '24:37',
  ],
  [
    'a query with neither MetricStat nor Expression',
    check('cloudwatch: { queries: [{ Id: e1 }], returnId: e1, max: 1 }'),
    'analysis.checks[0].cloudwatch.queries[0] must have exactly one of "MetricStat" and "Expression".',
    '24:31',
  ],
  [
    'a Prometheus check without a query',
    check('prometheus: { url: "http://prometheus:9090", max: 1 }'),
    'Missing required key "query" in analysis.checks[0].prometheus: the PromQL query whose value is compared.',
    '24:7',
  ],
  [
    'a Prometheus URL that is not http',
    check('prometheus: { url: "ftp://prometheus", query: up, max: 1 }'),
    'analysis.checks[0].prometheus.url must be an http:// or https:// URL, got "ftp://prometheus".',
    '24:26',
  ],
  [
    'a Prometheus check that compares nothing',
    check('prometheus: { url: "http://prometheus:9090", query: up }'),
    'analysis.checks[0].prometheus compares nothing; set "max", "min" or both.',
    '24:7',
  ],
  [
    'a header value that is a number',
    check('http: { url: "https://web.example.com/", headers: { X-Canary: 1 } }'),
    'analysis.checks[0].http.headers.X-Canary must be a string, got 1; quote it: X-Canary: "1".',
    '24:69',
  ],
  [
    'an expectStatus outside 100-599',
    check('http: { url: "https://web.example.com/", expectStatus: 700 }'),
    'analysis.checks[0].http.expectStatus must be an integer from 100 to 599, got 700.',
    '24:62',
  ],
  [
    'an http count of 0',
    check('http: { url: "https://web.example.com/", count: 0 }'),
    'analysis.checks[0].http.count must be an integer from 1 to 100, got 0.',
    '24:55',
  ],
  [
    'an http timeout of 0',
    check('http: { url: "https://web.example.com/", timeout: 0s }'),
    'analysis.checks[0].http.timeout must be longer than 0, got "0s".',
    '24:57',
  ],
  [
    'a minSuccessRatio above 1',
    check('http: { url: "https://web.example.com/", minSuccessRatio: 1.5 }'),
    'analysis.checks[0].http.minSuccessRatio must be a number from 0 to 1 (0.9 is 90%), got 1.5.',
    '24:65',
  ],
  [
    'an unknown http method',
    check('http: { url: "https://web.example.com/", method: FETCH }'),
    'analysis.checks[0].http.method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, got "FETCH".',
    '24:56',
  ],
  [
    'an http check without a url',
    check('http: { expectStatus: 200 }'),
    'Missing required key "url" in analysis.checks[0].http: the address to probe',
    '24:7',
  ],
];

describe('parseRolloutFile: service and singletons', () => {
  it("reads a cluster's service and the singletons", () => {
    const file = parseRolloutFile(
      edit(
        [
          `targetGroup: ${GREEN_TG}`,
          `targetGroup: ${GREEN_TG}\n    service: { namespace: web, name: web, port: http }`,
        ],
        [
          'owner: blue',
          'owner: blue\nsingletons:\n  namespaces: [web, jobs]\n  selector: { app.kubernetes.io/singleton: "true", tier: 1 }',
        ],
      ),
      FILE,
    );
    expect(file.clusters[0]).toEqual({ name: 'blue', eks: 'prod-1-31', targetGroup: BLUE_TG });
    expect(file.clusters[1]?.service).toEqual({ namespace: 'web', name: 'web', port: 'http' });
    expect(file.singletons).toEqual({
      namespaces: ['web', 'jobs'],
      selector: { 'app.kubernetes.io/singleton': 'true', tier: '1' },
    });
  });
});

describe('parseRolloutFile: invalid files', () => {
  it.each(INVALID)('%s', (_title, text, message, position) => {
    const error = problems(text);
    const [line, col] = position.split(':').map(Number);
    expect(error.diagnostics).toContainEqual({
      file: FILE,
      line,
      col,
      message: expect.stringContaining(message),
    });
    expect(error.message).toContain(`${FILE}:${position}: `);
  });

  it('covers at least 30 distinct problems', () => {
    expect(new Set(INVALID.map((row) => row[0])).size).toBe(INVALID.length);
    expect(INVALID.length).toBeGreaterThanOrEqual(30);
  });

  it('reports every problem of one file at once, in file order', () => {
    const text = edit(
      ['version: 1', 'version: 3'],
      ['region: ap-northeast-1', 'regoin: ap-northeast-1'],
      [WEIGHTS_LINE, 'weights: { blue: 90, green: 12.5 }'],
      ['owner: blue', 'owner: purple'],
      ['  interval: 30s', '  interval: soon'],
    );
    const error = problems(text);
    expect(error.diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`)).toEqual([
      '1:10 version 3 is not supported; this release reads version 1.',
      '3:1 Unknown key "regoin" in the rollout file; did you mean "region"?',
      '14:29 weights.green must be an integer from 0 to 100, got 12.5.',
      '17:8 owner "purple" is not a declared cluster; the clusters are blue, green.',
      '20:13 analysis.interval must be a duration like 30s, 5m, 1m30s or 500ms, got "soon".',
    ]);
    expect(error.message).toBe(
      [
        `Invalid rollout file in ${FILE} (5 problems):`,
        `  ${FILE}:1:10: version 3 is not supported; this release reads version 1.`,
        `  ${FILE}:3:1: Unknown key "regoin" in the rollout file; did you mean "region"?`,
        `  ${FILE}:14:29: weights.green must be an integer from 0 to 100, got 12.5.`,
        `  ${FILE}:17:8: owner "purple" is not a declared cluster; the clusters are blue, green.`,
        `  ${FILE}:20:13: analysis.interval must be a duration like 30s, 5m, 1m30s or 500ms, got "soon".`,
      ].join('\n'),
    );
  });

  it('reports a misspelt key once, not also as a missing or empty value', () => {
    const route = problems(
      edit([`  - listener: ${listenerArn()}`, `  - listner: ${listenerArn()}`]),
    );
    expect(route.diagnostics.map((d) => d.message)).toEqual([
      'Unknown key "listner" in routes[0]; did you mean "listener"?',
    ]);
    const topLevel = problems(edit([WEIGHTS_LINE, WEIGHTS_LINE.replace('weights', 'weigths')]));
    expect(topLevel.diagnostics.map((d) => d.message)).toEqual([
      'Unknown key "weigths" in the rollout file; did you mean "weights"?',
    ]);
    const baseline = problems(
      check('cloudwatch: { metric: error-rate, vsBaseline: { maxIncrese: 0.1 } }'),
    );
    expect(baseline.diagnostics.map((d) => d.message)).toEqual([
      'Unknown key "maxIncrese" in analysis.checks[0].cloudwatch.vsBaseline; did you mean "maxIncrease"?',
    ]);
  });

  it('reports only the YAML errors when the YAML does not parse, since the tree is a guess', () => {
    const error = problems(edit(['steps: [10, 25, 50, 100]', 'steps: [10, 25']));
    expect(error.diagnostics.length).toBeGreaterThan(0);
    expect(error.diagnostics.every((d) => d.message.startsWith('YAML syntax error'))).toBe(true);
    expect(error.diagnostics[0]).toMatchObject({ file: FILE, line: 17 });
  });
});

describe('RolloutFile.locate', () => {
  const file = parseRolloutFile(VALID, FILE);

  it('points at a scalar value', () => {
    expect(file.locate(['weights', 'green'])).toEqual({ line: 14, col: 29 });
    expect(file.locate(['clusters', 'green', 'targetGroup'])).toEqual({ line: 10, col: 18 });
    expect(file.locate(['routes', 1, 'rule'])).toEqual({ line: 13, col: 11 });
    expect(file.locate(['steps', 2])).toEqual({ line: 16, col: 17 });
  });

  it('points at the key of a map or list', () => {
    expect(file.locate(['clusters', 'blue'])).toEqual({ line: 5, col: 3 });
    expect(file.locate(['analysis', 'checks'])).toEqual({ line: 23, col: 3 });
  });

  it('points at a list item', () => {
    expect(file.locate(['analysis', 'checks', 1])).toEqual({ line: 25, col: 7 });
  });

  it('falls back to the nearest existing parent, then to 1:1', () => {
    expect(file.locate(['weights', 'purple'])).toEqual({ line: 14, col: 1 });
    expect(file.locate(['routes', 7, 'rule'])).toEqual({ line: 11, col: 1 });
    expect(file.locate(['nothing', 'here'])).toEqual({ line: 1, col: 1 });
    expect(file.locate([])).toEqual({ line: 1, col: 1 });
  });
});

describe('readRolloutFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollout-file-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads and parses the file, naming it by the path given', async () => {
    const path = join(dir, 'web.yaml');
    await writeFile(path, VALID);
    const file = await readRolloutFile(path);
    expect(file.path).toBe(path);
    expect(file.weights).toEqual({ blue: 90, green: 10 });
  });

  it('reports problems against the path given', async () => {
    const path = join(dir, 'bad.yaml');
    await writeFile(path, edit(['canary: green', 'canary: gren']));
    await expect(readRolloutFile(path)).rejects.toMatchObject({
      diagnostics: [{ file: path, line: 15, col: 9 }],
    });
  });

  it('names a missing file', async () => {
    const path = join(dir, 'missing.yaml');
    const error = await readRolloutFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toBe(
      `Rollout file "${path}" does not exist; check the path (it is relative to the working directory, normally the repository root).`,
    );
  });

  it('refuses a directory', async () => {
    await expect(readRolloutFile(dir)).rejects.toThrow(`Rollout file "${dir}" is a directory`);
  });
});
