/**
 * @module The policy contract: `definePolicy({ name, priority, schema, create })`. A policy's
 * `create` runs once per snapshot (compile validators, build limiters); the handler it returns
 * runs per request and only reads what `create` built.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JSONSchemaType } from 'ajv';
import type { createClient } from 'redis';
import type { ApiKeySpec, ApiVersionSpec, ConsumerSpec, OwnershipSpec, PlanSpec, RequestContext } from '../contracts/index.js';
import type { AsyncQueue } from './async-delivery/queue.js';

/** A connected node-redis client (the gateway makes one when `REDIS_URL` is set). */
export type RedisClient = ReturnType<typeof createClient>;

/**
 * node-redis's RESP type code of bulk strings (`RESP_TYPES.BLOB_STRING`, the protocol's `$`),
 * for `withTypeMapping` to answer them as Buffers. A constant here rather than an import, so a
 * gateway without Redis never loads the client: its modules add ~5 MB to the heap that every
 * major GC marks, and that pause is the gateway's worst latency.
 */
export const RESP_BLOB_STRING = 36;

/** The logger and clock every plane injects (types in contracts/). */
export type { Clock, Logger } from '../contracts/index.js';
import type { Clock, Logger } from '../contracts/index.js';

/** Access records and where they go: shared with the control plane, so defined in contracts/. */
export type { AccessLog, AccessRecord } from '../contracts/index.js';
import type { AccessLog } from '../contracts/index.js';

/**
 * Resources shared by the policies of one snapshot (one JWKS set per issuer, for example),
 * built on first use and dropped with the snapshot.
 */
export interface SnapshotScope {
  memo<T>(key: string, make: () => T): T;
}

/** A fresh scope for one snapshot compile. */
export function createSnapshotScope(): SnapshotScope {
  const made = new Map<string, unknown>();
  return {
    memo<T>(key: string, make: () => T): T {
      if (!made.has(key)) made.set(key, make());
      return made.get(key) as T;
    },
  };
}

/** The snapshot's consumers and plans, indexed once per snapshot. */
export interface ConsumerDirectory {
  byId: ReadonlyMap<string, ConsumerSpec>;
  byClientId: ReadonlyMap<string, ConsumerSpec>;
  /** API keys by their (non-secret) prefix. */
  byKeyPrefix: ReadonlyMap<string, { consumer: ConsumerSpec; key: ApiKeySpec }>;
  plans: ReadonlyMap<string, PlanSpec>;
}

/** Counters a policy may keep; the gateway exposes them on `/metrics` (prefix `gatehouse_`). */
export interface PolicyMetrics {
  /** A counter by name (created once per gateway, kept across snapshots); returns its increment. */
  counter(name: string, help: string, labelNames: readonly string[]): (labels: Record<string, string>) => void;
}

/** The API version a per-version policy is bound to (absent for gateway-wide bindings). */
export interface BoundVersion {
  api: string;
  major: number;
  spec: ApiVersionSpec;
}

/**
 * A counter of outcomes for one API version (`gatehouse_<name>{api,version,outcome}`), with the
 * label objects made once per outcome rather than per request.
 *
 * @example
 * const counted = outcomeCounter(deps.metrics, 'cache_requests_total', 'Cache lookups by outcome.', api, version);
 * counted('hit');
 */
export function outcomeCounter(metrics: PolicyMetrics, name: string, help: string, api: string, version: string): (outcome: string) => void {
  const count = metrics.counter(name, help, ['api', 'version', 'outcome']);
  const labelsByOutcome = new Map<string, Record<string, string>>();
  return (outcome) => {
    let labels = labelsByOutcome.get(outcome);
    if (labels === undefined) labelsByOutcome.set(outcome, (labels = { api, version, outcome }));
    count(labels);
  };
}

/** What every policy's `create` may use. */
export interface PolicyDeps {
  logger: Logger;
  clock: Clock;
  accessLog: AccessLog;
  /** Per-snapshot shared resources; the compiler sets a fresh one for each snapshot. */
  scope: SnapshotScope;
  /**
   * Resources that outlive snapshots (the gateway's lifetime): in-memory counters, stores and
   * circuit state, so publishing a snapshot does not reset a consumer's rate count.
   */
  lasting: SnapshotScope;
  /** Shared store for counters, idempotency records and cached answers; absent: embedded (memory). */
  redis: RedisClient | undefined;
  /** The gateway's durable queue for `async-delivery` (an fsynced log, or Redis Streams); absent: none configured. */
  asyncQueue?: AsyncQueue;
  /** Set for per-version bindings. */
  version: BoundVersion | undefined;
  /**
   * Looks up a secret a config names by reference (`{ "env": "NAME" }`); the gateway's own
   * resolver (the environment in production). Call it in `create`, never per request.
   */
  resolveSecret(name: string): string | undefined;
  /** Consumers and plans of the snapshot being compiled. */
  directory: ConsumerDirectory;
  /** The snapshot's system-of-record registry; absent when the snapshot carries none. */
  ownership: OwnershipSpec | undefined;
  /** For policies that call out (JWKS, introspection); tests and the gateway inject it. */
  fetch: typeof fetch;
  metrics: PolicyMetrics;
}

export type PolicyRequest = IncomingMessage;
export type PolicyResponse = ServerResponse;

/**
 * Runs per request. Refuse by throwing `GatewayError`; answer directly (cache hit) by ending
 * `res`; otherwise return and the next policy runs. May be async.
 */
export type PolicyHandler = (req: PolicyRequest, res: PolicyResponse, ctx: RequestContext) => void | Promise<void>;

/**
 * Runs once when the exchange closes, answered or abandoned, with the final status on `res`
 * (`res.writableFinished` false when the client left). Must not throw or do I/O inline.
 */
export type EndHook = (req: PolicyRequest, res: PolicyResponse, ctx: RequestContext) => void;

/**
 * What `create` returns: a request handler, or hooks when the policy also acts at the end.
 * `maxBodyBytes` caps the body of an operation; the gateway enforces it before buffering
 * (declared `Content-Length`) and while reading (chunked bodies), before any handler runs.
 */
export type PolicyInstance =
  | PolicyHandler
  | { handle?: PolicyHandler; onEnd?: EndHook; maxBodyBytes?: (operationId: string) => number };

/** Policies above this priority run on every request before routing (gateway stage); below, per API version. */
export const ROUTER_PRIORITY = 5000;

export interface PolicyDefinition<Config> {
  /** Kebab-case, unique. */
  readonly name: string;
  /** Higher runs first; ties by name. Above `ROUTER_PRIORITY`: gateway-wide. */
  readonly priority: number;
  /** Pure-data JSON Schema of the config, with defaults. */
  readonly schema: JSONSchemaType<Config>;
  /** The policy reads the buffered request body (`ctx.body`). */
  readonly needsBody?: boolean;
  /** Builds the handler (and/or end hook) once per snapshot from validated config. */
  create(config: Config, deps: PolicyDeps): PolicyInstance;
}

/** A definition whose config type is erased, for registries and the pipeline builder. */
export interface AnyPolicyDefinition {
  readonly name: string;
  readonly priority: number;
  readonly schema: object;
  readonly needsBody?: boolean;
  create(config: any, deps: PolicyDeps): PolicyInstance;
}

/**
 * Declares a policy. Validates the declaration itself (not the config) so a typo fails at
 * start-up, not on a request.
 *
 * @example
 * export const requestIdPolicy = definePolicy({
 *   name: 'request-id',
 *   priority: 9500,
 *   schema: requestIdSchema,
 *   create: (config) => function requestId(_req, res, ctx) { res.setHeader(config.header, ctx.requestId); },
 * });
 */
export function definePolicy<Config>(definition: PolicyDefinition<Config>): PolicyDefinition<Config> {
  if (!/^[a-z][a-z0-9-]*$/.test(definition.name)) {
    throw new TypeError(`policy name "${definition.name}" must be kebab-case`);
  }
  if (!Number.isInteger(definition.priority) || definition.priority === ROUTER_PRIORITY) {
    throw new TypeError(`policy "${definition.name}" needs an integer priority other than ${ROUTER_PRIORITY}`);
  }
  return Object.freeze({ ...definition });
}
