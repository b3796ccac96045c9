/** @module SOQL subset for the Salesforce simulator: SELECT … FROM … WHERE (=, !=, <, >, IN, NOT IN, LIKE, AND/OR/NOT) ORDER BY … LIMIT … OFFSET. */

/** A SOQL failure; `errorCode` is MALFORMED_QUERY, INVALID_FIELD or INVALID_TYPE. */
export class SoqlError extends Error {
  constructor(
    readonly errorCode: 'MALFORMED_QUERY' | 'INVALID_FIELD' | 'INVALID_TYPE',
    message: string,
  ) {
    super(message);
    this.name = 'SoqlError';
  }
}

export type SoqlValue = string | number | boolean | null;

export type SoqlCondition =
  | { kind: 'and' | 'or'; parts: SoqlCondition[] }
  | { kind: 'not'; part: SoqlCondition }
  | { kind: 'cmp'; field: string; op: string; value: SoqlValue | SoqlValue[] };

export interface SoqlQuery {
  /** Field paths as written (`Name`, `Account.Name`); empty for `COUNT()`. */
  fields: string[];
  count: boolean;
  object: string;
  where?: SoqlCondition;
  orderBy: Array<{ field: string; desc: boolean; nullsLast: boolean }>;
  limit?: number;
  offset?: number;
}

type Token = { type: 'ident' | 'string' | 'number' | 'date' | 'op' | 'punct'; text: string; value?: SoqlValue };

const TOKEN_RE =
  /\s*(?:('(?:\\.|[^'\\])*')|(\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))?)|(-?\d+(?:\.\d+)?)|([A-Za-z_][\w.]*)|(!=|<>|<=|>=|=|<|>)|([(),]))/y;

function tokenize(soql: string): Token[] {
  const tokens: Token[] = [];
  TOKEN_RE.lastIndex = 0;
  let pos = 0;
  while (pos < soql.length) {
    if (/^\s*$/.test(soql.slice(pos))) break;
    TOKEN_RE.lastIndex = pos;
    const m = TOKEN_RE.exec(soql);
    if (m === null) throw new SoqlError('MALFORMED_QUERY', `unexpected token: '${soql.slice(pos).trim().split(/\s+/)[0]}'`);
    pos = TOKEN_RE.lastIndex;
    if (m[1] !== undefined) {
      const value = m[1].slice(1, -1).replace(/\\(.)/g, (_s, c: string) => ({ n: '\n', t: '\t', r: '\r' })[c] ?? c);
      tokens.push({ type: 'string', text: m[1], value });
    } else if (m[2] !== undefined) tokens.push({ type: 'date', text: m[2], value: m[2] });
    else if (m[3] !== undefined) tokens.push({ type: 'number', text: m[3], value: Number(m[3]) });
    else if (m[4] !== undefined) tokens.push({ type: 'ident', text: m[4] });
    else if (m[5] !== undefined) tokens.push({ type: 'op', text: m[5] });
    else tokens.push({ type: 'punct', text: m[6]! });
  }
  return tokens;
}

/** Parses the supported SOQL subset; anything else is MALFORMED_QUERY. */
export function parseSoql(soql: string): SoqlQuery {
  const tokens = tokenize(soql);
  let i = 0;
  const peek = (): Token | undefined => tokens[i];
  const isKw = (kw: string, t = peek()): boolean => t?.type === 'ident' && t.text.toUpperCase() === kw;
  const fail = (): never => {
    const t = peek();
    throw new SoqlError('MALFORMED_QUERY', t ? `unexpected token: '${t.text}'` : 'unexpected end of query');
  };
  const expectKw = (kw: string): void => {
    if (!isKw(kw)) fail();
    i += 1;
  };
  const ident = (): string => {
    const t = peek();
    if (t?.type !== 'ident') return fail();
    i += 1;
    return t.text;
  };
  const punct = (p: string): boolean => {
    if (peek()?.type === 'punct' && peek()!.text === p) {
      i += 1;
      return true;
    }
    return false;
  };

  expectKw('SELECT');
  const query: SoqlQuery = { fields: [], count: false, object: '', orderBy: [] };
  if (isKw('COUNT') && tokens[i + 1]?.text === '(' && tokens[i + 2]?.text === ')') {
    query.count = true;
    i += 3;
  } else {
    do query.fields.push(ident());
    while (punct(','));
  }
  expectKw('FROM');
  query.object = ident();

  const literal = (): SoqlValue => {
    const t = peek();
    if (t === undefined) return fail();
    if (t.type === 'string' || t.type === 'number' || t.type === 'date') {
      i += 1;
      return t.value!;
    }
    if (isKw('TRUE') || isKw('FALSE') || isKw('NULL')) {
      i += 1;
      return t.text.toUpperCase() === 'NULL' ? null : t.text.toUpperCase() === 'TRUE';
    }
    return fail();
  };

  const comparison = (): SoqlCondition => {
    if (punct('(')) {
      const inner = condition();
      if (!punct(')')) fail();
      return inner;
    }
    if (isKw('NOT')) {
      i += 1;
      return { kind: 'not', part: comparison() };
    }
    const field = ident();
    let op: string;
    if (peek()?.type === 'op') op = tokens[i++]!.text;
    else if (isKw('LIKE') || isKw('IN')) op = tokens[i++]!.text.toUpperCase();
    else if (isKw('NOT') && isKw('IN', tokens[i + 1])) {
      i += 2;
      op = 'NOT IN';
    } else return fail();
    if (op === 'IN' || op === 'NOT IN') {
      if (!punct('(')) fail();
      const values: SoqlValue[] = [];
      do values.push(literal());
      while (punct(','));
      if (!punct(')')) fail();
      return { kind: 'cmp', field, op, value: values };
    }
    return { kind: 'cmp', field, op: op === '<>' ? '!=' : op, value: literal() };
  };

  // SOQL refuses AND and OR mixed at one level without parentheses.
  const condition = (): SoqlCondition => {
    const first = comparison();
    if (!isKw('AND') && !isKw('OR')) return first;
    const joiner = peek()!.text.toUpperCase();
    const parts = [first];
    while (isKw('AND') || isKw('OR')) {
      if (peek()!.text.toUpperCase() !== joiner) fail();
      i += 1;
      parts.push(comparison());
    }
    return { kind: joiner === 'AND' ? 'and' : 'or', parts };
  };

  if (isKw('WHERE')) {
    i += 1;
    query.where = condition();
  }
  if (isKw('ORDER')) {
    i += 1;
    expectKw('BY');
    do {
      const field = ident();
      let desc = false;
      if (isKw('ASC') || isKw('DESC')) desc = tokens[i++]!.text.toUpperCase() === 'DESC';
      // SOQL default: NULLS FIRST for ascending, NULLS LAST for descending.
      let nullsLast = desc;
      if (isKw('NULLS')) {
        i += 1;
        if (!isKw('FIRST') && !isKw('LAST')) fail();
        nullsLast = tokens[i++]!.text.toUpperCase() === 'LAST';
      }
      query.orderBy.push({ field, desc, nullsLast });
    } while (punct(','));
  }
  for (const kw of ['LIMIT', 'OFFSET'] as const) {
    if (isKw(kw)) {
      i += 1;
      const t = peek();
      if (t?.type !== 'number' || !Number.isInteger(t.value) || (t.value as number) < 0) fail();
      i += 1;
      if (kw === 'LIMIT') query.limit = t!.value as number;
      else query.offset = t!.value as number;
    }
  }
  if (i < tokens.length) fail();
  return query;
}

function likeMatches(value: unknown, pattern: string): boolean {
  if (typeof value !== 'string') return false;
  const source = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.');
  return new RegExp(`^${source}$`, 'is').test(value);
}

function equals(a: unknown, b: SoqlValue): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  return (a ?? null) === b;
}

/**
 * Evaluates a condition; `resolve` maps a field path to the record's value (already
 * normalised, e.g. ids as 18 characters) and throws INVALID_FIELD for unknown paths.
 */
export function evaluateCondition(cond: SoqlCondition, resolve: (path: string) => unknown, normalise: (path: string, v: SoqlValue) => SoqlValue): boolean {
  switch (cond.kind) {
    case 'and': return cond.parts.every((p) => evaluateCondition(p, resolve, normalise));
    case 'or': return cond.parts.some((p) => evaluateCondition(p, resolve, normalise));
    case 'not': return !evaluateCondition(cond.part, resolve, normalise);
    default: {
      const actual = resolve(cond.field);
      const norm = (v: SoqlValue): SoqlValue => normalise(cond.field, v);
      const { op, value } = cond;
      if (Array.isArray(value)) {
        const hit = value.some((v) => equals(actual, norm(v)));
        return op === 'IN' ? hit : !hit;
      }
      if (op === '=') return equals(actual, norm(value));
      if (op === '!=') return !equals(actual, norm(value));
      if (op === 'LIKE') return likeMatches(actual, String(value));
      if (actual === null || actual === undefined || value === null) return false;
      const x = actual as string | number;
      const y = norm(value) as string | number;
      return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
    }
  }
}
