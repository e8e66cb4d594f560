/**
 * The AWS query protocol, as the SDK speaks it to ELBv2 and STS: a form-encoded POST body
 * (`Action=…&Version=…&Foo.member.1.Bar=x`) in, an XML document out.
 *
 * Requests are parsed into a tree: dotted keys become nested objects and `member.N` segments
 * become arrays ordered by N. An empty list arrives as `Key=` (an empty string), which the
 * `list` accessor reads as []. Responses are written from plain objects by `toXml`, where an
 * array becomes `<member>` children, as the query protocol's XML lists are.
 */

export type QueryValue = string | QueryObject | QueryValue[];
export interface QueryObject {
  [key: string]: QueryValue;
}

/** Parses a form-encoded query-protocol body into a tree. */
export function parseQueryBody(body: string): QueryObject {
  const root: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.split('.');
    let node: Record<string, unknown> = root;
    for (let i = 0; i < path.length - 1; i++) {
      const segment = path[i] as string;
      const next = node[segment];
      if (typeof next === 'object' && next !== null) {
        node = next as Record<string, unknown>;
      } else {
        const child: Record<string, unknown> = {};
        node[segment] = child;
        node = child;
      }
    }
    node[path[path.length - 1] as string] = value;
  }
  return normalise(root) as QueryObject;
}

/** Turns `{ member: { '1': a, '2': b } }` into `[a, b]`, recursively. */
function normalise(node: unknown): QueryValue {
  if (typeof node === 'string') return node;
  const obj = node as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1 && keys[0] === 'member' && typeof obj.member === 'object') {
    const members = obj.member as Record<string, unknown>;
    return Object.keys(members)
      .filter((k) => /^\d+$/.test(k))
      .sort((a, b) => Number(a) - Number(b))
      .map((k) => normalise(members[k]));
  }
  const out: QueryObject = {};
  for (const k of keys) out[k] = normalise(obj[k]);
  return out;
}

export function str(node: QueryObject | undefined, key: string): string | undefined {
  const v = node?.[key];
  return typeof v === 'string' ? v : undefined;
}

export function obj(node: QueryObject | undefined, key: string): QueryObject | undefined {
  const v = node?.[key];
  return typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

/** A list member: [] when absent or sent empty (`Key=`). */
export function list(node: QueryObject | undefined, key: string): QueryValue[] {
  const v = node?.[key];
  return Array.isArray(v) ? v : [];
}

/** Whether the request carried the key at all (an empty list counts as present). */
export function has(node: QueryObject | undefined, key: string): boolean {
  return node !== undefined && key in node;
}

export function stringList(node: QueryObject | undefined, key: string): string[] {
  return list(node, key).filter((v): v is string => typeof v === 'string');
}

export function objectList(node: QueryObject | undefined, key: string): QueryObject[] {
  return list(node, key).filter(
    (v): v is QueryObject => typeof v === 'object' && !Array.isArray(v),
  );
}

/** A value to render as XML. `undefined` members are left out, as AWS omits unset fields. */
export type XmlValue =
  string | number | boolean | Date | undefined | XmlValue[] | { [key: string]: XmlValue };

export function xmlEscape(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Renders `<name>value</name>`; arrays as `<name><member>…</member>…</name>`. */
export function toXml(name: string, value: XmlValue): string {
  if (value === undefined) return '';
  if (value instanceof Date) return `<${name}>${value.toISOString()}</${name}>`;
  if (Array.isArray(value)) {
    return `<${name}>${value.map((v) => toXml('member', v)).join('')}</${name}>`;
  }
  if (typeof value === 'object') {
    const inner = Object.entries(value)
      .map(([k, v]) => toXml(k, v))
      .join('');
    return `<${name}>${inner}</${name}>`;
  }
  return `<${name}>${xmlEscape(String(value))}</${name}>`;
}

/** A successful query-protocol response: `<OpResponse><OpResult>…</OpResult><ResponseMetadata>`. */
export function queryResponse(
  namespace: string,
  operation: string,
  result: Record<string, XmlValue>,
  requestId: string,
): { status: number; headers: Record<string, string>; body: string } {
  const inner = Object.entries(result)
    .map(([k, v]) => toXml(k, v))
    .join('');
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<${operation}Response xmlns="${namespace}">` +
    `<${operation}Result>${inner}</${operation}Result>` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata>` +
    `</${operation}Response>`;
  return { status: 200, headers: { 'content-type': 'text/xml' }, body };
}

/** A query-protocol error document; `Sender` for 4xx, `Receiver` for 5xx, as AWS sends. */
export function queryError(
  namespace: string,
  status: number,
  code: string,
  message: string,
  requestId: string,
): { status: number; headers: Record<string, string>; body: string } {
  const type = status >= 500 ? 'Receiver' : 'Sender';
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<ErrorResponse xmlns="${namespace}">` +
    `<Error><Type>${type}</Type><Code>${xmlEscape(code)}</Code>` +
    `<Message>${xmlEscape(message)}</Message></Error>` +
    `<RequestId>${requestId}</RequestId>` +
    `</ErrorResponse>`;
  return { status, headers: { 'content-type': 'text/xml' }, body };
}
