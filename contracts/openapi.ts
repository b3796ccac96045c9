/**
 * @module Pure functions over a version's contract (an OpenAPI 3.0 or 3.1 document, JSON): its
 * dialect, local `$ref` resolution, its operations by `operationId` and the security
 * requirements of each. No I/O; nothing here follows a reference outside the document.
 */

/** A parsed JSON object. */
export type JsonObject = Record<string, unknown>;

/** `3.0` (Schema Objects are an extended subset of JSON Schema draft 4/5) or `3.1` (JSON Schema 2020-12). */
export type OpenApiDialect = '3.0' | '3.1';

/** Path Item fields that hold an operation (OpenAPI 3.0.3 / 3.1.0 §4.8.9). */
export const OPENAPI_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** One operation of a contract, with where it lives in the document (for messages). */
export interface ContractOperation {
  /** The operation's `operationId`. */
  id: string;
  /** Upper case, e.g. `POST`. */
  method: string;
  /** The contract's path template, e.g. `/orders/{id}`. */
  path: string;
  /** JSON Pointer (URI fragment form) of the Operation Object, e.g. `#/paths/~1orders/post`. */
  pointer: string;
  operation: JsonObject;
  /** The Path Item holding it (its `parameters` apply to the operation too). */
  pathItem: JsonObject;
  pathItemPointer: string;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 6901 §3: escapes one reference token (`~` → `~0`, `/` → `~1`). */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * The contract's dialect from its `openapi` field. Throws for anything but 3.0.x and 3.1.x.
 *
 * @example
 * openApiDialect({ openapi: '3.1.0', info: { title: 'Orders', version: '1.0.0' }, paths: {} }); // '3.1'
 */
export function openApiDialect(contract: JsonObject): OpenApiDialect {
  const declared = contract.openapi;
  if (typeof declared === 'string' && /^3\.0\.\d+(-.+)?$/.test(declared)) return '3.0';
  if (typeof declared === 'string' && /^3\.1\.\d+(-.+)?$/.test(declared)) return '3.1';
  throw new Error(`contract: "openapi" must be 3.0.x or 3.1.x, not ${JSON.stringify(declared ?? null)}`);
}

/**
 * Resolves a local reference (`#/components/parameters/StoreId`) to its value. Tokens may be
 * percent-encoded (a URI fragment, RFC 6901 §6). Throws for references outside the document.
 */
export function resolveLocalRef(contract: JsonObject, ref: string): unknown {
  if (!ref.startsWith('#')) throw new Error(`$ref "${ref}" points outside the contract; only local references (#/…) are followed`);
  if (ref === '#') return contract;
  if (!ref.startsWith('#/')) throw new Error(`$ref "${ref}" is not a JSON Pointer fragment`);
  let node: unknown = contract;
  for (const raw of ref.slice(2).split('/')) {
    let token: string;
    try {
      token = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      throw new Error(`$ref "${ref}" is not a valid JSON Pointer`);
    }
    if (Array.isArray(node) && /^(0|[1-9][0-9]*)$/.test(token)) node = node[Number(token)];
    else if (isJsonObject(node) && Object.hasOwn(node, token)) node = node[token];
    else throw new Error(`$ref "${ref}" does not resolve within the contract`);
  }
  return node;
}

/**
 * Follows a chain of Reference Objects (`{ "$ref": "#/components/…" }`) to the object it names,
 * returning it with its location. Throws on a cycle, a dangling reference or a non-object.
 */
export function dereference(contract: JsonObject, value: unknown, pointer: string): { value: JsonObject; pointer: string } {
  let current = value;
  let at = pointer;
  for (let hops = 0; hops < 32; hops++) {
    if (!isJsonObject(current)) throw new Error(`${at} is not an object`);
    const ref = current.$ref;
    if (typeof ref !== 'string') return { value: current, pointer: at };
    try {
      current = resolveLocalRef(contract, ref);
    } catch (error) {
      throw new Error(`${at}: ${(error as Error).message}`);
    }
    at = ref;
  }
  throw new Error(`${pointer}: $ref chain is circular or longer than 32 hops`);
}

/**
 * The contract's operations by `operationId`. Throws when two share an id.
 *
 * @example
 * contractOperations(contract).get('createOrder'); // { method: 'POST', path: '/orders', pointer: '#/paths/~1orders/post', … }
 */
export function contractOperations(contract: JsonObject): Map<string, ContractOperation> {
  const found = new Map<string, ContractOperation>();
  const paths = contract.paths;
  if (paths === undefined) return found;
  if (!isJsonObject(paths)) throw new Error('contract: "paths" must be an object');
  for (const [path, rawItem] of Object.entries(paths)) {
    const { value: pathItem, pointer: pathItemPointer } = dereference(contract, rawItem, `#/paths/${escapePointerToken(path)}`);
    for (const method of OPENAPI_METHODS) {
      const operation = pathItem[method];
      if (operation === undefined) continue;
      const pointer = `${pathItemPointer}/${method}`;
      if (!isJsonObject(operation)) throw new Error(`${pointer} must be an object`);
      const id = operation.operationId;
      if (typeof id !== 'string') continue;
      const other = found.get(id);
      if (other !== undefined) throw new Error(`${pointer}: operationId "${id}" is already used by ${other.pointer}`);
      found.set(id, { id, method: method.toUpperCase(), path, pointer, operation, pathItem, pathItemPointer });
    }
  }
  return found;
}

/**
 * What an operation's `security` asks for, as alternatives of scope lists: the caller passes
 * when every scope of any one alternative is granted. Operation-level `security` replaces the
 * document's; `[]` (or an empty requirement `{}` among the alternatives) means no scopes.
 * Every name a requirement lists counts as a scope, whatever the scheme type (3.1 lets non-OAuth
 * schemes list roles), so a contract never grants more than it says. `undefined`: the contract
 * declares no security for the operation at all.
 *
 * @example
 * // security: [{ oauth: ['orders:write'] }, { oauth: ['orders:admin'] }]
 * securityAlternatives(contract, op); // [['orders:write'], ['orders:admin']]
 */
export function securityAlternatives(contract: JsonObject, operation: ContractOperation): string[][] | undefined {
  const declared = operation.operation.security ?? contract.security;
  if (declared === undefined) return undefined;
  const where = operation.operation.security === undefined ? '#/security' : `${operation.pointer}/security`;
  if (!Array.isArray(declared)) throw new Error(`${where} must be an array`);
  return declared.map((requirement, i) => {
    if (!isJsonObject(requirement)) throw new Error(`${where}/${i} must be an object`);
    const scopes = new Set<string>();
    for (const [scheme, names] of Object.entries(requirement)) {
      if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
        throw new Error(`${where}/${i}/${escapePointerToken(scheme)} must be an array of strings`);
      }
      for (const name of names as string[]) scopes.add(name);
    }
    return [...scopes];
  });
}
