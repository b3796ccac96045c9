/**
 * @module OpenAPI Schema Objects → JSON Schema ajv compiles: 3.1 schemas are JSON Schema
 * 2020-12 already (only OpenAPI's own annotations are dropped); 3.0 schemas are rewritten into
 * draft-07 (`nullable`, boolean `exclusiveMinimum`/`exclusiveMaximum`, `$ref` siblings). Both
 * get the request or response reading of `readOnly` / `writeOnly`, local `$ref`s rewritten to
 * the components registered with ajv, and their regular expressions collected for the ReDoS check.
 */
import { escapePointerToken, isJsonObject, resolveLocalRef, type JsonObject, type OpenApiDialect } from '../../contracts/index.js';

/** A request validates against the request reading of the contract, an answer against the response reading. */
export type Direction = 'request' | 'response';

/** A regular expression a schema uses, and where the contract holds it. */
export interface FoundPattern {
  source: string;
  pointer: string;
}

export interface ConvertContext {
  readonly contract: JsonObject;
  readonly dialect: OpenApiDialect;
  readonly direction: Direction;
  /** `$id` of the components schema registered with ajv for this direction. */
  readonly componentsId: string;
  /** Every `pattern` and `patternProperties` key met (the ReDoS check reads them). */
  readonly patterns: FoundPattern[];
  /** Every `format` name met (unknown ones are registered as annotations). */
  readonly formats: Set<string>;
}

const COMPONENT_SCHEMAS = '#/components/schemas/';

/** Where a JSON Schema keyword holds subschemas. */
const SINGLE = new Set([
  'additionalProperties',
  'additionalItems',
  'unevaluatedProperties',
  'unevaluatedItems',
  'contains',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
  'contentSchema',
]);
const BY_NAME = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
const LISTS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
/** Annotations OpenAPI adds to Schema Objects; they never constrain a value. */
const OPENAPI_ANNOTATIONS = new Set(['discriminator', 'xml', 'externalDocs', 'example']);
/** What a 3.0 schema's `nullable` must not leave rejecting `null`: moved into a branch beside `{type: 'null'}`. */
const NULL_REJECTING = ['$ref', 'allOf', 'anyOf', 'oneOf', 'not', 'const'];
/** `$schema` values a 3.1 Schema Object may carry (the OAS base dialect is 2020-12 plus annotations). */
const DIALECTS_2020 = new Set([
  'https://json-schema.org/draft/2020-12/schema',
  'https://spec.openapis.org/oas/3.1/dialect/base',
  'https://spec.openapis.org/oas/3.1/dialect/2024-10-25',
]);

/**
 * Converts one Schema Object found at `pointer` (a URI-fragment JSON Pointer into the contract).
 * Throws, naming the location, on what cannot be validated faithfully (remote `$ref`s, other
 * dialects).
 *
 * @example
 * convertSchema({ type: 'string', nullable: true }, '#/components/schemas/Note', context); // { type: ['string', 'null'] }
 */
export function convertSchema(schema: unknown, pointer: string, context: ConvertContext): unknown {
  if (typeof schema === 'boolean') return schema;
  if (!isJsonObject(schema)) throw new Error(`${pointer} is not a schema`);
  const is30 = context.dialect === '3.0';
  const out: JsonObject = {};
  // OpenAPI 3.0 §4.7.24: properties beside a Reference Object are ignored (but `nullable` is
  // honoured, as most 3.0 authors expect, so a nullable reference accepts null).
  const keys = is30 && typeof schema.$ref === 'string' ? ['$ref'] : Object.keys(schema);
  for (const key of keys) {
    const value = schema[key];
    const at = `${pointer}/${escapePointerToken(key)}`;
    if (key.startsWith('x-') || OPENAPI_ANNOTATIONS.has(key)) continue;
    if (is30 && key === 'nullable') continue;
    if (key === '$schema') {
      if (is30 || (typeof value === 'string' && DIALECTS_2020.has(value.replace(/#$/, '')))) continue;
      throw new Error(`${at}: dialect ${JSON.stringify(value)} is not supported (JSON Schema 2020-12 only)`);
    }
    if (key === '$ref') {
      if (typeof value !== 'string') throw new Error(`${at} must be a string`);
      out.$ref = rewriteRef(value, at, context);
    } else if (SINGLE.has(key) || (key === 'items' && !Array.isArray(value))) {
      out[key] = convertSchema(value, at, context);
    } else if (BY_NAME.has(key) || (key === 'dependencies' && isJsonObject(value))) {
      if (!isJsonObject(value)) throw new Error(`${at} must be an object`);
      const converted: JsonObject = {};
      for (const [name, sub] of Object.entries(value)) {
        const subAt = `${at}/${escapePointerToken(name)}`;
        if (key === 'patternProperties') context.patterns.push({ source: name, pointer: subAt });
        // draft-07 `dependencies` mixes schemas and lists of property names.
        converted[name] = key === 'dependencies' && Array.isArray(sub) ? sub : convertSchema(sub, subAt, context);
      }
      out[key] = converted;
    } else if (LISTS.has(key) || key === 'items') {
      if (!Array.isArray(value)) throw new Error(`${at} must be an array`);
      out[key] = value.map((sub, i) => convertSchema(sub, `${at}/${i}`, context));
    } else {
      if (key === 'pattern' && typeof value === 'string') context.patterns.push({ source: value, pointer: at });
      if (key === 'format' && typeof value === 'string') context.formats.add(value);
      out[key] = value;
    }
  }
  if (is30) {
    exclusiveBound(out, 'exclusiveMinimum', 'minimum');
    exclusiveBound(out, 'exclusiveMaximum', 'maximum');
  }
  dropOneSidedRequired(out, schema, context);
  if (is30 && schema.nullable === true) return allowNull(out);
  return out;
}

/**
 * `#/components/schemas/X…` → the same place in the components schema registered with ajv.
 * Schemas may refer only there: anything else is refused rather than half-followed.
 */
function rewriteRef(ref: string, at: string, context: ConvertContext): string {
  if (ref.startsWith(COMPONENT_SCHEMAS)) return `${context.componentsId}#/$defs/${ref.slice(COMPONENT_SCHEMAS.length)}`;
  if (!ref.startsWith('#')) throw new Error(`${at}: $ref "${ref}" points outside the contract; only #/components/schemas/… is followed`);
  throw new Error(`${at}: $ref "${ref}" must point into #/components/schemas/`);
}

/** OpenAPI 3.0 (draft 4 style): `exclusiveMinimum: true` qualifies `minimum`; draft-07 wants the number. */
function exclusiveBound(out: JsonObject, exclusive: 'exclusiveMinimum' | 'exclusiveMaximum', bound: 'minimum' | 'maximum'): void {
  const flag = out[exclusive];
  if (typeof flag !== 'boolean') return;
  if (flag && typeof out[bound] === 'number') {
    out[exclusive] = out[bound];
    delete out[bound];
  } else {
    delete out[exclusive];
  }
}

/**
 * OpenAPI 3.0 §4.7.24.1 / 3.1 §4.8.24.1: a `readOnly` property is sent only in answers, so it
 * cannot be required of a request; a `writeOnly` one only in requests, so an answer may omit it.
 */
function dropOneSidedRequired(out: JsonObject, schema: JsonObject, context: ConvertContext): void {
  const required = out.required;
  const properties = schema.properties;
  if (!Array.isArray(required) || !isJsonObject(properties)) return;
  const flag = context.direction === 'request' ? 'readOnly' : 'writeOnly';
  const kept = required.filter((name) => typeof name !== 'string' || !hasFlag(properties[name], flag, context.contract, 0));
  if (kept.length === required.length) return;
  if (kept.length === 0) delete out.required;
  else out.required = kept;
}

/** The property schema (directly, through `$ref`s or in an `allOf` member) is marked `flag`. */
function hasFlag(schema: unknown, flag: 'readOnly' | 'writeOnly', contract: JsonObject, depth: number): boolean {
  if (!isJsonObject(schema) || depth > 8) return false;
  if (schema[flag] === true) return true;
  if (typeof schema.$ref === 'string' && schema.$ref.startsWith(COMPONENT_SCHEMAS)) {
    let target: unknown;
    try {
      target = resolveLocalRef(contract, schema.$ref);
    } catch {
      return false; // reported where the reference itself is converted
    }
    if (hasFlag(target, flag, contract, depth + 1)) return true;
  }
  return Array.isArray(schema.allOf) && schema.allOf.some((member) => hasFlag(member, flag, contract, depth + 1));
}

/** OpenAPI 3.0 `nullable: true`: the schema also accepts `null`. */
function allowNull(out: JsonObject): JsonObject {
  if (typeof out.type === 'string') out.type = [out.type, 'null'];
  else if (Array.isArray(out.type) && !out.type.includes('null')) out.type = [...out.type, 'null'];
  if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  // Keywords that apply to every type would still refuse null: they move into an alternative,
  // so pointers to the schema's own `properties` (and the error paths) stay where they were.
  const moved: JsonObject = {};
  for (const key of NULL_REJECTING) {
    if (key in out) {
      moved[key] = out[key];
      delete out[key];
    }
  }
  if (Object.keys(moved).length > 0) out.anyOf = [{ type: 'null' }, moved];
  return out;
}
