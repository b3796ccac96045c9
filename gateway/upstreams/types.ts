/**
 * @module The upstream adapter contract. An adapter (a) injects the credential the gateway
 * holds and strips the caller's, (b) extracts the business operation from path and body,
 * and (c) maps the upstream's error dialect to gateway problems. Built once per snapshot.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { JSONSchemaType } from 'ajv';
import type { BusinessOperation, RequestContext, UpstreamKind } from '../../contracts/index.js';
import type { GatewayError, Logger } from '../../policies/index.js';

/** A secret named by reference in the snapshot; the value is resolved at compile time. */
export interface SecretRef {
  env: string;
}

export const secretRefSchema = {
  type: 'object',
  properties: { env: { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$', description: 'Environment variable holding the secret.' } },
  required: ['env'],
  additionalProperties: false,
} as const;

/** What an adapter decided about an upstream response it read whole. */
export type MappedResponse =
  | { kind: 'pass' }
  | { kind: 'replace'; body: Buffer }
  | { kind: 'problem'; error: GatewayError }
  /**
   * The upstream refused the gateway's credential as stale: once `ready` settles (a fresh one
   * is in place), an idempotent request whose body can be sent again is replayed once (after
   * `prepare` runs again); anything else gets `otherwise`.
   */
  | { kind: 'replay'; ready: Promise<unknown>; otherwise: GatewayError };

export interface UpstreamAdapter {
  readonly kind: UpstreamKind;
  /** The adapter reads (and may rewrite) the request body. */
  readonly needsBody: boolean;
  /**
   * Called just before forwarding: removes the caller's credentials from
   * `ctx.upstreamHeaders`, adds the gateway's, may rewrite `ctx.body`.
   */
  prepare(ctx: RequestContext, method: string): void | Promise<void>;
  /** Business operation of a call; `body` is the parsed JSON body when buffered. */
  extractOperation(method: string, path: string, body: unknown): BusinessOperation;
  /** Whether this response must be read whole to map errors (errors inside 200s, for one). */
  inspects(status: number, headers: IncomingHttpHeaders, ctx: RequestContext): boolean;
  mapResponse(status: number, headers: IncomingHttpHeaders, body: Buffer, ctx: RequestContext): MappedResponse;
}

export interface AdapterEnv {
  baseUrl: URL;
  resolveSecret(ref: SecretRef, where: string): string;
  logger: Logger;
  /** For adapters that call the upstream themselves (Odoo `authenticate`). */
  fetch: typeof fetch;
}

export interface AdapterFactory<Settings> {
  readonly kind: UpstreamKind;
  readonly schema: JSONSchemaType<Settings>;
  create(settings: Settings, env: AdapterEnv): UpstreamAdapter;
}

export interface AnyAdapterFactory {
  readonly kind: UpstreamKind;
  readonly schema: object;
  create(settings: any, env: AdapterEnv): UpstreamAdapter;
}

/**
 * Caller credentials the gateway consumes and never forwards. Hygiene already leaves them out;
 * this keeps adapters safe on their own (and `delete` only runs when there is something to
 * delete, since it turns the object into a slow dictionary).
 */
export function stripCallerCredentials(headers: Record<string, string | string[]>): void {
  if (headers.authorization !== undefined) delete headers.authorization;
  if (headers['x-api-key'] !== undefined) delete headers['x-api-key'];
  if (headers.cookie !== undefined) delete headers.cookie;
}

/** Parses JSON, or `undefined` when the bytes are not JSON. */
export function tryParseJson(body: Buffer | undefined): unknown {
  if (body === undefined || body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function fieldNames(value: unknown): string[] {
  if (Array.isArray(value)) return [...new Set(value.flatMap((item) => (isRecord(item) ? Object.keys(item) : [])))];
  return isRecord(value) ? Object.keys(value) : [];
}

export function idList(value: unknown): Array<string | number> {
  if (typeof value === 'number' || typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string | number => typeof v === 'number' || typeof v === 'string') : [];
}
