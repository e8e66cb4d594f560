/**
 * CloudWatch in the sandbox, on the wire the current SDK client speaks: AWS JSON 1.0 with
 * awsQueryCompatible. Requests are POST / with `X-Amz-Target: GraniteServiceVersion20100801.<Op>`
 * and a JSON body (gzip-compressed when large, as the SDK's request compression does);
 * timestamps are epoch seconds. Errors carry the modeled shape in `__type` and the awsQuery code
 * in the `x-amzn-query-error: <Code>;<Sender|Receiver>` header, which is what the SDK uses to
 * name the error.
 */
import { gunzipSync } from 'node:zlib';
import type { SandboxService, ServiceRequest, ServiceResponse } from '../core.js';
import type { MetricStore } from '../metrics.js';
import { CloudWatchError, SHAPE_OF_CODE } from './errors.js';
import { getMetricData, type GetMetricDataInput } from './get-metric-data.js';

const TARGET_PREFIX = 'GraniteServiceVersion20100801.';
const CONTENT_TYPE = 'application/x-amz-json-1.0';
const OPERATIONS = ['GetMetricData', 'PutMetricData', 'ListMetrics'] as const;
type Operation = (typeof OPERATIONS)[number];

/** CloudWatch's StandardUnit values. */
const UNITS = new Set([
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
]);

interface PutMetricDataInput {
  Namespace?: string;
  MetricData?: {
    MetricName?: string;
    Dimensions?: { Name?: string; Value?: string }[];
    Timestamp?: number;
    Value?: number;
    StatisticValues?: { SampleCount?: number; Sum?: number; Minimum?: number; Maximum?: number };
    Values?: number[];
    Counts?: number[];
    Unit?: string;
    StorageResolution?: number;
  }[];
}

interface ListMetricsInput {
  Namespace?: string;
  MetricName?: string;
  Dimensions?: { Name?: string; Value?: string }[];
  NextToken?: string;
}

const LIST_METRICS_PAGE = 500;

export interface CloudWatchServiceOptions {
  metrics: MetricStore;
  /** Injected clock, epoch ms. */
  now?: () => number;
}

export class CloudWatchService implements SandboxService {
  readonly signingName = 'monitoring';
  private readonly metrics: MetricStore;
  private readonly now: () => number;

  constructor(options: CloudWatchServiceOptions) {
    this.metrics = options.metrics;
    this.now = options.now ?? Date.now;
  }

  operationOf(req: ServiceRequest): string | undefined {
    const target = req.headers['x-amz-target'];
    if (typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) return undefined;
    return target.slice(TARGET_PREFIX.length);
  }

  errorResponse(
    _req: ServiceRequest,
    status: number,
    code: string,
    message: string,
  ): ServiceResponse {
    const shape = SHAPE_OF_CODE[code] ?? code;
    return {
      status,
      headers: {
        'content-type': CONTENT_TYPE,
        'x-amzn-query-error': `${code};${status >= 500 ? 'Receiver' : 'Sender'}`,
      },
      body: JSON.stringify({ __type: `com.amazonaws.cloudwatch#${shape}`, message }),
    };
  }

  async handle(req: ServiceRequest, operation: string): Promise<ServiceResponse> {
    if (!OPERATIONS.includes(operation as Operation)) {
      return this.errorResponse(
        req,
        400,
        'InvalidAction',
        `The action ${operation} is not valid for this web service (the sandbox implements ${OPERATIONS.join(', ')}).`,
      );
    }
    let input: unknown;
    try {
      input = parseBody(req);
    } catch (e) {
      return this.errorResponse(req, 400, 'SerializationException', (e as Error).message);
    }
    try {
      const output = this.run(operation as Operation, input);
      return {
        status: 200,
        headers: { 'content-type': CONTENT_TYPE },
        body: JSON.stringify(output),
      };
    } catch (e) {
      if (e instanceof CloudWatchError) return this.errorResponse(req, e.status, e.code, e.message);
      throw e;
    }
  }

  private run(operation: Operation, input: unknown): unknown {
    switch (operation) {
      case 'GetMetricData':
        return getMetricData(this.metrics, input as GetMetricDataInput, this.now());
      case 'PutMetricData':
        this.putMetricData(input as PutMetricDataInput);
        return {};
      case 'ListMetrics':
        return this.listMetrics(input as ListMetricsInput);
    }
  }

  private putMetricData(input: PutMetricDataInput): void {
    const namespace = input.Namespace;
    if (!namespace) {
      throw new CloudWatchError('MissingParameter', 'The parameter Namespace is required.');
    }
    if (namespace.startsWith('AWS/')) {
      throw new CloudWatchError(
        'InvalidParameterValue',
        `The value ${namespace} for parameter Namespace is invalid: namespaces starting with "AWS/" are reserved for AWS services.`,
      );
    }
    const data = input.MetricData ?? [];
    if (data.length === 0) {
      throw new CloudWatchError('MissingParameter', 'The parameter MetricData is required.');
    }
    if (data.length > 1000) {
      throw new CloudWatchError(
        'InvalidParameterValue',
        'The collection MetricData must not have a size greater than 1000.',
      );
    }
    const now = this.now();
    // Validate every datum before storing any: a rejected request stores nothing.
    const accepted = data.map((d, index) => {
      const at = `MetricData.member.${index + 1}`;
      if (!d.MetricName) {
        throw new CloudWatchError(
          'MissingParameter',
          `The parameter ${at}.MetricName is required.`,
        );
      }
      const given = (['Value', 'Values', 'StatisticValues'] as const).filter(
        (k) => d[k] !== undefined,
      );
      if (given.length > 1) {
        throw new CloudWatchError(
          'InvalidParameterCombination',
          `The parameters ${at}.${given[0]} and ${at}.${given[1]} are mutually exclusive and you have specified both.`,
        );
      }
      if (given.length === 0) {
        throw new CloudWatchError('MissingParameter', `The parameter ${at}.Value is required.`);
      }
      if (d.Counts !== undefined && d.Values === undefined) {
        throw new CloudWatchError(
          'InvalidParameterCombination',
          `The parameter ${at}.Counts requires ${at}.Values.`,
        );
      }
      if (d.Values && d.Values.length > 150) {
        throw new CloudWatchError(
          'InvalidParameterValue',
          `The collection ${at}.Values must not have a size greater than 150.`,
        );
      }
      if (d.Values && d.Counts && d.Values.length !== d.Counts.length) {
        throw new CloudWatchError(
          'InvalidParameterValue',
          `The parameters ${at}.Values and ${at}.Counts must be of the same size.`,
        );
      }
      if (d.StatisticValues) {
        const s = d.StatisticValues;
        for (const k of ['SampleCount', 'Sum', 'Minimum', 'Maximum'] as const) {
          if (typeof s[k] !== 'number') {
            throw new CloudWatchError(
              'MissingParameter',
              `The parameter ${at}.StatisticValues.${k} is required.`,
            );
          }
        }
        if ((s.SampleCount as number) <= 0) {
          throw new CloudWatchError(
            'InvalidParameterValue',
            `The value ${s.SampleCount} for parameter ${at}.StatisticValues.SampleCount must be greater than 0.`,
          );
        }
        if ((s.Minimum as number) > (s.Maximum as number)) {
          throw new CloudWatchError(
            'InvalidParameterValue',
            `The parameter ${at}.StatisticValues.Minimum must be less than or equal to ${at}.StatisticValues.Maximum.`,
          );
        }
      }
      if ((d.Dimensions ?? []).length > 30) {
        throw new CloudWatchError(
          'InvalidParameterValue',
          `The collection ${at}.Dimensions must not have a size greater than 30.`,
        );
      }
      const dimensions: Record<string, string> = {};
      (d.Dimensions ?? []).forEach((dim, j) => {
        if (!dim.Name || dim.Value === undefined || dim.Value === '') {
          throw new CloudWatchError(
            'MissingParameter',
            `The parameters ${at}.Dimensions.member.${j + 1}.Name and Value are required.`,
          );
        }
        dimensions[dim.Name] = dim.Value;
      });
      if (d.Unit !== undefined && !UNITS.has(d.Unit)) {
        throw new CloudWatchError(
          'InvalidParameterValue',
          `The value ${d.Unit} for parameter ${at}.Unit is not a valid unit.`,
        );
      }
      const resolution = d.StorageResolution ?? 60;
      if (resolution !== 1 && resolution !== 60) {
        throw new CloudWatchError(
          'InvalidParameterValue',
          `The value ${resolution} for parameter ${at}.StorageResolution is invalid. Valid values are 1 (high resolution) and 60 (standard resolution).`,
        );
      }
      const timestamp = d.Timestamp === undefined ? now : Math.round(d.Timestamp * 1000);
      if (timestamp < now - 14 * 24 * 3600_000 || timestamp > now + 2 * 3600_000) {
        throw new CloudWatchError(
          'InvalidParameterValue',
          `The parameter ${at}.Timestamp must specify a time no more than two weeks in the past and no more than two hours in the future.`,
        );
      }
      return { d, dimensions, timestamp, resolution };
    });

    for (const { d, dimensions, timestamp, resolution } of accepted) {
      const base = {
        namespace,
        metricName: d.MetricName as string,
        dimensions,
        timestamp,
        storageResolution: resolution,
        ...(d.Unit !== undefined ? { unit: d.Unit } : {}),
      };
      if (d.StatisticValues) {
        const s = d.StatisticValues as Required<NonNullable<typeof d.StatisticValues>>;
        this.metrics.putStatisticSet({
          ...base,
          sampleCount: s.SampleCount,
          sum: s.Sum,
          minimum: s.Minimum,
          maximum: s.Maximum,
        });
      } else if (d.Values) {
        d.Values.forEach((value, i) => {
          this.metrics.put({ ...base, value, count: d.Counts?.[i] ?? 1 });
        });
      } else {
        this.metrics.put({ ...base, value: d.Value as number });
      }
    }
  }

  private listMetrics(input: ListMetricsInput): unknown {
    const all = this.metrics
      .list()
      .filter((m) => input.Namespace === undefined || m.namespace === input.Namespace)
      .filter((m) => input.MetricName === undefined || m.metricName === input.MetricName)
      .filter((m) =>
        (input.Dimensions ?? []).every(
          (f) =>
            f.Name !== undefined &&
            f.Name in m.dimensions &&
            (f.Value === undefined || m.dimensions[f.Name] === f.Value),
        ),
      )
      .sort((a, b) =>
        `${a.namespace}/${a.metricName}/${JSON.stringify(a.dimensions)}`.localeCompare(
          `${b.namespace}/${b.metricName}/${JSON.stringify(b.dimensions)}`,
        ),
      );
    let offset = 0;
    if (input.NextToken !== undefined) {
      offset = Number.parseInt(Buffer.from(input.NextToken, 'base64url').toString('utf8'), 10);
      if (!Number.isInteger(offset) || offset < 0) {
        throw new CloudWatchError('InvalidNextToken', 'The NextToken is not valid.');
      }
    }
    const page = all.slice(offset, offset + LIST_METRICS_PAGE);
    const next = offset + LIST_METRICS_PAGE;
    return {
      Metrics: page.map((m) => ({
        Namespace: m.namespace,
        MetricName: m.metricName,
        Dimensions: Object.entries(m.dimensions).map(([Name, Value]) => ({ Name, Value })),
      })),
      ...(next < all.length ? { NextToken: Buffer.from(String(next)).toString('base64url') } : {}),
    };
  }
}

function parseBody(req: ServiceRequest): unknown {
  let body = req.body;
  const encoding = req.headers['content-encoding'];
  if (typeof encoding === 'string' && encoding.toLowerCase().includes('gzip')) {
    try {
      body = gunzipSync(body);
    } catch {
      throw new Error('The request body is not valid gzip although Content-Encoding says gzip.');
    }
  }
  const text = body.toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error('The request body is not valid JSON.');
  }
}
