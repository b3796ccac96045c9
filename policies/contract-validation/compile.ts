/**
 * @module Compiles a version's contract, once per snapshot, into what the request path reads:
 * per operation id, a parameters validator (path, query, headers, cookies; coercing strings
 * per schema), the request body's media types with their validators, and (when responses are
 * sampled) the answers' validators. Anything that cannot be compiled faithfully throws with
 * the contract location, and the snapshot is refused whole.
 */
import { Ajv, type Options, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import {
  contractOperations,
  dereference,
  escapePointerToken,
  isJsonObject,
  openApiDialect,
  resolveLocalRef,
  type ApiVersionSpec,
  type ContractOperation,
  type JsonObject,
  type OpenApiDialect,
} from '../../contracts/index.js';
import type { Logger, SnapshotScope } from '../define-policy.js';
import { convertSchema, type ConvertContext, type Direction, type FoundPattern } from './convert.js';
import { refusedPatterns } from './redos.js';

type AnyAjv = Ajv | Ajv2020;
// ajv-formats is CommonJS with an `export default` typing; the default import is the function.
const addFormats = addFormatsModule as unknown as (ajv: AnyAjv) => AnyAjv;

/** Where a parameter is read from; also its section in error pointers (`/query/limit`). */
export type ParameterSection = 'path' | 'query' | 'headers' | 'cookies';

const SECTION_OF: Readonly<Record<string, ParameterSection>> = { path: 'path', query: 'query', header: 'headers', cookie: 'cookies' };

/** OpenAPI 3.x §4.8.12.4: the styles each location allows. */
const STYLES: Readonly<Record<ParameterSection, readonly string[]>> = {
  path: ['simple', 'label', 'matrix'],
  query: ['form', 'spaceDelimited', 'pipeDelimited', 'deepObject'],
  headers: ['simple'],
  cookies: ['form'],
};

/** Header parameters OpenAPI says to ignore (§4.8.12.1): other machinery owns them. */
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);

export interface ParameterPlan {
  /** As declared; header names lower-cased. */
  readonly name: string;
  readonly section: ParameterSection;
  readonly style: string;
  readonly explode: boolean;
  /** The value's JSON type family, deciding how a serialised value is split. */
  readonly shape: 'array' | 'object' | 'scalar';
  /** Form-exploded objects: the property names, each its own query parameter. */
  readonly objectProperties: readonly string[];
  /** Described by `content` with a JSON media type: the value is JSON text. */
  readonly json: boolean;
  /** Path parameters: capture group of the route template. */
  readonly group: number;
}

export interface ParametersPlan {
  /** The operation's route template as the snapshot routes it, capturing each `{name}`. */
  readonly pathPattern: RegExp | undefined;
  readonly path: readonly ParameterPlan[];
  readonly query: readonly ParameterPlan[];
  /** Query parameter names worth reading (form-exploded objects: their property names). */
  readonly queryNames: ReadonlySet<string>;
  /** deepObject query parameters, read from `name[property]=…`. */
  readonly deepObjects: ReadonlySet<string>;
  readonly headers: readonly ParameterPlan[];
  readonly cookies: readonly ParameterPlan[];
  /** Validates `{ path, query, headers, cookies }`, coercing strings to the schema's types. */
  readonly validate: ValidateFunction;
}

export interface MediaPlan {
  /** As the contract lists it. */
  readonly type: string;
  /** Validates the parsed JSON body; absent for media types without a (JSON) schema. */
  readonly validate: ValidateFunction | undefined;
  /** Same schema, collecting every error; used for small invalid bodies only. */
  readonly detailed: ValidateFunction | undefined;
}

export interface MediaTable {
  readonly exact: ReadonlyMap<string, MediaPlan>;
  /** `type/*` (prefix `type/`) then `*\/*` (prefix ``), most specific first. */
  readonly wildcards: readonly (readonly [string, MediaPlan])[];
  readonly listed: readonly string[];
}

export interface BodyPlan {
  readonly required: boolean;
  readonly media: MediaTable;
}

export interface ResponsePlan {
  /** Absent: the contract declares no content for this answer. */
  readonly media: MediaTable | undefined;
  /** Lower-case names of headers the answer must carry. */
  readonly requiredHeaders: readonly string[];
}

export interface ResponsesPlan {
  readonly byStatus: ReadonlyMap<number, ResponsePlan>;
  /** `2XX` style ranges by their first digit. */
  readonly byClass: ReadonlyMap<number, ResponsePlan>;
  readonly fallback: ResponsePlan | undefined;
}

export interface CompiledOperation {
  readonly id: string;
  readonly parameters: ParametersPlan | undefined;
  readonly body: BodyPlan | undefined;
  readonly responses: ResponsesPlan | undefined;
}

export interface CompileContractOptions {
  /** Build the answers' validators too (response sampling is on). */
  responses: boolean;
  /** Outlives snapshots: ReDoS verdicts are remembered there. */
  lasting: SnapshotScope;
  logger: Logger;
  /** Names the version in `$id`s and log lines, e.g. `orders v1`. */
  label: string;
}

/** `type/subtype` of a Content-Type value or media range, lower-case, without parameters. */
export function mediaTypeOf(value: string): string {
  const semi = value.indexOf(';');
  return (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
}

/** JSON media types (RFC 8259 `application/json`, RFC 6839 `+json` suffixes). */
const JSON_MEDIA = /^[a-z0-9!#$&^_.-]+\/(?:[a-z0-9!#$&^_.+-]+\+)?json$/;

/** Pieces of a compile, converted before any ajv exists so every pattern is checked first. */
interface Pending {
  compile(): void;
}

/**
 * Compiles the operations the snapshot routes (`spec.operations`) from `spec.contract`.
 * Throws one error listing every problem, each naming its location in the contract.
 *
 * @example
 * const operations = compileContract(spec, { responses: false, lasting: deps.lasting, logger, label: 'orders v1' });
 * operations.get('createOrder')?.body?.required; // true
 */
export function compileContract(spec: ApiVersionSpec, options: CompileContractOptions): Map<string, CompiledOperation> {
  const contract = spec.contract;
  if (contract === undefined) throw new Error('the version has no contract to validate against');
  const dialect = openApiDialect(contract);
  if (dialect === '3.1' && contract.jsonSchemaDialect !== undefined) {
    const declared = String(contract.jsonSchemaDialect).replace(/#$/, '');
    if (declared !== 'https://json-schema.org/draft/2020-12/schema' && !declared.startsWith('https://spec.openapis.org/oas/3.1/dialect/')) {
      throw new Error(`#/jsonSchemaDialect: ${JSON.stringify(contract.jsonSchemaDialect)} is not supported (JSON Schema 2020-12 only)`);
    }
  }
  const operations = contractOperations(contract);
  const problems: string[] = [];
  const patterns: FoundPattern[] = [];
  const formats = new Set<string>();
  const base = `https://gatehouse.invalid/contracts/${encodeURIComponent(options.label)}`;
  const contexts: Record<Direction, ConvertContext> = {
    request: { contract, dialect, direction: 'request', componentsId: `${base}/request/components`, patterns, formats },
    response: { contract, dialect, direction: 'response', componentsId: `${base}/response/components`, patterns, formats },
  };

  const components = isJsonObject(contract.components) && isJsonObject(contract.components.schemas) ? contract.components.schemas : {};
  const convertComponents = (context: ConvertContext): JsonObject => {
    const $defs: JsonObject = {};
    for (const [name, schema] of Object.entries(components)) {
      const at = `#/components/schemas/${escapePointerToken(name)}`;
      try {
        $defs[name] = convertSchema(schema, at, context);
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    return { $id: context.componentsId, $defs };
  };
  const requestComponents = convertComponents(contexts.request);
  const responseComponents = options.responses ? convertComponents(contexts.response) : undefined;

  // Convert every operation first (collecting patterns and formats), compile after the ReDoS gate.
  const ajvs: { params?: AnyAjv; body?: AnyAjv; detailed?: AnyAjv } = {};
  const compiled = new Map<string, CompiledOperation>();
  const pending: Pending[] = [];
  for (const route of spec.operations) {
    const operation = operations.get(route.id);
    const where = `operation "${route.id}"`;
    if (operation === undefined) {
      problems.push(`${where}: the contract has no operation with operationId "${route.id}"`);
      continue;
    }
    if (operation.method !== route.method) {
      problems.push(`${where}: the contract declares ${operation.method} ${operation.path} (${operation.pointer}), the snapshot routes ${route.method}`);
      continue;
    }
    try {
      pending.push(prepareOperation(route.id, route.path, operation, contract, contexts, options.responses, ajvs, compiled));
    } catch (error) {
      problems.push(`${where}: ${(error as Error).message}`);
    }
  }
  problems.push(...refusedPatterns(patterns, options.lasting));
  if (problems.length > 0) throw new Error(problems.join('; '));

  const make = (extra: Options, schemas: JsonObject[]): AnyAjv => {
    const ajv = createAjv(dialect, extra, formats, options.logger, options.label);
    for (const schema of schemas) {
      try {
        ajv.addSchema(schema);
      } catch (error) {
        throw new Error(`#/components/schemas: ${(error as Error).message}`);
      }
    }
    return ajv;
  };
  // Parameters arrive as strings: that ajv coerces (and wraps single values in arrays); bodies
  // are never coerced. The detailed one lists every error of small invalid bodies.
  ajvs.params = make({ coerceTypes: 'array', allErrors: true }, [requestComponents]);
  ajvs.body = make({ allErrors: false }, responseComponents === undefined ? [requestComponents] : [requestComponents, responseComponents]);
  ajvs.detailed = make({ allErrors: true }, [requestComponents]);
  for (const step of pending) {
    try {
      step.compile();
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
  return compiled;
}

/**
 * One ajv of the contract's dialect with ajv-formats (OpenAPI's `int32`, `int64`, `float`,
 * `double`, `byte`, `binary` and `password` included). A format it does not know (a vendor's
 * `sku`) is an annotation, as JSON Schema 2020-12 §7.2 makes every format by default.
 */
function createAjv(dialect: OpenApiDialect, extra: Options, formats: ReadonlySet<string>, logger: Logger, label: string): AnyAjv {
  const options: Options = {
    // Contracts carry vendor keywords and loose typing (`properties` without `type`); JSON
    // Schema treats unknown keywords as annotations, so strict mode would refuse valid contracts.
    strict: false,
    useDefaults: false,
    // ajv's own warnings go to the gateway log, never the console.
    logger: {
      log: () => undefined,
      warn: (...args: unknown[]) => logger.warn('contract schema warning', { contract: label, warning: args.map(String).join(' ') }),
      error: (...args: unknown[]) => logger.error('contract schema error', { contract: label, error: args.map(String).join(' ') }),
    },
    ...extra,
  };
  const ajv = dialect === '3.1' ? new Ajv2020(options) : new Ajv(options);
  addFormats(ajv);
  const unknown = [...formats].filter((name) => ajv.formats[name] === undefined);
  for (const name of unknown) ajv.addFormat(name, true);
  if (unknown.length > 0 && extra.coerceTypes !== undefined) {
    logger.debug('contract formats without a validator are annotations only', { contract: label, formats: unknown });
  }
  return ajv;
}

/** Converts one operation now; returns the step that compiles it once the ajvs exist. */
function prepareOperation(
  id: string,
  routePath: string,
  operation: ContractOperation,
  contract: JsonObject,
  contexts: Record<Direction, ConvertContext>,
  withResponses: boolean,
  ajvs: { params?: AnyAjv; body?: AnyAjv; detailed?: AnyAjv },
  out: Map<string, CompiledOperation>,
): Pending {
  const parameters = prepareParameters(routePath, operation, contract, contexts.request);
  const body = prepareBody(operation, contract, contexts.request);
  const responses = withResponses ? prepareResponses(operation, contract, contexts.response) : undefined;
  return {
    compile() {
      const compileAt = (ajv: AnyAjv | undefined, schema: unknown, pointer: string): ValidateFunction => {
        try {
          return ajv!.compile(schema as JsonObject);
        } catch (error) {
          throw new Error(`operation "${id}": ${pointer}: ${(error as Error).message}`);
        }
      };
      const table = (media: PreparedMedia[], detailed: boolean): MediaTable => {
        const plans = media.map((m): [string, MediaPlan] => [
          m.key,
          {
            type: m.type,
            validate: m.schema === undefined ? undefined : compileAt(ajvs.body, m.schema, m.pointer),
            detailed: m.schema === undefined || !detailed ? undefined : compileAt(ajvs.detailed, m.schema, m.pointer),
          },
        ]);
        return {
          exact: new Map(plans.filter(([key]) => !key.endsWith('/*'))),
          wildcards: plans
            .filter(([key]) => key.endsWith('/*'))
            .map(([key, plan]) => [key === '*/*' ? '' : key.slice(0, -1), plan] as const)
            .sort((a, b) => b[0].length - a[0].length),
          listed: media.map((m) => m.type),
        };
      };
      const response = (prepared: PreparedResponse): ResponsePlan => ({
        media: prepared.media === undefined ? undefined : table(prepared.media, false),
        requiredHeaders: prepared.requiredHeaders,
      });
      out.set(id, {
        id,
        parameters:
          parameters === undefined
            ? undefined
            : { ...parameters.plan, validate: compileAt(ajvs.params, parameters.schema, `${operation.pointer}/parameters`) },
        body: body === undefined ? undefined : { required: body.required, media: table(body.media, true) },
        responses:
          responses === undefined
            ? undefined
            : {
                byStatus: new Map([...responses.byStatus].map(([status, r]) => [status, response(r)])),
                byClass: new Map([...responses.byClass].map(([digit, r]) => [digit, response(r)])),
                fallback: responses.fallback === undefined ? undefined : response(responses.fallback),
              },
      });
    },
  };
}

/** The parameters object schema and how to read each parameter, before compiling. */
function prepareParameters(
  routePath: string,
  operation: ContractOperation,
  contract: JsonObject,
  context: ConvertContext,
): { plan: Omit<ParametersPlan, 'validate'>; schema: JsonObject } | undefined {
  // Operation parameters override path-item ones with the same name and location (§4.8.10.1).
  const declared = new Map<string, { value: JsonObject; pointer: string }>();
  const collect = (list: unknown, pointer: string): void => {
    if (list === undefined) return;
    if (!Array.isArray(list)) throw new Error(`${pointer} must be an array`);
    list.forEach((raw, i) => {
      const found = dereference(contract, raw, `${pointer}/${i}`);
      const { name, in: location } = found.value;
      if (typeof name !== 'string' || typeof location !== 'string' || !(location in SECTION_OF)) {
        throw new Error(`${found.pointer} needs a "name" and an "in" of path, query, header or cookie`);
      }
      declared.set(`${location}:${location === 'header' ? name.toLowerCase() : name}`, found);
    });
  };
  collect(operation.pathItem.parameters, `${operation.pathItemPointer}/parameters`);
  collect(operation.operation.parameters, `${operation.pointer}/parameters`);

  const routeNames = [...routePath.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!);
  const sections: Record<ParameterSection, { plans: ParameterPlan[]; properties: JsonObject; required: string[] }> = {
    path: { plans: [], properties: {}, required: [] },
    query: { plans: [], properties: {}, required: [] },
    headers: { plans: [], properties: {}, required: [] },
    cookies: { plans: [], properties: {}, required: [] },
  };
  for (const { value: parameter, pointer } of declared.values()) {
    const section = SECTION_OF[parameter.in as string]!;
    const name = section === 'headers' ? (parameter.name as string).toLowerCase() : (parameter.name as string);
    if (section === 'headers' && IGNORED_HEADERS.has(name)) continue;
    const style = typeof parameter.style === 'string' ? parameter.style : section === 'path' || section === 'headers' ? 'simple' : 'form';
    if (!STYLES[section].includes(style)) throw new Error(`${pointer}/style: "${style}" is not a style contract validation reads in ${parameter.in}`);
    const explode = typeof parameter.explode === 'boolean' ? parameter.explode : style === 'form';
    let rawSchema: unknown = parameter.schema;
    let schemaPointer = `${pointer}/schema`;
    let json = false;
    if (rawSchema === undefined && isJsonObject(parameter.content)) {
      const [mediaType, media] = Object.entries(parameter.content)[0] ?? [];
      if (mediaType === undefined || !isJsonObject(media)) throw new Error(`${pointer}/content must name one media type`);
      json = JSON_MEDIA.test(mediaTypeOf(mediaType));
      rawSchema = media.schema;
      schemaPointer = `${pointer}/content/${escapePointerToken(mediaType)}/schema`;
    }
    const group = section === 'path' ? routeNames.indexOf(name) + 1 : 0;
    if (section === 'path' && group === 0) throw new Error(`${pointer}: path parameter "${name}" is not in the routed path ${routePath}`);
    const shape = json ? 'scalar' : shapeOf(rawSchema, contract);
    if (style === 'deepObject' && shape !== 'object') throw new Error(`${pointer}/style: deepObject needs an object schema`);
    if ((section === 'path' && style !== 'simple' && shape === 'object') || (section === 'cookies' && shape === 'object')) {
      throw new Error(`${pointer}: object values in ${style} ${parameter.in} parameters are not read by contract validation`);
    }
    sections[section].plans.push({
      name,
      section,
      style,
      explode,
      shape,
      objectProperties: shape === 'object' ? objectPropertiesOf(rawSchema, contract) : [],
      json,
      group,
    });
    sections[section].properties[name] = rawSchema === undefined ? {} : convertSchema(rawSchema, schemaPointer, context);
    if (section === 'path' || parameter.required === true) sections[section].required.push(name);
  }
  const present = (Object.keys(sections) as ParameterSection[]).filter((s) => sections[s].plans.length > 0);
  if (present.length === 0) return undefined;
  const schema: JsonObject = {
    type: 'object',
    properties: Object.fromEntries(present.map((s) => [s, { type: 'object', properties: sections[s].properties, required: sections[s].required }])),
  };
  const queryNames = new Set<string>();
  const deepObjects = new Set<string>();
  for (const plan of sections.query.plans) {
    if (plan.style === 'deepObject') deepObjects.add(plan.name);
    else if (plan.shape === 'object' && plan.style === 'form' && plan.explode) for (const property of plan.objectProperties) queryNames.add(property);
    else queryNames.add(plan.name);
  }
  return {
    plan: {
      pathPattern: sections.path.plans.length === 0 ? undefined : routePattern(routePath),
      path: sections.path.plans,
      query: sections.query.plans,
      queryNames,
      deepObjects,
      headers: sections.headers.plans,
      cookies: sections.cookies.plans,
    },
    schema,
  };
}

/** The snapshot's route template as an anchored regex, one group per `{name}` (as the router matches). */
function routePattern(path: string): RegExp {
  const source = path
    .split(/(\{[A-Za-z_][A-Za-z0-9_]*\})/)
    .map((part) => (/^\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(part) ? '([^/]+?)' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

/** Array, object or scalar, from the schema's `type` (through `$ref`s and `allOf`). */
function shapeOf(schema: unknown, contract: JsonObject, depth = 0): ParameterPlan['shape'] {
  const target = follow(schema, contract);
  if (target === undefined || depth > 8) return 'scalar';
  const types = Array.isArray(target.type) ? target.type : [target.type];
  if (types.includes('array') || target.items !== undefined || target.prefixItems !== undefined) return 'array';
  if (types.includes('object') || target.properties !== undefined) return 'object';
  if (Array.isArray(target.allOf)) {
    for (const member of target.allOf) {
      const shape = shapeOf(member, contract, depth + 1);
      if (shape !== 'scalar') return shape;
    }
  }
  return 'scalar';
}

function objectPropertiesOf(schema: unknown, contract: JsonObject): string[] {
  const target = follow(schema, contract);
  return target !== undefined && isJsonObject(target.properties) ? Object.keys(target.properties) : [];
}

/** A schema through its `$ref` chain (errors are reported where the schema is converted). */
function follow(schema: unknown, contract: JsonObject): JsonObject | undefined {
  let current = schema;
  for (let hops = 0; hops < 16 && isJsonObject(current); hops++) {
    if (typeof current.$ref !== 'string') return current;
    try {
      current = resolveLocalRef(contract, current.$ref);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

interface PreparedMedia {
  /** Normalised lookup key (`application/json`, `text/*`). */
  key: string;
  type: string;
  schema: unknown;
  pointer: string;
}

/** A Media Type map (request body or response content), schemas converted for JSON types. */
function prepareMedia(content: unknown, pointer: string, context: ConvertContext): PreparedMedia[] {
  if (!isJsonObject(content)) throw new Error(`${pointer} must be an object`);
  return Object.entries(content).map(([type, media]) => {
    const at = `${pointer}/${escapePointerToken(type)}`;
    if (!isJsonObject(media)) throw new Error(`${at} must be an object`);
    const key = mediaTypeOf(type);
    // Schemas of JSON types validate the parsed body; wildcards validate when the body sent is JSON.
    const validates = media.schema !== undefined && (JSON_MEDIA.test(key) || key.endsWith('/*'));
    return { key, type, schema: validates ? convertSchema(media.schema, `${at}/schema`, context) : undefined, pointer: `${at}/schema` };
  });
}

function prepareBody(operation: ContractOperation, contract: JsonObject, context: ConvertContext): { required: boolean; media: PreparedMedia[] } | undefined {
  if (operation.operation.requestBody === undefined) return undefined;
  const { value: requestBody, pointer } = dereference(contract, operation.operation.requestBody, `${operation.pointer}/requestBody`);
  return { required: requestBody.required === true, media: prepareMedia(requestBody.content ?? {}, `${pointer}/content`, context) };
}

interface PreparedResponse {
  media: PreparedMedia[] | undefined;
  requiredHeaders: string[];
}

function prepareResponses(
  operation: ContractOperation,
  contract: JsonObject,
  context: ConvertContext,
): { byStatus: Map<number, PreparedResponse>; byClass: Map<number, PreparedResponse>; fallback: PreparedResponse | undefined } {
  const byStatus = new Map<number, PreparedResponse>();
  const byClass = new Map<number, PreparedResponse>();
  let fallback: PreparedResponse | undefined;
  const responses = operation.operation.responses;
  if (responses === undefined) return { byStatus, byClass, fallback };
  if (!isJsonObject(responses)) throw new Error(`${operation.pointer}/responses must be an object`);
  for (const [status, raw] of Object.entries(responses)) {
    const { value: response, pointer } = dereference(contract, raw, `${operation.pointer}/responses/${escapePointerToken(status)}`);
    const requiredHeaders: string[] = [];
    if (isJsonObject(response.headers)) {
      for (const [name, header] of Object.entries(response.headers)) {
        const { value } = dereference(contract, header, `${pointer}/headers/${escapePointerToken(name)}`);
        // §4.8.17.1: a Content-Type entry in `headers` is ignored.
        if (value.required === true && name.toLowerCase() !== 'content-type') requiredHeaders.push(name.toLowerCase());
      }
    }
    const prepared: PreparedResponse = {
      media: response.content === undefined ? undefined : prepareMedia(response.content, `${pointer}/content`, context),
      requiredHeaders,
    };
    if (status === 'default') fallback = prepared;
    else if (/^[1-5]XX$/i.test(status)) byClass.set(Number(status[0]), prepared);
    else if (/^[1-5][0-9][0-9]$/.test(status)) byStatus.set(Number(status), prepared);
    else throw new Error(`${pointer}: "${status}" is not a status code, a range like 2XX, or default`);
  }
  return { byStatus, byClass, fallback };
}
