/**
 * @module Breaking-change detection between two versions of a contract (OpenAPI 3.0 or 3.1,
 * JSON): pure functions that normalise both documents and classify every change as breaking or
 * not, with a JSON Pointer location and a message. No I/O; only local `$ref`s are followed.
 *
 * Direction decides what breaks (a client that worked against `before` must keep working against
 * `after`): requests break when they are narrowed (a new required parameter or property, an enum
 * value removed, a type narrowed, `maxLength` lowered, `minimum` raised, `additionalProperties:
 * false` newly set), responses break when they lose or loosen things (a property removed or made
 * optional or nullable, a status removed, a type widened). An enum value added to a response is
 * breaking: strict clients (generated enums, exhaustive switches) reject values they do not know.
 */
import {
  OPENAPI_METHODS,
  dereference,
  escapePointerToken,
  isJsonObject,
  openApiDialect,
  securityAlternatives,
  type ContractOperation,
  type JsonObject,
  type OpenApiDialect,
} from './openapi.js';

/** Whether a schema describes what the client sends (`request`) or what it receives (`response`). */
export type DiffDirection = 'request' | 'response';

/** One difference between two contracts. */
export interface ContractChange {
  /** Stable kebab-case rule name, e.g. `operation-removed`, `required-property-added`. */
  rule: string;
  /** True when a client written against `before` may fail against `after`. */
  breaking: boolean;
  /** RFC 6901 JSON Pointer into `after` (into `before` for removals), e.g. `/paths/~1orders/post`. */
  location: string;
  /** The affected operation's `operationId` (the after one; the before one for removals), when it has one. */
  operationId?: string;
  /** Set for schema-level changes: the side of the exchange the schema describes. */
  direction?: DiffDirection;
  message: string;
}

/** Every change, ordered by location then rule; `breaking` when any change is. */
export interface ContractDiff {
  changes: ContractChange[];
  breaking: boolean;
}

interface Side {
  doc: JsonObject;
  dialect: OpenApiDialect;
}

interface NormalisedOperation {
  method: string;
  path: string;
  pointer: string;
  operation: JsonObject;
  pathItem: JsonObject;
  pathItemPointer: string;
  operationId?: string;
}

interface Context {
  before: Side;
  after: Side;
  operationId: string | undefined;
  label: string;
  changes: ContractChange[];
  visited: Set<string>;
}

/**
 * Diffs two contracts. Operations are matched by method and path template with parameter names
 * ignored (`/orders/{id}` and `/orders/{orderId}` are the same operation); path-level parameters
 * are merged into each operation; local `$ref`s are resolved (a recursive schema is compared once
 * per pair of locations, so cycles terminate); 3.0 `nullable: true` and 3.1 `type: [..., "null"]`
 * are the same thing. Throws when either document is not OpenAPI 3.0.x/3.1.x or a Path Item,
 * Parameter, Request Body or Response reference does not resolve.
 *
 * @example
 * const diff = diffContracts(published, submitted);
 * if (diff.breaking) refuse(diff.changes.filter((c) => c.breaking).map((c) => `${c.location}: ${c.message}`));
 */
export function diffContracts(before: object, after: object): ContractDiff {
  const b: Side = { doc: before as JsonObject, dialect: openApiDialect(before as JsonObject) };
  const a: Side = { doc: after as JsonObject, dialect: openApiDialect(after as JsonObject) };
  const changes: ContractChange[] = [];
  const beforeOps = normalisedOperations(b.doc);
  const afterOps = normalisedOperations(a.doc);
  const afterTemplates = new Set([...afterOps.values()].map((op) => templateKey(op.path)));
  const removedPaths = new Map<string, NormalisedOperation[]>();

  for (const [key, op] of beforeOps) {
    if (afterOps.has(key)) continue;
    if (!afterTemplates.has(templateKey(op.path))) {
      const list = removedPaths.get(op.pathItemPointer) ?? [];
      list.push(op);
      removedPaths.set(op.pathItemPointer, list);
      continue;
    }
    changes.push(change('operation-removed', true, op.pointer, op.operationId, `${op.method} ${op.path} was removed`));
  }
  for (const [pointer, ops] of removedPaths) {
    const first = ops[0] as NormalisedOperation;
    changes.push({
      rule: 'path-removed',
      breaking: true,
      location: pointer,
      message: `path ${first.path} was removed with its operations ${ops.map((o) => o.operationId ?? o.method).join(', ')}`,
    });
  }
  for (const [key, op] of afterOps) {
    const old = beforeOps.get(key);
    if (old === undefined) {
      changes.push(change('operation-added', false, op.pointer, op.operationId, `${op.method} ${op.path} was added`));
      continue;
    }
    const ctx: Context = { before: b, after: a, operationId: op.operationId, label: `${op.method} ${op.path}`, changes, visited: new Set() };
    diffOperation(ctx, old, op);
  }

  const seen = new Set<string>();
  const unique = changes.filter((c) => {
    const id = `${c.rule}\u0000${c.location}\u0000${c.operationId ?? ''}\u0000${c.direction ?? ''}\u0000${c.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  unique.sort((x, y) => compare(x.location, y.location) || compare(x.rule, y.rule) || compare(x.operationId ?? '', y.operationId ?? '') || compare(x.message, y.message));
  return { changes: unique, breaking: unique.some((c) => c.breaking) };
}

function compare(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

function change(rule: string, breaking: boolean, location: string, operationId: string | undefined, message: string, direction?: DiffDirection): ContractChange {
  return {
    rule,
    breaking,
    location,
    ...(operationId === undefined ? {} : { operationId }),
    ...(direction === undefined ? {} : { direction }),
    message,
  };
}

/** `#/components/schemas/Order` (URI fragment, maybe percent-encoded) → `/components/schemas/Order`. */
function toPointer(pointer: string): string {
  if (!pointer.startsWith('#')) return pointer;
  try {
    return decodeURIComponent(pointer.slice(1));
  } catch {
    return pointer.slice(1);
  }
}

function templateKey(path: string): string {
  return path.replace(/\{[^}/]*\}/g, '{}');
}

function normalisedOperations(doc: JsonObject): Map<string, NormalisedOperation> {
  const found = new Map<string, NormalisedOperation>();
  const paths = doc.paths;
  if (paths === undefined) return found;
  if (!isJsonObject(paths)) throw new Error('contract: "paths" must be an object');
  for (const [path, rawItem] of Object.entries(paths)) {
    const resolved = dereference(doc, rawItem, `#/paths/${escapePointerToken(path)}`);
    const pathItemPointer = toPointer(resolved.pointer);
    for (const method of OPENAPI_METHODS) {
      const operation = resolved.value[method];
      if (!isJsonObject(operation)) continue;
      const op: NormalisedOperation = { method: method.toUpperCase(), path, pointer: `${pathItemPointer}/${method}`, operation, pathItem: resolved.value, pathItemPointer };
      if (typeof operation.operationId === 'string') op.operationId = operation.operationId;
      found.set(`${op.method} ${templateKey(path)}`, op);
    }
  }
  return found;
}

function diffOperation(ctx: Context, before: NormalisedOperation, after: NormalisedOperation): void {
  if (before.operationId !== undefined && after.operationId !== undefined && before.operationId !== after.operationId) {
    push(ctx, 'operation-id-changed', false, `${after.pointer}/operationId`, `operationId changed from "${before.operationId}" to "${after.operationId}" (HTTP clients are unaffected; generated SDK method names change)`);
  }
  diffParameters(ctx, before, after);
  diffRequestBody(ctx, before, after);
  diffResponses(ctx, before, after);
  diffSecurity(ctx, before, after);
}

function push(ctx: Context, rule: string, breaking: boolean, location: string, message: string, direction?: DiffDirection): void {
  ctx.changes.push(change(rule, breaking, location, ctx.operationId, `${ctx.label}: ${message}`, direction));
}

// ---------------------------------------------------------------- parameters

interface Parameter {
  key: string;
  name: string;
  in: string;
  pointer: string;
  value: JsonObject;
}

/** Path-level parameters overridden by operation-level ones with the same name and location (OpenAPI §4.8.9). */
function mergedParameters(doc: JsonObject, op: NormalisedOperation): Map<string, Parameter> {
  const byNameIn = new Map<string, Parameter>();
  const collect = (list: unknown, base: string) => {
    if (!Array.isArray(list)) return;
    list.forEach((raw, i) => {
      const { value, pointer } = dereference(doc, raw, `${base}/parameters/${i}`);
      const name = typeof value.name === 'string' ? value.name : '';
      const where = typeof value.in === 'string' ? value.in : '';
      const key = where === 'path' ? pathParameterKey(op.path, name) : `${where}:${where === 'header' ? name.toLowerCase() : name}`;
      byNameIn.set(`${where}:${name}`, { key, name, in: where, pointer: toPointer(pointer), value });
    });
  };
  collect(op.pathItem.parameters, op.pathItemPointer);
  collect(op.operation.parameters, op.pointer);
  return new Map([...byNameIn.values()].map((p) => [p.key, p]));
}

/** A path parameter is identified by its position in the template, so renaming it is no removal. */
function pathParameterKey(path: string, name: string): string {
  const names = [...path.matchAll(/\{([^}/]*)\}/g)].map((m) => m[1]);
  const index = names.indexOf(name);
  return index < 0 ? `path:${name}` : `path#${index}`;
}

function parameterSchema(p: Parameter): { schema: unknown; pointer: string } | undefined {
  if (p.value.schema !== undefined) return { schema: p.value.schema, pointer: `${p.pointer}/schema` };
  if (isJsonObject(p.value.content)) {
    const [media, body] = Object.entries(p.value.content)[0] ?? [];
    if (media !== undefined && isJsonObject(body) && body.schema !== undefined) {
      return { schema: body.schema, pointer: `${p.pointer}/content/${escapePointerToken(media)}/schema` };
    }
  }
  return undefined;
}

function diffParameters(ctx: Context, before: NormalisedOperation, after: NormalisedOperation): void {
  const b = mergedParameters(ctx.before.doc, before);
  const a = mergedParameters(ctx.after.doc, after);
  for (const [key, old] of b) {
    if (a.has(key)) continue;
    push(ctx, 'parameter-removed', false, old.pointer, `${old.in} parameter "${old.name}" was removed (clients may keep sending it)`);
  }
  for (const [key, now] of a) {
    const old = b.get(key);
    const required = now.in === 'path' || now.value.required === true;
    if (old === undefined) {
      if (required) push(ctx, 'required-parameter-added', true, now.pointer, `required ${now.in} parameter "${now.name}" was added`);
      else push(ctx, 'optional-parameter-added', false, now.pointer, `optional ${now.in} parameter "${now.name}" was added`);
      continue;
    }
    if (old.in === 'path' && old.name !== now.name) {
      push(ctx, 'path-parameter-renamed', false, now.pointer, `path parameter "${old.name}" was renamed to "${now.name}" (the URL is unchanged)`);
    }
    const wasRequired = old.in === 'path' || old.value.required === true;
    if (!wasRequired && required) push(ctx, 'parameter-made-required', true, `${now.pointer}/required`, `${now.in} parameter "${now.name}" became required`);
    if (wasRequired && !required) push(ctx, 'parameter-made-optional', false, now.pointer, `${now.in} parameter "${now.name}" became optional`);
    const bs = parameterSchema(old);
    const as = parameterSchema(now);
    if (bs !== undefined && as !== undefined) diffSchema(ctx, 'request', bs.schema, bs.pointer, as.schema, as.pointer, `${now.in} parameter "${now.name}"`);
  }
}

// ---------------------------------------------------------------- request body and responses

function diffRequestBody(ctx: Context, before: NormalisedOperation, after: NormalisedOperation): void {
  const bRaw = before.operation.requestBody;
  const aRaw = after.operation.requestBody;
  if (bRaw === undefined && aRaw === undefined) return;
  if (aRaw === undefined) {
    push(ctx, 'request-body-removed', false, `${before.pointer}/requestBody`, 'the request body was removed (clients may keep sending it)');
    return;
  }
  const a = dereference(ctx.after.doc, aRaw, `${after.pointer}/requestBody`);
  const aPtr = toPointer(a.pointer);
  if (bRaw === undefined) {
    if (a.value.required === true) push(ctx, 'required-request-body-added', true, aPtr, 'a required request body was added');
    else push(ctx, 'optional-request-body-added', false, aPtr, 'an optional request body was added');
    return;
  }
  const b = dereference(ctx.before.doc, bRaw, `${before.pointer}/requestBody`);
  const bPtr = toPointer(b.pointer);
  if (b.value.required !== true && a.value.required === true) push(ctx, 'request-body-made-required', true, `${aPtr}/required`, 'the request body became required');
  if (b.value.required === true && a.value.required !== true) push(ctx, 'request-body-made-optional', false, aPtr, 'the request body became optional');
  diffContent(ctx, 'request', b.value.content, `${bPtr}/content`, a.value.content, `${aPtr}/content`, 'request body');
}

function diffContent(ctx: Context, direction: DiffDirection, bContent: unknown, bPtr: string, aContent: unknown, aPtr: string, what: string): void {
  const b = isJsonObject(bContent) ? bContent : {};
  const a = isJsonObject(aContent) ? aContent : {};
  for (const media of Object.keys(b)) {
    if (Object.hasOwn(a, media)) continue;
    push(ctx, `${direction}-media-type-removed`, true, `${bPtr}/${escapePointerToken(media)}`, `${what} no longer accepts/offers ${media}`, direction);
  }
  for (const [media, value] of Object.entries(a)) {
    const loc = `${aPtr}/${escapePointerToken(media)}`;
    const old = b[media];
    if (old === undefined) {
      push(ctx, `${direction}-media-type-added`, false, loc, `${what} now also accepts/offers ${media}`, direction);
      continue;
    }
    if (isJsonObject(old) && isJsonObject(value) && old.schema !== undefined && value.schema !== undefined) {
      diffSchema(ctx, direction, old.schema, `${bPtr}/${escapePointerToken(media)}/schema`, value.schema, `${loc}/schema`, `${what} (${media})`);
    }
  }
}

function diffResponses(ctx: Context, before: NormalisedOperation, after: NormalisedOperation): void {
  const b = isJsonObject(before.operation.responses) ? before.operation.responses : {};
  const a = isJsonObject(after.operation.responses) ? after.operation.responses : {};
  for (const status of Object.keys(b)) {
    if (Object.hasOwn(a, status)) continue;
    push(ctx, 'response-status-removed', true, `${before.pointer}/responses/${escapePointerToken(status)}`, `response ${status} was removed`, 'response');
  }
  for (const [status, raw] of Object.entries(a)) {
    const at = `${after.pointer}/responses/${escapePointerToken(status)}`;
    if (!Object.hasOwn(b, status)) {
      push(ctx, 'response-status-added', false, at, `response ${status} was added`, 'response');
      continue;
    }
    const old = dereference(ctx.before.doc, b[status], `${before.pointer}/responses/${escapePointerToken(status)}`);
    const now = dereference(ctx.after.doc, raw, at);
    diffContent(ctx, 'response', old.value.content, `${toPointer(old.pointer)}/content`, now.value.content, `${toPointer(now.pointer)}/content`, `response ${status}`);
  }
}

// ---------------------------------------------------------------- security

function asContractOperation(op: NormalisedOperation): ContractOperation {
  return { id: op.operationId ?? '', method: op.method, path: op.path, pointer: `#${op.pointer}`, operation: op.operation, pathItem: op.pathItem, pathItemPointer: `#${op.pathItemPointer}` };
}

function diffSecurity(ctx: Context, before: NormalisedOperation, after: NormalisedOperation): void {
  const normalise = (alts: string[][] | undefined) => (alts === undefined || alts.length === 0 ? [[]] : alts);
  const b = normalise(securityAlternatives(ctx.before.doc, asContractOperation(before)));
  const a = normalise(securityAlternatives(ctx.after.doc, asContractOperation(after)));
  const location = after.operation.security !== undefined ? `${after.pointer}/security` : ctx.after.doc.security !== undefined ? '/security' : after.pointer;
  // A caller holding exactly the scopes of one before-alternative must still satisfy some after-alternative.
  const stranded = b.filter((held) => !a.some((needed) => needed.every((s) => held.includes(s))));
  if (stranded.length > 0) {
    const added = [...new Set(a.flat().filter((s) => !stranded.some((held) => held.includes(s))))].sort();
    push(ctx, 'security-scope-added', true, location, `callers granted [${stranded.map((s) => s.join(' ')).join('] or [')}] no longer pass; now required: ${added.length > 0 ? added.join(', ') : 'different scopes'}`);
    return;
  }
  const canon = (alts: string[][]) => JSON.stringify(alts.map((s) => [...s].sort()).sort());
  if (canon(a) !== canon(b)) push(ctx, 'security-scope-removed', false, location, 'the security requirement was relaxed; every caller that passed before still passes');
}

// ---------------------------------------------------------------- schemas

const NUMERIC_BOUNDS = [
  ['maxLength', 'upper'],
  ['maxItems', 'upper'],
  ['maxProperties', 'upper'],
  ['minLength', 'lower'],
  ['minItems', 'lower'],
  ['minProperties', 'lower'],
] as const;

interface Resolved {
  schema: JsonObject;
  pointer: string;
}

function resolveSchema(doc: JsonObject, raw: unknown, pointer: string): Resolved | undefined {
  if (raw === true || raw === undefined) return { schema: {}, pointer };
  if (raw === false) return { schema: { not: {} }, pointer };
  try {
    const { value, pointer: at } = dereference(doc, raw, pointer);
    return { schema: value, pointer: toPointer(at) };
  } catch {
    return undefined; // a dangling or circular $ref chain: the linter reports it; the diff compares nothing here
  }
}

/** Types a schema admits (`integer` within `number`), `null` included; `undefined` means any type. */
function schemaTypes(side: Side, schema: JsonObject, depth = 0): Set<string> | undefined {
  let types: Set<string> | undefined;
  if (typeof schema.type === 'string') types = new Set([schema.type]);
  else if (Array.isArray(schema.type)) types = new Set(schema.type.filter((t): t is string => typeof t === 'string'));
  else if (Array.isArray(schema.allOf) && depth < 8) {
    for (const member of schema.allOf) {
      const r = resolveSchema(side.doc, member, '');
      const t = r === undefined ? undefined : schemaTypes(side, r.schema, depth + 1);
      if (t !== undefined) {
        types = t;
        break;
      }
    }
  }
  if (types !== undefined && side.dialect === '3.0' && schema.nullable === true) types.add('null');
  return types;
}

function covers(wide: Set<string>, narrow: Set<string>): boolean {
  return [...narrow].every((t) => wide.has(t) || (t === 'integer' && wide.has('number')));
}

interface Shape {
  properties: Map<string, { schema: unknown; pointer: string }>;
  required: Set<string>;
  additional?: { value: unknown; pointer: string };
}

/** Properties, required names and `additionalProperties` of a schema with its `allOf` members folded in. */
function objectShape(side: Side, schema: JsonObject, pointer: string, shape: Shape = { properties: new Map(), required: new Set() }, depth = 0): Shape {
  if (isJsonObject(schema.properties)) {
    for (const [name, value] of Object.entries(schema.properties)) {
      shape.properties.set(name, { schema: value, pointer: `${pointer}/properties/${escapePointerToken(name)}` });
    }
  }
  if (Array.isArray(schema.required)) for (const name of schema.required) if (typeof name === 'string') shape.required.add(name);
  if (schema.additionalProperties !== undefined && (shape.additional === undefined || schema.additionalProperties === false)) {
    shape.additional = { value: schema.additionalProperties, pointer: `${pointer}/additionalProperties` };
  }
  if (Array.isArray(schema.allOf) && depth < 8) {
    schema.allOf.forEach((member, i) => {
      const r = resolveSchema(side.doc, member, `${pointer}/allOf/${i}`);
      if (r !== undefined) objectShape(side, r.schema, r.pointer, shape, depth + 1);
    });
  }
  return shape;
}

function describeTypes(types: Set<string> | undefined): string {
  return types === undefined ? 'any' : [...types].sort().join('|');
}

interface Bound {
  value: number;
  exclusive: boolean;
}

/** The effective lower (`minimum`) or upper (`maximum`) bound, 3.0 boolean or 3.1 numeric exclusivity. */
function numericBound(side: Side, schema: JsonObject, which: 'minimum' | 'maximum'): Bound | undefined {
  const exclusiveKey = which === 'minimum' ? 'exclusiveMinimum' : 'exclusiveMaximum';
  const inclusive = typeof schema[which] === 'number' ? (schema[which] as number) : undefined;
  const exclusive = schema[exclusiveKey];
  if (side.dialect === '3.0' || typeof exclusive === 'boolean') {
    return inclusive === undefined ? undefined : { value: inclusive, exclusive: exclusive === true };
  }
  const candidates: Bound[] = [];
  if (inclusive !== undefined) candidates.push({ value: inclusive, exclusive: false });
  if (typeof exclusive === 'number') candidates.push({ value: exclusive, exclusive: true });
  if (candidates.length === 0) return undefined;
  const tighter = (x: Bound, y: Bound) => (which === 'minimum' ? x.value > y.value || (x.value === y.value && x.exclusive) : x.value < y.value || (x.value === y.value && x.exclusive));
  return candidates.reduce((best, c) => (tighter(c, best) ? c : best));
}

/** -1: `after` admits less than `before`; 1: more; 0: the same. */
function compareBound(before: Bound | undefined, after: Bound | undefined, which: 'minimum' | 'maximum'): number {
  if (before === undefined && after === undefined) return 0;
  if (before === undefined) return -1;
  if (after === undefined) return 1;
  if (before.value === after.value) return before.exclusive === after.exclusive ? 0 : after.exclusive ? -1 : 1;
  const raised = after.value > before.value;
  return which === 'minimum' ? (raised ? -1 : 1) : raised ? 1 : -1;
}

/** Reports a narrowing (`after` admits less) or a widening: each breaks one direction only. */
function narrowedOrWidened(ctx: Context, direction: DiffDirection, narrowed: boolean, narrowRule: string, wideRule: string, location: string, message: string): void {
  const rule = narrowed ? narrowRule : wideRule;
  const breaking = direction === 'request' ? narrowed : !narrowed;
  push(ctx, rule, breaking, location, message, direction);
}

function diffSchema(ctx: Context, direction: DiffDirection, bRaw: unknown, bPointer: string, aRaw: unknown, aPointer: string, what: string): void {
  const b = resolveSchema(ctx.before.doc, bRaw, bPointer);
  const a = resolveSchema(ctx.after.doc, aRaw, aPointer);
  if (b === undefined || a === undefined) return;
  const visit = `${direction}\u0000${b.pointer}\u0000${a.pointer}`;
  if (ctx.visited.has(visit)) return; // a recursive schema: this pair is already being (or was) compared
  ctx.visited.add(visit);
  const bs = b.schema;
  const as = a.schema;
  const at = a.pointer;

  // Types: null separately, so 3.0 `nullable` and 3.1 `"null"` compare equal and read well.
  const bTypes = schemaTypes(ctx.before, bs);
  const aTypes = schemaTypes(ctx.after, as);
  const bNull = bTypes === undefined || bTypes.has('null');
  const aNull = aTypes === undefined || aTypes.has('null');
  const strip = (t: Set<string> | undefined) => (t === undefined ? undefined : new Set([...t].filter((x) => x !== 'null')));
  const bCore = strip(bTypes);
  const aCore = strip(aTypes);
  if (bTypes !== undefined && aTypes !== undefined && bNull !== aNull) {
    narrowedOrWidened(ctx, direction, bNull, 'nullable-removed', 'nullable-added', `${at}/type`, `${what} ${bNull ? 'no longer accepts/returns null' : 'may now be null'}`);
  }
  const wider = aCore === undefined || (bCore !== undefined && covers(aCore, bCore));
  const narrower = bCore === undefined || (aCore !== undefined && covers(bCore, aCore));
  const typeMessage = `${what} type changed from ${describeTypes(bCore)} to ${describeTypes(aCore)}`;
  if (wider && narrower) {
    // unchanged
  } else if (wider || narrower) {
    narrowedOrWidened(ctx, direction, narrower, 'type-narrowed', 'type-widened', `${at}/type`, typeMessage);
  } else {
    push(ctx, 'type-changed', true, `${at}/type`, typeMessage, direction);
  }

  // Enums.
  const bEnum = Array.isArray(bs.enum) ? bs.enum : undefined;
  const aEnum = Array.isArray(as.enum) ? as.enum : undefined;
  const key = (v: unknown) => JSON.stringify(v);
  if (bEnum !== undefined && aEnum !== undefined) {
    const removed = bEnum.filter((v) => !aEnum.some((w) => key(w) === key(v)));
    const added = aEnum.filter((v) => !bEnum.some((w) => key(w) === key(v)));
    if (removed.length > 0) push(ctx, 'enum-value-removed', direction === 'request', `${at}/enum`, `${what} enum lost ${removed.map(key).join(', ')}`, direction);
    if (added.length > 0) push(ctx, 'enum-value-added', direction === 'response', `${at}/enum`, `${what} enum gained ${added.map(key).join(', ')}${direction === 'response' ? ' (strict clients reject unknown values)' : ''}`, direction);
  } else if (aEnum !== undefined) {
    narrowedOrWidened(ctx, direction, true, 'enum-added', 'enum-removed', `${at}/enum`, `${what} is now limited to ${aEnum.map(key).join(', ')}`);
  } else if (bEnum !== undefined) {
    narrowedOrWidened(ctx, direction, false, 'enum-added', 'enum-removed', at, `${what} is no longer limited to an enum`);
  }

  // Numeric constraints.
  for (const [keyword, kind] of NUMERIC_BOUNDS) {
    const before = typeof bs[keyword] === 'number' ? (bs[keyword] as number) : undefined;
    const after = typeof as[keyword] === 'number' ? (as[keyword] as number) : undefined;
    if (before === after) continue;
    const narrowed = after !== undefined && (before === undefined || (kind === 'upper' ? after < before : after > before));
    narrowedOrWidened(ctx, direction, narrowed, 'constraint-narrowed', 'constraint-relaxed', after === undefined ? at : `${at}/${keyword}`, `${what} ${keyword} changed from ${before ?? 'none'} to ${after ?? 'none'}`);
  }
  for (const which of ['minimum', 'maximum'] as const) {
    const cmp = compareBound(numericBound(ctx.before, bs, which), numericBound(ctx.after, as, which), which);
    if (cmp === 0) continue;
    const describe = (x: Bound | undefined) => (x === undefined ? 'none' : `${x.value}${x.exclusive ? ' (exclusive)' : ''}`);
    const loc = as[which] !== undefined ? `${at}/${which}` : as[which === 'minimum' ? 'exclusiveMinimum' : 'exclusiveMaximum'] !== undefined ? `${at}/${which === 'minimum' ? 'exclusiveMinimum' : 'exclusiveMaximum'}` : at;
    narrowedOrWidened(ctx, direction, cmp < 0, 'constraint-narrowed', 'constraint-relaxed', loc, `${what} ${which} changed from ${describe(numericBound(ctx.before, bs, which))} to ${describe(numericBound(ctx.after, as, which))}`);
  }
  for (const keyword of ['pattern', 'format'] as const) {
    const before = typeof bs[keyword] === 'string' ? (bs[keyword] as string) : undefined;
    const after = typeof as[keyword] === 'string' ? (as[keyword] as string) : undefined;
    if (before === after) continue;
    // A changed pattern or format is incomparable: it narrows in one way and widens in another.
    const breaking = direction === 'request' ? after !== undefined : before !== undefined;
    push(ctx, `${keyword}-changed`, breaking, after === undefined ? at : `${at}/${keyword}`, `${what} ${keyword} changed from ${before ?? 'none'} to ${after ?? 'none'}`, direction);
  }

  diffObject(ctx, direction, b, a, what);

  if (bs.items !== undefined && as.items !== undefined) diffSchema(ctx, direction, bs.items, `${b.pointer}/items`, as.items, `${at}/items`, `${what} items`);
  for (const keyword of ['oneOf', 'anyOf'] as const) {
    const bList = Array.isArray(bs[keyword]) ? (bs[keyword] as unknown[]) : [];
    const aList = Array.isArray(as[keyword]) ? (as[keyword] as unknown[]) : [];
    for (let i = 0; i < Math.min(bList.length, aList.length); i++) diffSchema(ctx, direction, bList[i], `${b.pointer}/${keyword}/${i}`, aList[i], `${at}/${keyword}/${i}`, `${what} ${keyword}[${i}]`);
    if (bList.length !== aList.length && bList.length > 0 && aList.length > 0) {
      narrowedOrWidened(ctx, direction, aList.length < bList.length, 'variant-removed', 'variant-added', `${at}/${keyword}`, `${what} ${keyword} went from ${bList.length} to ${aList.length} alternatives`);
    }
  }
}

function diffObject(ctx: Context, direction: DiffDirection, b: Resolved, a: Resolved, what: string): void {
  const bShape = objectShape(ctx.before, b.schema, b.pointer);
  const aShape = objectShape(ctx.after, a.schema, a.pointer);
  const bClosed = bShape.additional?.value === false;
  const aClosed = aShape.additional?.value === false;
  const names = new Set([...bShape.properties.keys(), ...bShape.required, ...aShape.properties.keys(), ...aShape.required]);
  const request = direction === 'request';

  for (const name of [...names].sort()) {
    const old = bShape.properties.get(name);
    const now = aShape.properties.get(name);
    const wasKnown = old !== undefined || bShape.required.has(name);
    const isKnown = now !== undefined || aShape.required.has(name);
    const wasRequired = bShape.required.has(name);
    const isRequired = aShape.required.has(name);
    const label = `${what} property "${name}"`;
    const aLoc = now?.pointer ?? `${a.pointer}/required`;
    if (wasKnown && !isKnown) {
      const loc = old?.pointer ?? `${b.pointer}/required`;
      if (request) push(ctx, 'property-removed', aClosed, loc, `${label} was removed${aClosed ? ' and the schema is closed, so clients sending it are refused' : ''}`, direction);
      else push(ctx, 'property-removed', true, loc, `${label} was removed`, direction);
      continue;
    }
    if (!wasKnown && isKnown) {
      if (!request) push(ctx, 'property-added', false, aLoc, `${label} was added`, direction);
      else if (isRequired) push(ctx, 'required-property-added', true, aLoc, `required ${label} was added`, direction);
      else push(ctx, 'optional-property-added', false, aLoc, `optional ${label} was added`, direction);
      continue;
    }
    if (!wasRequired && isRequired) push(ctx, 'property-made-required', request, aLoc, `${label} became required`, direction);
    if (wasRequired && !isRequired) push(ctx, 'property-made-optional', !request, aLoc, `${label} became optional${request ? '' : ' (clients may rely on it being present)'}`, direction);
    if (old !== undefined && now !== undefined) diffSchema(ctx, direction, old.schema, old.pointer, now.schema, now.pointer, label);
  }

  if (!bClosed && aClosed) {
    push(ctx, 'additional-properties-closed', request, aShape.additional?.pointer ?? a.pointer, `${what} no longer allows undeclared properties`, direction);
  } else if (bClosed && !aClosed) {
    push(ctx, 'additional-properties-opened', false, aShape.additional?.pointer ?? a.pointer, `${what} now allows undeclared properties`, direction);
  } else if (isJsonObject(bShape.additional?.value) && isJsonObject(aShape.additional?.value)) {
    diffSchema(ctx, direction, bShape.additional?.value, bShape.additional?.pointer ?? '', aShape.additional?.value, aShape.additional?.pointer ?? '', `${what} additional properties`);
  }
}
