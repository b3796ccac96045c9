/**
 * @module A version's contract as the admin API takes it: an OpenAPI 3.0.x / 3.1.x document
 * sent as a JSON object or as YAML / JSON text, checked for what the gateway needs (paths,
 * one routable operation per `operationId`), and the version's operations derived from it.
 * Every problem is reported with a JSON Pointer into the parsed document under `/body/contract`.
 */
import { parse as parseYaml } from 'yaml';
import {
  HTTP_METHODS,
  OPENAPI_METHODS,
  dereference,
  escapePointerToken,
  isJsonObject,
  openApiDialect,
  type HttpMethod,
  type JsonObject,
  type OpenApiDialect,
  type OperationSpec,
} from '../contracts/index.js';
import type { FieldProblem } from './policy-schemas.js';

/** The version semver the snapshot accepts (no build metadata: the version is a path segment). */
export const SEMVER_PATTERN = '^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$';
const SEMVER = new RegExp(SEMVER_PATTERN);

/** Operation ids and path templates as `OperationSpec` (contracts/snapshot.ts) accepts them. */
const OPERATION_ID = /^[A-Za-z0-9_.-]{1,128}$/;
const PATH_TEMPLATE = /^(\/([A-Za-z0-9._~!$&'()*+,;=:@-]|\{[A-Za-z_][A-Za-z0-9_]*\})+)+\/?$|^\/$/;

export interface CheckedContract {
  contract: JsonObject;
  dialect: OpenApiDialect;
  operations: OperationSpec[];
}

/** `1.12.0-rc.1` → its parts; undefined when not a version this API accepts. */
export function parseSemver(version: string): { major: number; minor: number; patch: number; prerelease: string[] } | undefined {
  const match = SEMVER.exec(version);
  if (match === null) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]), prerelease: match[4] === undefined ? [] : match[4].slice(1).split('.') };
}

/** Semver precedence (semver.org §11): negative when `a` comes before `b`. */
export function compareSemver(a: string, b: string): number {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (x === undefined || y === undefined) return a < b ? -1 : a > b ? 1 : 0;
  const core = x.major - y.major || x.minor - y.minor || x.patch - y.patch;
  if (core !== 0) return core;
  if (x.prerelease.length === 0 || y.prerelease.length === 0) return y.prerelease.length - x.prerelease.length;
  for (let i = 0; i < Math.min(x.prerelease.length, y.prerelease.length); i++) {
    const p = x.prerelease[i]!;
    const q = y.prerelease[i]!;
    if (p === q) continue;
    const pn = /^[0-9]+$/.test(p);
    const qn = /^[0-9]+$/.test(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return x.prerelease.length - y.prerelease.length;
}

/** `#/paths/~1orders/get` → `/body/contract/paths/~1orders/get`. */
function bodyPointer(fragment: string): string {
  return `/body/contract${fragment.slice(1)}`;
}

/**
 * Turns what was sent as `contract` into a document: objects as they are, text as YAML (which
 * also reads JSON). Aliases are capped, duplicate keys refused.
 */
function readContract(raw: unknown): { contract?: JsonObject; problems: FieldProblem[] } {
  if (isJsonObject(raw)) return { contract: raw, problems: [] };
  if (typeof raw !== 'string') return { problems: [{ pointer: '/body/contract', detail: 'must be an OpenAPI document: a JSON object, or YAML / JSON text' }] };
  let parsed: unknown;
  try {
    parsed = parseYaml(raw, { uniqueKeys: true, maxAliasCount: 100, prettyErrors: false });
  } catch (error) {
    // yaml's errors carry the offset; the text before it gives line and column (1-based).
    const offset = (error as { pos?: [number, number] }).pos?.[0];
    const before = offset === undefined ? undefined : raw.slice(0, offset).split('\n');
    const where = before === undefined ? '' : ` (line ${before.length}, column ${before[before.length - 1]!.length + 1})`;
    const reason = String((error as Error).message).split('\n')[0]!.slice(0, 200);
    return { problems: [{ pointer: '/body/contract', detail: `is not valid YAML or JSON${where}: ${reason}` }] };
  }
  if (!isJsonObject(parsed)) return { problems: [{ pointer: '/body/contract', detail: 'must hold an OpenAPI document (a mapping at the top level)' }] };
  // YAML may hold what JSON cannot (dates stay strings in YAML 1.2, but Infinity, NaN…): store
  // exactly what JSON keeps, so what is checked is what is stored.
  return { contract: JSON.parse(JSON.stringify(parsed)) as JsonObject, problems: [] };
}

/**
 * Checks a contract and derives the version's operations (operationId, method, path template)
 * in document order.
 *
 * @example
 * const { checked, problems } = checkContract('openapi: 3.0.3\ninfo: {title: Orders, version: 1.0.0}\npaths:\n  /orders:\n    get: {operationId: listOrders, responses: {"200": {description: ok}}}\n');
 * checked?.operations; // [{ id: 'listOrders', method: 'GET', path: '/orders' }]
 */
export function checkContract(raw: unknown): { checked?: CheckedContract; problems: FieldProblem[] } {
  const read = readContract(raw);
  if (read.contract === undefined) return { problems: read.problems };
  const contract = read.contract;
  const problems: FieldProblem[] = [];
  let dialect: OpenApiDialect | undefined;
  try {
    dialect = openApiDialect(contract);
  } catch {
    problems.push({ pointer: '/body/contract/openapi', detail: 'must be an OpenAPI version 3.0.x or 3.1.x' });
  }
  const info = contract.info;
  if (!isJsonObject(info)) problems.push({ pointer: '/body/contract/info', detail: 'must be an object with title and version' });
  else {
    if (typeof info.title !== 'string') problems.push({ pointer: '/body/contract/info/title', detail: 'must be a string' });
    if (typeof info.version !== 'string') problems.push({ pointer: '/body/contract/info/version', detail: 'must be a string' });
  }
  const operations: OperationSpec[] = [];
  const paths = contract.paths;
  if (!isJsonObject(paths)) {
    problems.push({ pointer: '/body/contract/paths', detail: 'must be an object holding the operations the gateway routes' });
    return { problems };
  }
  const seen = new Map<string, string>();
  for (const [path, rawItem] of Object.entries(paths)) {
    const itemPointer = `#/paths/${escapePointerToken(path)}`;
    if (!PATH_TEMPLATE.test(path)) {
      problems.push({ pointer: bodyPointer(itemPointer), detail: 'is not a path template the gateway can route (/segment/{name}…, names of letters, digits and _)' });
      continue;
    }
    let pathItem: JsonObject;
    let pathItemPointer: string;
    try {
      ({ value: pathItem, pointer: pathItemPointer } = dereference(contract, rawItem, itemPointer));
    } catch (error) {
      problems.push({ pointer: bodyPointer(itemPointer), detail: (error as Error).message.replace(/^#\S*:?\s*/, '') || 'is not a Path Item' });
      continue;
    }
    for (const method of OPENAPI_METHODS) {
      const operation = pathItem[method];
      if (operation === undefined) continue;
      const pointer = `${pathItemPointer}/${method}`;
      if (!isJsonObject(operation)) {
        problems.push({ pointer: bodyPointer(pointer), detail: 'must be an Operation object' });
        continue;
      }
      const upper = method.toUpperCase();
      if (!(HTTP_METHODS as readonly string[]).includes(upper)) {
        problems.push({ pointer: bodyPointer(pointer), detail: `${upper} is not a method the gateway routes` });
        continue;
      }
      const id = operation.operationId;
      if (id === undefined) {
        problems.push({ pointer: bodyPointer(`${pointer}/operationId`), detail: 'is required: the gateway names, routes and governs each operation by its operationId' });
        continue;
      }
      if (typeof id !== 'string' || !OPERATION_ID.test(id)) {
        problems.push({ pointer: bodyPointer(`${pointer}/operationId`), detail: 'must be 1–128 letters, digits, _ . or -' });
        continue;
      }
      const other = seen.get(id);
      if (other !== undefined) {
        problems.push({ pointer: bodyPointer(`${pointer}/operationId`), detail: `"${id}" is already used by ${bodyPointer(other)}` });
        continue;
      }
      seen.set(id, pointer);
      operations.push({ id, method: upper as HttpMethod, path });
    }
  }
  if (operations.length === 0 && problems.length === 0) problems.push({ pointer: '/body/contract/paths', detail: 'must declare at least one operation' });
  if (problems.length > 0 || dialect === undefined) return { problems };
  return { checked: { contract, dialect, operations }, problems };
}
