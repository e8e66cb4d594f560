import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AssumeRoleCommand,
  GetCallerIdentityCommand,
  GetSessionTokenCommand,
  STSClient,
} from '@aws-sdk/client-sts';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { EKSClient, ListClustersCommand } from '@aws-sdk/client-eks';
import { parseFault, startSandbox, type Sandbox } from '../../sandbox/index.js';

let sandbox: Sandbox;
const clients: { destroy(): void }[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ accountId: '210987654321', eksTransitionMs: 50 });
});

afterEach(async () => {
  await control('DELETE', '/_sandbox/faults');
  await control('POST', '/_sandbox/calls/reset');
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await sandbox.close();
});

function clientConfig(maxAttempts?: number) {
  return {
    endpoint: sandbox.endpoint,
    region: sandbox.region,
    credentials: {
      accessKeyId: sandbox.env.AWS_ACCESS_KEY_ID as string,
      secretAccessKey: sandbox.env.AWS_SECRET_ACCESS_KEY as string,
    },
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
  };
}

function sts(maxAttempts?: number): STSClient {
  const c = new STSClient(clientConfig(maxAttempts));
  clients.push(c);
  return c;
}

async function control(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${sandbox.endpoint}${path}`, {
    method,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
      : {}),
  });
  expect(res.status).toBe(200);
  return res.json();
}

async function failure(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    const err = e as Error & { $metadata: { httpStatusCode?: number; attempts?: number } };
    return {
      name: err.name,
      status: err.$metadata.httpStatusCode,
      attempts: err.$metadata.attempts,
    };
  }
  throw new Error('expected the call to fail');
}

describe('startSandbox', () => {
  it('hands a child process an environment in which the plain AWS SDK reaches the sandbox', async () => {
    expect(sandbox.env).toEqual({
      AWS_ENDPOINT_URL: sandbox.endpoint,
      AWS_ACCESS_KEY_ID: expect.stringMatching(/^AKIA/),
      AWS_SECRET_ACCESS_KEY: expect.any(String),
      AWS_REGION: 'ap-northeast-1',
      AWS_DEFAULT_REGION: 'ap-northeast-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    const script =
      "import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';" +
      'const out = await new STSClient({}).send(new GetCallerIdentityCommand({}));' +
      'console.log(out.Account);';
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', script],
      { env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', ...sandbox.env } },
    );
    expect(stdout.trim()).toBe('210987654321');
  });
});

describe('npm run sandbox (scripts/run-ts.mjs sandbox/cli.ts)', () => {
  it('prints the export lines, serves requests, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['scripts/run-ts.mjs', 'sandbox/cli.ts', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    try {
      const endpoint = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', () => {
          const m = /^export AWS_ENDPOINT_URL=(\S+)$/m.exec(stdout);
          if (m && stdout.includes('Ctrl-C stops')) resolve(m[1] as string);
        });
        child.on('exit', (code) => reject(new Error(`cli exited with ${code}: ${stdout}`)));
      });
      expect(stdout).toContain('export AWS_REGION=ap-northeast-1');
      expect(stdout).toContain('export AWS_EC2_METADATA_DISABLED=true');
      const calls = await fetch(`${endpoint}/_sandbox/calls`);
      expect(await calls.json()).toEqual({});
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});

describe('STS', () => {
  it('GetCallerIdentity answers with the sandbox account and user', async () => {
    const out = await sts().send(new GetCallerIdentityCommand({}));
    expect(out).toMatchObject({
      Account: '210987654321',
      Arn: 'arn:aws:iam::210987654321:user/sandbox',
      UserId: expect.stringMatching(/^AIDA[A-Z0-9]{16,}$/),
    });
  });

  it('answers InvalidAction for an operation the sandbox does not implement', async () => {
    const err = await failure(
      sts().send(
        new AssumeRoleCommand({
          RoleArn: 'arn:aws:iam::210987654321:role/x',
          RoleSessionName: 's',
        }),
      ),
    );
    expect(err).toMatchObject({ name: 'InvalidAction', status: 400 });
  });

  it('answers InvalidParameterValue for an unknown API version', async () => {
    const res = await fetch(sandbox.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIA/20260101/ap-northeast-1/sts/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: 'Action=GetCallerIdentity&Version=2099-01-01',
    });
    expect(res.status).toBe(400);
    const xml = await res.text();
    expect(xml).toContain('<Code>InvalidParameterValue</Code>');
    expect(xml).toContain('<Type>Sender</Type>');
  });
});

describe('fault injection through the control API', () => {
  it('throttles N times, the SDK retries and succeeds, and the call count shows every attempt', async () => {
    await control('POST', '/_sandbox/faults', {
      service: 'sts',
      operation: 'GetCallerIdentity',
      kind: 'throttle',
      times: 2,
    });
    const out = await sts().send(new GetCallerIdentityCommand({}));
    expect(out.Account).toBe('210987654321');
    expect(out.$metadata.attempts).toBe(3);
    expect(await control('GET', '/_sandbox/calls')).toEqual({ 'sts:GetCallerIdentity': 3 });
  });

  it('throttles each protocol with its own error code', async () => {
    await control('POST', '/_sandbox/faults', { service: 'eks', operation: '*', kind: 'throttle' });
    await control('POST', '/_sandbox/faults', {
      service: 'monitoring',
      operation: '*',
      kind: 'throttle',
    });
    const eks = new EKSClient(clientConfig(1));
    const cw = new CloudWatchClient(clientConfig(1));
    clients.push(eks, cw);
    expect(await failure(eks.send(new ListClustersCommand({})))).toEqual({
      name: 'ThrottlingException',
      status: 429,
      attempts: 1,
    });
    const now = Date.now();
    const cwErr = await failure(
      cw.send(
        new GetMetricDataCommand({
          MetricDataQueries: [{ Id: 'e', Expression: 'x' }],
          StartTime: new Date(now - 60_000),
          EndTime: new Date(now),
        }),
      ),
    );
    expect(cwErr).toEqual({ name: 'Throttling', status: 400, attempts: 1 });
  });

  it('answers 500 InternalFailure for error5xx, which the SDK retries', async () => {
    await control('POST', '/_sandbox/faults', {
      service: 'sts',
      operation: 'GetCallerIdentity',
      kind: 'error5xx',
      times: 1,
    });
    const recovered = await sts().send(new GetCallerIdentityCommand({}));
    expect(recovered.$metadata.attempts).toBe(2);

    await control('POST', '/_sandbox/faults', {
      service: 'sts',
      operation: 'GetCallerIdentity',
      kind: 'error5xx',
      times: 1,
    });
    expect(await failure(sts(1).send(new GetCallerIdentityCommand({})))).toEqual({
      name: 'InternalFailure',
      status: 500,
      attempts: 1,
    });
  });

  it('delays answers by latencyMs', async () => {
    await control('POST', '/_sandbox/faults', {
      service: 'sts',
      operation: '*',
      kind: 'latency',
      latencyMs: 300,
      times: 1,
    });
    const started = performance.now();
    await sts().send(new GetCallerIdentityCommand({}));
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('throttles calls beyond ratePerSecond', async () => {
    await control('POST', '/_sandbox/faults', {
      service: 'sts',
      operation: 'GetCallerIdentity',
      kind: 'rateLimit',
      ratePerSecond: 2,
    });
    const client = sts(1);
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => client.send(new GetCallerIdentityCommand({}))),
    );
    const outcome = results.map((r) =>
      r.status === 'fulfilled' ? 'ok' : (r.reason as Error).name,
    );
    expect(outcome.filter((o) => o === 'ok')).toHaveLength(2);
    expect(outcome.filter((o) => o === 'Throttling')).toHaveLength(3);
  });

  it('rateLimit is a token bucket: a burst, then ratePerSecond, and a throttled call takes no token', async () => {
    await control('POST', '/_sandbox/faults', {
      service: 'sts',
      operation: 'GetCallerIdentity',
      kind: 'rateLimit',
      ratePerSecond: 4,
      burst: 3,
    });
    const client = sts(1);
    const outcome = async (n: number) =>
      (
        await Promise.allSettled(
          Array.from({ length: n }, () => client.send(new GetCallerIdentityCommand({}))),
        )
      ).map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as Error).name));
    const first = await outcome(5);
    expect(first.filter((o) => o === 'ok')).toHaveLength(3);
    expect(first.filter((o) => o === 'Throttling')).toHaveLength(2);
    // 0.6 s later the bucket has 2 tokens again (4/s), though 5 calls came within the last
    // second: a bucket, not a window of the last second.
    await new Promise((r) => setTimeout(r, 600));
    const second = await outcome(3);
    expect(second.filter((o) => o === 'ok')).toHaveLength(2);
  });

  it('operations listed in one rateLimit share its bucket, and a call takes a token from every bucket it is in', async () => {
    await control('POST', '/_sandbox/faults', {
      service: 'sts',
      operation: 'GetCallerIdentity',
      operations: ['AssumeRole'],
      kind: 'rateLimit',
      ratePerSecond: 0.01,
      burst: 1,
    });
    await control('POST', '/_sandbox/faults', {
      service: 'sts',
      operation: '*',
      kind: 'rateLimit',
      ratePerSecond: 0.01,
      burst: 2,
    });
    const client = sts(1);
    await client.send(new GetCallerIdentityCommand({}));
    // AssumeRole shares GetCallerIdentity's bucket, now empty.
    const assume = new AssumeRoleCommand({
      RoleArn: 'arn:aws:iam::210987654321:role/x',
      RoleSessionName: 's',
    });
    expect((await failure(client.send(assume))).name).toBe('Throttling');
    // The account-wide bucket had 2: GetCallerIdentity took one, the throttled AssumeRole none,
    // so one more call outside the shared bucket passes it (and fails on its own merits), the
    // next is throttled.
    const other = () => client.send(new GetSessionTokenCommand({}));
    expect((await failure(other())).name).not.toBe('Throttling');
    expect((await failure(other())).name).toBe('Throttling');
  });

  it('models the ELB API version 2 buckets AWS documents', async () => {
    const { elbv2ApiLimits } = await import('../../sandbox/elbv2/limits.js');
    const limits = elbv2ApiLimits();
    const holding = (op: string) =>
      limits
        .filter((f) => f.operation === '*' || f.operation === op || f.operations?.includes(op))
        .map((f) => [f.burst, f.ratePerSecond]);
    expect(holding('ModifyRule')).toEqual([
      [40, 10],
      [20, 3],
    ]);
    expect(holding('ModifyListener')).toEqual(holding('AddTags'));
    expect(holding('RegisterTargets')).toEqual([
      [40, 10],
      [20, 4],
    ]);
    expect(holding('DescribeRules')).toEqual([
      [40, 10],
      [40, 10],
    ]);
    expect(holding('CreateLoadBalancer')).toEqual([
      [40, 10],
      [10, 0.2],
    ]);
  });

  it('drops the connection for reset, and the SDK retries it', async () => {
    await control('POST', '/_sandbox/faults', {
      service: 'sts',
      operation: 'GetCallerIdentity',
      kind: 'reset',
      times: 1,
    });
    const out = await sts().send(new GetCallerIdentityCommand({}));
    expect(out.$metadata.attempts).toBe(2);
  });

  it('stops injecting after DELETE /_sandbox/faults', async () => {
    await control('POST', '/_sandbox/faults', { service: 'sts', operation: '*', kind: 'error5xx' });
    await control('DELETE', '/_sandbox/faults');
    const out = await sts(1).send(new GetCallerIdentityCommand({}));
    expect(out.$metadata.attempts).toBe(1);
  });
});

describe('control API errors', () => {
  it('answers 400 with the reason for a malformed fault', async () => {
    const res = await fetch(`${sandbox.endpoint}/_sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ service: 'eks', operation: '*', kind: 'slow' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error:
        'fault.kind must be one of throttle, error5xx, latency, reset, rateLimit, error5xxApplied; got "slow"',
    });
  });
});

describe('parseFault', () => {
  it('accepts a well-formed fault', () => {
    const fault = { service: 'eks', operation: 'CreateCluster', kind: 'throttle', times: 2 };
    expect(parseFault(fault, ['eks'])).toEqual(fault);
  });

  it('names the field that is wrong', () => {
    expect(() =>
      parseFault({ service: 'ec2', operation: '*', kind: 'throttle' }, ['eks', 'sts']),
    ).toThrow('fault.service must be one of eks, sts; got "ec2"');
    expect(() => parseFault({ service: 'eks', operation: '*', kind: 'slow' }, ['eks'])).toThrow(
      'fault.kind must be one of throttle, error5xx, latency, reset, rateLimit, error5xxApplied; got "slow"',
    );
    expect(() =>
      parseFault({ service: 'eks', operation: '*', kind: 'latency', latencyMs: -1 }, ['eks']),
    ).toThrow('fault.latencyMs must be a non-negative number; got -1');
  });
});
