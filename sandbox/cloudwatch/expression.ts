/**
 * CloudWatch metric math, the subset the sandbox implements: + - * / with CloudWatch's
 * precedence, parentheses, unary minus, numeric constants, references to other query ids, and
 * FILL(series, constant). Arithmetic between two time series is element-wise over the
 * timestamps both have, as CloudWatch does; a result that is not a finite number (x/0) is
 * left out, not returned as Infinity.
 */

export interface TimeSeries {
  /** Epoch ms, ascending. */
  timestamps: number[];
  values: number[];
  /** Seconds; the step FILL uses. */
  period: number;
  /** Epoch ms of the first period of the requested range (FILL's first timestamp). */
  gridStart: number;
  /** Epoch ms, exclusive end of the requested range. */
  gridEnd: number;
}

export type MathValue = number | TimeSeries;

/** An expression that cannot be parsed or evaluated; the message says why. */
export class ExpressionError extends Error {
  override name = 'ExpressionError';
}

/** A parsed expression. */
export type Node =
  | { kind: 'number'; value: number }
  | { kind: 'id'; name: string; pos: number }
  | { kind: 'neg'; operand: Node }
  | { kind: 'binary'; op: '+' | '-' | '*' | '/'; left: Node; right: Node }
  | { kind: 'call'; name: string; args: Node[]; pos: number };

interface Token {
  kind: 'number' | 'ident' | 'op' | 'end';
  text: string;
  pos: number;
}

const FUNCTIONS = new Set(['FILL']);

export function parseExpression(source: string): Node {
  const tokens = tokenize(source);
  let i = 0;
  const peek = (): Token => tokens[i] as Token;
  const next = (): Token => tokens[i++] as Token;
  const expect = (text: string): void => {
    const t = next();
    if (t.text !== text) {
      throw new ExpressionError(
        `expected "${text}" at position ${t.pos + 1} but found ${describe(t)}`,
      );
    }
  };

  const primary = (): Node => {
    const t = next();
    if (t.kind === 'number') return { kind: 'number', value: Number(t.text) };
    if (t.text === '(') {
      const inner = additive();
      expect(')');
      return inner;
    }
    if (t.text === '-') return { kind: 'neg', operand: primary() };
    if (t.text === '+') return primary();
    if (t.kind === 'ident') {
      if (peek().text !== '(') return { kind: 'id', name: t.text, pos: t.pos };
      next();
      const name = t.text.toUpperCase();
      if (!FUNCTIONS.has(name)) {
        throw new ExpressionError(
          `the function ${t.text} at position ${t.pos + 1} is not supported by the sandbox (supported: ${[...FUNCTIONS].join(', ')})`,
        );
      }
      const args: Node[] = [];
      if (peek().text !== ')') {
        args.push(additive());
        while (peek().text === ',') {
          next();
          args.push(additive());
        }
      }
      expect(')');
      return { kind: 'call', name, args, pos: t.pos };
    }
    throw new ExpressionError(`unexpected ${describe(t)} at position ${t.pos + 1}`);
  };
  const multiplicative = (): Node => {
    let left = primary();
    while (peek().text === '*' || peek().text === '/') {
      const op = next().text as '*' | '/';
      left = { kind: 'binary', op, left, right: primary() };
    }
    return left;
  };
  const additive = (): Node => {
    let left = multiplicative();
    while (peek().text === '+' || peek().text === '-') {
      const op = next().text as '+' | '-';
      left = { kind: 'binary', op, left, right: multiplicative() };
    }
    return left;
  };

  const tree = additive();
  const rest = peek();
  if (rest.kind !== 'end') {
    throw new ExpressionError(`unexpected ${describe(rest)} at position ${rest.pos + 1}`);
  }
  return tree;
}

/** The query ids an expression reads, in order of first use. */
export function referencedIds(node: Node): string[] {
  const out: string[] = [];
  const walk = (n: Node): void => {
    if (n.kind === 'id') {
      if (!out.includes(n.name)) out.push(n.name);
    } else if (n.kind === 'neg') walk(n.operand);
    else if (n.kind === 'binary') {
      walk(n.left);
      walk(n.right);
    } else if (n.kind === 'call') n.args.forEach(walk);
  };
  walk(node);
  return out;
}

export function evaluate(node: Node, lookup: (id: string) => MathValue): MathValue {
  switch (node.kind) {
    case 'number':
      return node.value;
    case 'id':
      return lookup(node.name);
    case 'neg':
      return apply('*', -1, evaluate(node.operand, lookup));
    case 'binary':
      return apply(node.op, evaluate(node.left, lookup), evaluate(node.right, lookup));
    case 'call':
      return fill(
        node,
        node.args.map((a) => evaluate(a, lookup)),
      );
  }
}

function fill(node: Extract<Node, { kind: 'call' }>, args: MathValue[]): MathValue {
  const [series, value] = args;
  if (args.length !== 2 || typeof series !== 'object' || typeof value !== 'number') {
    throw new ExpressionError(
      `FILL at position ${node.pos + 1} takes a time series and a number, e.g. FILL(m1, 0)`,
    );
  }
  const byTime = new Map(series.timestamps.map((t, i) => [t, series.values[i] as number]));
  const out: TimeSeries = { ...series, timestamps: [], values: [] };
  for (let t = series.gridStart; t < series.gridEnd; t += series.period * 1000) {
    out.timestamps.push(t);
    out.values.push(byTime.get(t) ?? value);
  }
  return out;
}

function apply(op: '+' | '-' | '*' | '/', a: MathValue, b: MathValue): MathValue {
  const f = (x: number, y: number): number =>
    op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : x / y;
  if (typeof a === 'number' && typeof b === 'number') return f(a, b);
  const out: TimeSeries = {
    ...(typeof a === 'object' ? a : (b as TimeSeries)),
    timestamps: [],
    values: [],
  };
  const push = (t: number, v: number): void => {
    if (Number.isFinite(v)) {
      out.timestamps.push(t);
      out.values.push(v);
    }
  };
  if (typeof a === 'number') {
    const s = b as TimeSeries;
    s.timestamps.forEach((t, i) => push(t, f(a, s.values[i] as number)));
  } else if (typeof b === 'number') {
    a.timestamps.forEach((t, i) => push(t, f(a.values[i] as number, b)));
  } else {
    const right = new Map(b.timestamps.map((t, i) => [t, b.values[i] as number]));
    a.timestamps.forEach((t, i) => {
      const r = right.get(t);
      if (r !== undefined) push(t, f(a.values[i] as number, r));
    });
  }
  return out;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|([-+*/(),]))/y;
  let pos = 0;
  while (pos < source.length) {
    if (/^\s*$/.test(source.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(source);
    if (!m) {
      const at = pos + (/^\s*/.exec(source.slice(pos))?.[0].length ?? 0);
      throw new ExpressionError(`unexpected character "${source[at]}" at position ${at + 1}`);
    }
    const text = (m[1] ?? m[2] ?? m[3]) as string;
    const start = re.lastIndex - text.length;
    tokens.push({ kind: m[1] ? 'number' : m[2] ? 'ident' : 'op', text, pos: start });
    pos = re.lastIndex;
  }
  tokens.push({ kind: 'end', text: '', pos: source.length });
  return tokens;
}

function describe(t: Token): string {
  return t.kind === 'end' ? 'the end of the expression' : `"${t.text}"`;
}
