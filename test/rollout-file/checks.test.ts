import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/common/errors.js';
import { parseChecks } from '../../src/rollout-file/index.js';

const SOURCE = 'input "checks"';

function problems(text: string): ConfigurationError {
  try {
    parseChecks(text, SOURCE);
  } catch (e) {
    if (e instanceof ConfigurationError) return e;
    throw e;
  }
  throw new Error('expected the checks to be rejected');
}

describe('parseChecks', () => {
  it('reads every kind of check, with defaults and unit conversions', () => {
    const text = `
- targetHealth:
- targetHealth: { minHealthy: 3, maxUnhealthy: 1 }
- cloudwatch: { metric: latency-p95, max: 0.5, min: 10ms, minRequests: 50 }
- cloudwatch: { metric: latency-avg, vsBaseline: { maxIncrease: 150ms, maxRatio: 1.5 } }
- cloudwatch: { metric: request-count, min: 100 }
- cloudwatch:
    queries:
      - Id: errors
        MetricStat:
          Metric:
            Namespace: AWS/ApplicationELB
            MetricName: HTTPCode_Target_5XX_Count
            Dimensions: [{ Name: TargetGroup, Value: "{{targetGroup}}" }]
          Stat: Sum
        ReturnData: false
      - Id: rate
        Expression: errors / 100
    returnId: rate
    max: -0.5
- prometheus:
    url: https://prometheus.example.com
    query: histogram_quantile(0.99, rate(http_seconds_bucket[{{interval}}]))
    min: 0
    bearerToken: abc
    headers: { X-Scope-OrgID: tenant-1 }
- http: { url: "http://127.0.0.1:8080/healthz?canary={{cluster}}", method: post, count: 10 }
`;
    expect(parseChecks(text, SOURCE)).toEqual([
      { kind: 'targetHealth', minHealthy: 1, maxUnhealthy: 0 },
      { kind: 'targetHealth', minHealthy: 3, maxUnhealthy: 1 },
      { kind: 'cloudwatch', metric: 'latency-p95', max: 0.5, min: 0.01, minRequests: 50 },
      {
        kind: 'cloudwatch',
        metric: 'latency-avg',
        vsBaseline: { maxIncrease: 0.15, maxRatio: 1.5 },
      },
      { kind: 'cloudwatch', metric: 'request-count', min: 100 },
      {
        kind: 'cloudwatch',
        queries: [
          {
            Id: 'errors',
            MetricStat: {
              Metric: {
                Namespace: 'AWS/ApplicationELB',
                MetricName: 'HTTPCode_Target_5XX_Count',
                Dimensions: [{ Name: 'TargetGroup', Value: '{{targetGroup}}' }],
              },
              Stat: 'Sum',
            },
            ReturnData: false,
          },
          { Id: 'rate', Expression: 'errors / 100' },
        ],
        returnId: 'rate',
        max: -0.5,
      },
      {
        kind: 'prometheus',
        url: 'https://prometheus.example.com',
        query: 'histogram_quantile(0.99, rate(http_seconds_bucket[{{interval}}]))',
        min: 0,
        bearerToken: 'abc',
        headers: { 'X-Scope-OrgID': 'tenant-1' },
      },
      {
        kind: 'http',
        url: 'http://127.0.0.1:8080/healthz?canary={{cluster}}',
        method: 'POST',
        headers: {},
        expectStatus: 200,
        count: 10,
        timeoutMs: 5_000,
        minSuccessRatio: 1,
      },
    ]);
  });

  it('reports positions in the input, named by sourceName', () => {
    const error = problems(
      '- targetHealth: {}\n- http: { url: "https://x.example.com", count: 500 }\n',
    );
    expect(error.diagnostics).toEqual([
      {
        file: SOURCE,
        line: 2,
        col: 48,
        message: 'checks[1].http.count must be an integer from 1 to 100, got 500.',
      },
    ]);
    expect(error.message).toBe(
      'Invalid checks in input "checks" (1 problem):\n' +
        '  input "checks":2:48: checks[1].http.count must be an integer from 1 to 100, got 500.',
    );
  });

  it('reports every problem at once', () => {
    const error = problems(
      [
        '- cloudwatch: { metric: p99, max: 1 }',
        '- prometheus: { url: prometheus:9090, query: up }',
        '- htp: { url: "https://x.example.com" }',
      ].join('\n'),
    );
    expect(error.diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`)).toEqual([
      '1:25 checks[0].cloudwatch.metric "p99" is not a built-in metric; use one of error-rate, latency-p99, latency-p95, latency-avg, request-count, or "queries" for your own metric.',
      '2:3 checks[1].prometheus compares nothing; set "max", "min" or both.',
      '2:22 checks[1].prometheus.url must be an http:// or https:// URL, got "prometheus:9090".',
      '3:3 Unknown check "htp" in checks[2]; did you mean "http"?',
    ]);
  });

  it('refuses vsBaseline on a custom query check, which only max and min judge', () => {
    const queries = '[{ Id: errors, Expression: "1" }]';
    const onlyBaseline = problems(
      `- cloudwatch: { queries: ${queries}, returnId: errors, vsBaseline: { maxRatio: 2 } }\n`,
    );
    // One problem, not also "compares nothing": the message already says what to set.
    expect(onlyBaseline.diagnostics).toEqual([
      {
        file: SOURCE,
        line: 1,
        col: 79,
        message:
          'checks[0].cloudwatch.vsBaseline only applies to a built-in "metric"; a check with "queries" compares the "returnId" value with "max" and/or "min". ' +
          'To compare with the baseline, write it into the queries (an Expression over {{baselineTargetGroup}}) and set "max".',
      },
    ]);
    const besideMax = problems(
      `- cloudwatch: { queries: ${queries}, returnId: errors, max: 1, vsBaseline: { maxRatio: 2 } }\n`,
    );
    expect(besideMax.diagnostics).toEqual([
      {
        file: SOURCE,
        line: 1,
        col: 87,
        message: expect.stringMatching(
          /^checks\[0\]\.cloudwatch\.vsBaseline only applies to a built-in "metric"/,
        ),
      },
    ]);
  });

  it('wants a list', () => {
    expect(problems('targetHealth: { minHealthy: 1 }').diagnostics).toEqual([
      {
        file: SOURCE,
        line: 1,
        col: 1,
        message:
          'checks must be a list of checks, e.g. "- targetHealth: { minHealthy: 1 }", got a map.',
      },
    ]);
  });

  it('refuses empty input rather than checking nothing', () => {
    expect(problems('  \n').diagnostics).toEqual([
      {
        file: SOURCE,
        line: 1,
        col: 1,
        message: 'No checks given; write a YAML list such as "- targetHealth: { minHealthy: 1 }".',
      },
    ]);
  });

  it('turns YAML syntax errors into positioned diagnostics', () => {
    const error = problems('- http: { url: "https://x.example.com"\n');
    expect(error.diagnostics.length).toBeGreaterThan(0);
    expect(error.diagnostics[0]).toMatchObject({
      file: SOURCE,
      message: expect.stringMatching(/^YAML syntax error: /),
    });
    expect(error.diagnostics[0]?.line).toBeGreaterThanOrEqual(1);
  });
});
