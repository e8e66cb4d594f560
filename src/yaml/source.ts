/**
 * A YAML text parsed with positions, plus the small typed readers the rollout file and the
 * checks input are validated with. Every reader records a Diagnostic (file:line:col from the
 * yaml package's LineCounter) and returns undefined instead of throwing, so one pass reports
 * every problem in the file.
 */
import {
  LineCounter,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  type Document,
  type Node,
  type YAMLError,
} from 'yaml';
import { ConfigurationError, formatDiagnostic, type Diagnostic } from '../common/errors.js';
import { parseDuration } from '../common/duration.js';
import { closestMatch } from './suggest.js';

/** Where a value sits in a file, 1-based as editors show it. */
export interface SourcePosition {
  line: number;
  col: number;
}

export type YamlPath = readonly (string | number)[];

/** A value in the file: its node (aliases resolved; null when written empty), its key, its path. */
export interface At {
  node: Node | null;
  /** The key node of the map entry holding the value; null for list items and the root. */
  key: Node | null;
  /** Where the value sits, as the user would write it: `analysis.checks[1].cloudwatch.max`. */
  label: string;
}

export class YamlSource {
  readonly diagnostics: Diagnostic[] = [];
  readonly doc: Document.Parsed;
  /** True when the YAML itself is broken, so its tree is the parser's guess. */
  readonly hasSyntaxErrors: boolean;
  private readonly lineCounter = new LineCounter();

  constructor(
    text: string,
    readonly file: string,
    /** What the text is, for messages: `rollout file`, `checks`. */
    readonly what: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lineCounter, prettyErrors: false });
    for (const e of [...this.doc.errors, ...this.doc.warnings]) {
      this.reportOffset(e.pos[0], yamlProblem(e));
    }
    // A repeated key leaves a well-formed tree (the first one wins), so the schema is still
    // worth checking; after any other syntax error it is not.
    this.hasSyntaxErrors = this.doc.errors.some((e) => e.code !== 'DUPLICATE_KEY');
  }

  root(label: string): At {
    return { node: this.deref(this.doc.contents), key: null, label };
  }

  /** Where a node starts, 1-based; 1:1 when there is no node. */
  position(node: Node | null | undefined): SourcePosition {
    if (!node?.range) return { line: 1, col: 1 };
    return this.lineCounter.linePos(node.range[0]);
  }

  /** A problem with the value itself (its type, its range): points at the value. */
  reportValue(at: At, message: string): void {
    this.report(isEmpty(at.node) ? at.key : at.node, message);
  }

  /** A problem with the entry as a whole (missing keys inside it, a bad sum): points at its key. */
  reportEntry(at: At, message: string): void {
    this.report(at.key ?? at.node, message);
  }

  report(node: Node | null | undefined, message: string): void {
    const { line, col } = this.position(node);
    this.diagnostics.push({ file: this.file, line, col, message });
  }

  /** All diagnostics in file order, as one error whose message lists them. */
  toError(): ConfigurationError {
    const sorted = [...this.diagnostics].sort((a, b) => a.line - b.line || a.col - b.col);
    const count = sorted.length === 1 ? '1 problem' : `${sorted.length} problems`;
    const lines = sorted.map((d) => `  ${formatDiagnostic(d)}`);
    return new ConfigurationError(
      [`Invalid ${this.what} in ${this.file} (${count}):`, ...lines].join('\n'),
      sorted,
    );
  }

  /**
   * The position of the node at `path`, or of its nearest existing parent, or 1:1. A scalar
   * points at its value; a map or list at its key, since block collections start on the next line.
   */
  locate(path: YamlPath): SourcePosition {
    let at: At = this.root('');
    let found: At | undefined;
    for (const segment of path) {
      const next = this.child(at, segment);
      if (!next) break;
      at = next;
      found = next;
    }
    if (!found) return { line: 1, col: 1 };
    const pointAtKey = found.key && (isEmpty(found.node) || !isScalar(found.node));
    return this.position(pointAtKey ? found.key : found.node);
  }

  private child(at: At, segment: string | number): At | undefined {
    if (typeof segment === 'number' && isSeq(at.node)) {
      const item = at.node.items[segment];
      if (item === undefined) return undefined;
      return { node: this.deref(item as Node), key: null, label: `${at.label}[${segment}]` };
    }
    if (typeof segment === 'string' && isMap(at.node)) {
      for (const pair of at.node.items) {
        if (isScalar(pair.key) && String(pair.key.value) === segment) {
          return this.entry(at, pair.key, pair.value as Node | null, segment);
        }
      }
    }
    return undefined;
  }

  private entry(parent: At, key: Node, value: Node | null, name: string): At {
    const label = parent.label === '' ? name : `${parent.label}.${name}`;
    return { node: this.deref(value), key, label };
  }

  deref(node: Node | null | undefined): Node | null {
    if (node == null) return null;
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return node;
  }

  private reportOffset(offset: number, message: string): void {
    const { line, col } = this.lineCounter.linePos(offset);
    this.diagnostics.push({ file: this.file, line, col, message });
  }

  // ---- typed readers ---------------------------------------------------------------------

  /**
   * The entries of a map whose allowed keys are `known`. Reports a value that is not a map,
   * keys that are not plain names, and unknown keys (with a suggestion when one is close).
   * `known` undefined accepts any key (maps keyed by the user's own names).
   */
  map(at: At, known: readonly string[] | undefined, expected: string): Map<string, At> | undefined {
    if (!isMap(at.node)) {
      this.reportValue(at, `${this.name(at)} must be ${expected}, got ${describe(at.node)}.`);
      return undefined;
    }
    const entries = new Map<string, At>();
    const suggested = new Set<string>();
    this.misspelt.set(entries, suggested);
    for (const pair of at.node.items) {
      const key = pair.key as Node | null;
      if (!isScalar(key) || key.value === null || typeof key.value === 'object') {
        this.report(
          key ?? at.node,
          `${this.name(at)} has an empty, list or map key; keys here are plain names.`,
        );
        continue;
      }
      const name = String(key.value);
      if (known && !known.includes(name)) {
        this.report(key, unknownKeyMessage(name, this.name(at), known));
        const suggestion = closestMatch(name, known);
        if (suggestion) suggested.add(suggestion);
        continue;
      }
      // A repeated key is already reported by the YAML parser; the first one counts.
      if (!entries.has(name))
        entries.set(name, this.entry(at, key, pair.value as Node | null, name));
    }
    return entries;
  }

  /** Per map read: the known keys that an unknown key was taken for a misspelling of. */
  private readonly misspelt = new WeakMap<Map<string, At>, Set<string>>();

  /** The items of a list. */
  list(at: At, expected: string): At[] | undefined {
    if (!isSeq(at.node)) {
      this.reportValue(at, `${this.name(at)} must be ${expected}, got ${describe(at.node)}.`);
      return undefined;
    }
    return at.node.items.map((item, i) => ({
      node: this.deref(item as Node | null),
      key: null,
      label: `${at.label}[${i}]`,
    }));
  }

  /** How a value is named in messages; the root has no path of its own. */
  name(at: At): string {
    return at.label === '' ? `the ${this.what}` : at.label;
  }

  /** Reports a missing required key against its parent entry; returns the entry otherwise. */
  required(entries: Map<string, At>, name: string, parent: At, what: string): At | undefined {
    const at = entries.get(name);
    // A misspelling of this key was already reported with a did-you-mean; once is enough.
    if (!at && !this.misspelt.get(entries)?.has(name)) {
      const where = parent.label === '' ? '' : ` in ${parent.label}`;
      this.reportEntry(parent, `Missing required key "${name}"${where}: ${what}.`);
    }
    return at;
  }

  string(at: At, expected = 'a non-empty string'): string | undefined {
    if (!isScalar(at.node) || typeof at.node.value !== 'string' || at.node.value.trim() === '') {
      this.reportValue(at, `${at.label} must be ${expected}, got ${describe(at.node)}.`);
      return undefined;
    }
    return at.node.value;
  }

  integer(at: At, min: number, max = Infinity): number | undefined {
    const expected =
      max === Infinity
        ? min === 0
          ? 'a non-negative integer'
          : `an integer of at least ${min}`
        : `an integer from ${min} to ${max}`;
    const n = this.number(at, expected);
    if (n === undefined) return undefined;
    if (!Number.isInteger(n) || n < min || n > max) {
      this.reportValue(at, `${at.label} must be ${expected}, got ${n}.`);
      return undefined;
    }
    return n;
  }

  /** A finite number; `expected` words the message, range checks are the caller's. */
  /** true or false as YAML 1.2 reads them; `yes`, `on` and quoted words are refused. */
  boolean(at: At): boolean | undefined {
    const v = isScalar(at.node) ? at.node.value : undefined;
    if (typeof v !== 'boolean') {
      this.reportValue(at, `${at.label} must be true or false, got ${describe(at.node)}.`);
      return undefined;
    }
    return v;
  }

  number(at: At, expected = 'a number'): number | undefined {
    const v = isScalar(at.node) ? at.node.value : undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.reportValue(
        at,
        `${at.label} must be ${expected}, got ${describe(at.node)}${quotedNumberHint(at.node)}.`,
      );
      return undefined;
    }
    return v;
  }

  /** Milliseconds; `positive` refuses 0. */
  duration(at: At, { positive }: { positive: boolean }): number | undefined {
    const v = isScalar(at.node) ? at.node.value : undefined;
    let ms: number | undefined;
    if (v === 0) ms = 0;
    else if (typeof v === 'number') {
      this.reportValue(
        at,
        `${at.label} is the bare number ${v}; give the unit, e.g. ${v}s or ${v}ms.`,
      );
      return undefined;
    } else if (typeof v === 'string') ms = parseDuration(v);
    if (ms === undefined) {
      this.reportValue(
        at,
        `${at.label} must be a duration like 30s, 5m, 1m30s or 500ms, got ${describe(at.node)}.`,
      );
      return undefined;
    }
    if (positive && ms === 0) {
      this.reportValue(at, `${at.label} must be longer than 0, got ${describe(at.node)}.`);
      return undefined;
    }
    return ms;
  }

  /** A map of HTTP header names to string values. */
  headers(at: At): Record<string, string> | undefined {
    const entries = this.map(at, undefined, 'a map of header names to values');
    if (!entries) return undefined;
    const headers: Record<string, string> = {};
    let ok = true;
    for (const [name, value] of entries) {
      if (!HEADER_NAME.test(name)) {
        this.reportEntry(
          value,
          `${at.label} has "${name}", which is not a valid HTTP header name.`,
        );
        ok = false;
        continue;
      }
      const v = isScalar(value.node) ? value.node.value : undefined;
      if (typeof v !== 'string') {
        const hint =
          typeof v === 'number' || typeof v === 'boolean' ? `; quote it: ${name}: "${v}"` : '';
        this.reportValue(
          value,
          `${value.label} must be a string, got ${describe(value.node)}${hint}.`,
        );
        ok = false;
        continue;
      }
      headers[name] = v;
    }
    return ok ? headers : undefined;
  }

  /** An http:// or https:// URL, kept as written. */
  url(at: At): string | undefined {
    const s = this.string(at, 'an http:// or https:// URL');
    if (s === undefined) return undefined;
    let protocol: string | undefined;
    try {
      protocol = new URL(s).protocol;
    } catch {
      protocol = undefined;
    }
    if (protocol !== 'http:' && protocol !== 'https:') {
      this.reportValue(at, `${at.label} must be an http:// or https:// URL, got "${s}".`);
      return undefined;
    }
    return s;
  }
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function unknownKeyMessage(name: string, where: string, known: readonly string[]): string {
  const suggestion = closestMatch(name, known);
  if (suggestion) return `Unknown key "${name}" in ${where}; did you mean "${suggestion}"?`;
  return `Unknown key "${name}" in ${where}; the keys allowed here are ${known.join(', ')}.`;
}

function isEmpty(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

/** How a value reads in a message: `a list`, `the string "10"`, `12.5`, `nothing`. */
export function describe(node: Node | null): string {
  if (isEmpty(node)) return 'nothing';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (typeof v === 'string') {
      const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
      return quoted ? `the string "${v}"` : `"${v}"`;
    }
    return String(v);
  }
  return 'an unsupported value';
}

function quotedNumberHint(node: Node | null): string {
  const v = isScalar(node) ? node.value : undefined;
  return typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))
    ? '; write the number without quotes'
    : '';
}

function yamlProblem(e: YAMLError): string {
  switch (e.code) {
    case 'DUPLICATE_KEY':
      return 'This key appears twice in the same map; keep one of them.';
    case 'MULTIPLE_DOCS':
      return 'This is a second YAML document (after "---"); write a single document.';
    case 'TAG_RESOLVE_FAILED':
      return `${sentence(e.message)}; YAML tags are not supported here, write the plain value.`;
    default:
      return `YAML syntax error: ${sentence(e.message)}.`;
  }
}

function sentence(message: string): string {
  return message.trim().replace(/[.:]+$/, '');
}

/** Reads an optional entry; undefined when absent or invalid (the reader reported why). */
export function optional<T>(at: At | undefined, read: (at: At) => T | undefined): T | undefined {
  return at === undefined ? undefined : read(at);
}
