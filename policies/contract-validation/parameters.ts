/**
 * @module Reads an operation's declared parameters off a request, as OpenAPI serialises them
 * (§4.8.12.4 styles: path `simple`/`label`/`matrix`, query `form`/`spaceDelimited`/
 * `pipeDelimited`/`deepObject`, header `simple`, cookie `form`), into the
 * `{ path, query, headers, cookies }` object the compiled validator checks. Values stay
 * strings; the validator coerces them per schema. Undeclared query parameters and headers are
 * not read at all.
 */
import type { IncomingMessage } from 'node:http';
import { escapePointerToken } from '../../contracts/index.js';
import type { ParameterPlan, ParametersPlan } from './compile.js';

/** One problem with a request: a JSON Pointer into it (`/query/limit`) and what is wrong. Never a value. */
export interface RequestError {
  pointer: string;
  detail: string;
}

export type ParameterValues = Record<string, Record<string, unknown>>;

const NOT_ENCODED = 'is not valid percent-encoding';
const NOT_JSON = 'is not valid JSON';

/**
 * An object whose keys the caller chooses (`total[__proto__]=…`): without a prototype, such a
 * key is an ordinary member the schema can refuse, never a prototype change.
 */
function clientKeyed(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}

/** `undefined` when the escapes are broken. */
function decode(raw: string): string | undefined {
  if (raw.indexOf('%') === -1) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** application/x-www-form-urlencoded: `+` is a space. */
function decodeQuery(raw: string): string | undefined {
  return decode(raw.indexOf('+') === -1 ? raw : raw.replace(/\+/g, ' '));
}

/** `k1,v1,k2,v2` (not exploded) or `k1=v1,k2=v2` (exploded) → an object. */
function pairs(parts: readonly string[], exploded: boolean): Record<string, string> {
  const object = clientKeyed();
  if (exploded) {
    for (const part of parts) {
      const eq = part.indexOf('=');
      if (eq > 0) object[part.slice(0, eq)] = part.slice(eq + 1);
    }
  } else {
    for (let i = 0; i + 1 < parts.length; i += 2) object[parts[i]!] = parts[i + 1]!;
  }
  return object;
}

/** Splits on raw delimiters first, then decodes each part, so an escaped delimiter stays data. */
function decodeAll(parts: readonly string[], decoder: (raw: string) => string | undefined): string[] | undefined {
  const out: string[] = [];
  for (const part of parts) {
    const value = decoder(part);
    if (value === undefined) return undefined;
    out.push(value);
  }
  return out;
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

/** A path parameter's raw segment text → its value (string, array or object), or an error detail. */
function readPath(plan: ParameterPlan, raw: string): { value: unknown } | string {
  let text = raw;
  let separator = ',';
  if (plan.style === 'label') {
    if (!text.startsWith('.')) return 'must be in label style (.value)';
    text = text.slice(1);
    if (plan.explode) separator = '.';
  } else if (plan.style === 'matrix') {
    const prefix = `;${plan.name}=`;
    if (plan.shape === 'array' && plan.explode) {
      const parts = text.split(';').slice(1);
      if (parts.length === 0 || !parts.every((p) => p.startsWith(`${plan.name}=`))) return `must be in matrix style (;${plan.name}=value)`;
      const values = decodeAll(
        parts.map((p) => p.slice(plan.name.length + 1)),
        decode,
      );
      return values === undefined ? NOT_ENCODED : { value: values };
    }
    if (!text.startsWith(prefix)) return `must be in matrix style (;${plan.name}=value)`;
    text = text.slice(prefix.length);
  }
  if (plan.json) {
    const decoded = decode(text);
    if (decoded === undefined) return NOT_ENCODED;
    return parseJson(decoded) ?? NOT_JSON;
  }
  if (plan.shape === 'scalar') {
    const value = decode(text);
    return value === undefined ? NOT_ENCODED : { value };
  }
  const parts = decodeAll(text.split(separator), decode);
  if (parts === undefined) return NOT_ENCODED;
  return { value: plan.shape === 'array' ? parts : pairs(parts, plan.explode) };
}

/** A header's value → its value per `simple` style (headers are not percent-encoded). */
function readHeader(plan: ParameterPlan, raw: string): { value: unknown } | string {
  if (plan.json) return parseJson(raw) ?? NOT_JSON;
  if (plan.shape === 'scalar') return { value: raw };
  const parts = raw.split(',').map((p) => p.trim());
  return { value: plan.shape === 'array' ? parts : pairs(parts, plan.explode) };
}

/** Raw (still encoded) values of the query parameters the operation declares, by decoded name. */
function scanQuery(query: string, plan: ParametersPlan, deep: ReadonlySet<string>): Map<string, string[]> {
  const found = new Map<string, string[]>();
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    if (end > start) {
      const eq = query.indexOf('=', start);
      const nameEnd = eq === -1 || eq > end ? end : eq;
      const rawName = query.slice(start, nameEnd);
      const name = decodeQuery(rawName) ?? rawName;
      const bracket = name.indexOf('[');
      if (plan.queryNames.has(name) || (bracket > 0 && deep.has(name.slice(0, bracket)))) {
        const value = nameEnd === end ? '' : query.slice(nameEnd + 1, end);
        const list = found.get(name);
        if (list === undefined) found.set(name, [value]);
        else list.push(value);
      }
    }
    start = end + 1;
  }
  return found;
}

const DELIMITERS: Readonly<Record<string, RegExp>> = {
  form: /,/,
  spaceDelimited: /%20|\+| /,
  pipeDelimited: /%7C|\|/i,
};

function readQuery(plan: ParameterPlan, found: Map<string, string[]>): { value: unknown } | string | undefined {
  if (plan.style === 'deepObject') {
    const object = clientKeyed();
    let any = false;
    const prefix = `${plan.name}[`;
    for (const [name, values] of found) {
      if (!name.startsWith(prefix) || !name.endsWith(']')) continue;
      const value = decodeQuery(values[0]!);
      if (value === undefined) return NOT_ENCODED;
      object[name.slice(prefix.length, -1)] = value;
      any = true;
    }
    return any ? { value: object } : undefined;
  }
  if (plan.shape === 'object' && plan.style === 'form' && plan.explode) {
    const object: Record<string, unknown> = {};
    let any = false;
    for (const property of plan.objectProperties) {
      const values = found.get(property);
      if (values === undefined) continue;
      const decoded = decodeAll(values, decodeQuery);
      if (decoded === undefined) return NOT_ENCODED;
      object[property] = decoded.length === 1 ? decoded[0] : decoded;
      any = true;
    }
    return any ? { value: object } : undefined;
  }
  const values = found.get(plan.name);
  if (values === undefined) return undefined;
  if (plan.json) {
    const text = decodeQuery(values[0]!);
    if (text === undefined) return NOT_ENCODED;
    return parseJson(text) ?? NOT_JSON;
  }
  if (plan.shape === 'scalar' || (plan.shape === 'array' && plan.explode && plan.style === 'form')) {
    const decoded = decodeAll(values, decodeQuery);
    if (decoded === undefined) return NOT_ENCODED;
    // A scalar given twice stays a list, which its schema then refuses.
    return { value: decoded.length === 1 && plan.shape === 'scalar' ? decoded[0] : decoded };
  }
  const delimiter = DELIMITERS[plan.style] ?? DELIMITERS.form!;
  const parts = decodeAll(
    values.flatMap((v) => v.split(delimiter)),
    decodeQuery,
  );
  if (parts === undefined) return NOT_ENCODED;
  return { value: plan.shape === 'array' ? parts : pairs(parts, false) };
}

/** `name=value` pairs of the Cookie header (RFC 6265 §4.2.1). */
function scanCookies(header: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    found.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return found;
}

/**
 * The declared parameters of a request, read into `{ path, query, headers, cookies }` (only the
 * sections the operation declares). Values that cannot even be read (broken escapes, JSON that
 * does not parse) are reported in `errors` and left out.
 *
 * @example
 * const values = readParameters(plan, req, '/orders/42?limit=10', errors);
 * // { path: { id: '42' }, query: { limit: '10' } }
 */
export function readParameters(plan: ParametersPlan, req: IncomingMessage, upstreamPath: string, errors: RequestError[]): ParameterValues {
  const values: ParameterValues = {};
  const queryAt = upstreamPath.indexOf('?');
  if (plan.path.length > 0) {
    const path: Record<string, unknown> = (values.path = {});
    const match = plan.pathPattern?.exec(queryAt === -1 ? upstreamPath : upstreamPath.slice(0, queryAt));
    if (match !== null && match !== undefined) {
      for (const parameter of plan.path) {
        const read = readPath(parameter, match[parameter.group]!);
        if (typeof read === 'string') errors.push({ pointer: `/path/${escapePointerToken(parameter.name)}`, detail: read });
        else path[parameter.name] = read.value;
      }
    }
  }
  if (plan.query.length > 0) {
    const query: Record<string, unknown> = (values.query = {});
    if (queryAt !== -1) {
      const found = scanQuery(upstreamPath.slice(queryAt + 1), plan, plan.deepObjects);
      for (const parameter of plan.query) {
        const read = readQuery(parameter, found);
        if (typeof read === 'string') errors.push({ pointer: `/query/${escapePointerToken(parameter.name)}`, detail: read });
        else if (read !== undefined) query[parameter.name] = read.value;
      }
    }
  }
  if (plan.headers.length > 0) {
    const headers: Record<string, unknown> = (values.headers = {});
    for (const parameter of plan.headers) {
      const raw = req.headers[parameter.name];
      if (raw === undefined) continue;
      const read = readHeader(parameter, Array.isArray(raw) ? raw.join(', ') : raw);
      if (typeof read === 'string') errors.push({ pointer: `/headers/${escapePointerToken(parameter.name)}`, detail: read });
      else headers[parameter.name] = read.value;
    }
  }
  if (plan.cookies.length > 0) {
    const cookies: Record<string, unknown> = (values.cookies = {});
    const header = req.headers.cookie;
    if (header !== undefined) {
      const found = scanCookies(header);
      for (const parameter of plan.cookies) {
        const raw = found.get(parameter.name);
        if (raw === undefined) continue;
        const parts = parameter.shape === 'array' && !parameter.json ? raw.split(',') : [raw];
        const decoded = decodeAll(parts, (p) => decode(p) ?? p);
        if (parameter.json) {
          const parsed = parseJson(decoded![0]!);
          if (parsed === undefined) errors.push({ pointer: `/cookies/${escapePointerToken(parameter.name)}`, detail: NOT_JSON });
          else cookies[parameter.name] = parsed.value;
        } else {
          cookies[parameter.name] = parameter.shape === 'array' ? decoded : decoded![0];
        }
      }
    }
  }
  return values;
}
