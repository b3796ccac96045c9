/**
 * @module Compiles a snapshot off to the side: schema, hash, adapters (secrets resolved),
 * policy pipelines, routes. Any problem rejects the snapshot whole with every problem listed;
 * nothing here runs per request.
 */
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import {
  computeSnapshotHash,
  DEFAULT_CIRCUIT_BREAKER,
  type ApiVersionSpec,
  DEFAULT_RETRY,
  snapshotSchema,
  type CircuitBreakerSpec,
  type ApiKeySpec,
  type ConsumerSpec,
  type OperationSpec,
  type PlanSpec,
  type Snapshot,
} from '../../contracts/index.js';
import {
  buildPipeline,
  createSnapshotScope,
  endHooksOf,
  handlersOf,
  SnapshotCompileError,
  type CompiledPolicy,
  type ConsumerDirectory,
  type EndHook,
  type PolicyDeps,
  type PolicyHandler,
  type PolicyRegistry,
  type Logger,
} from '../../policies/index.js';
import { createRouteMetrics, type GatewayMetrics } from '../metrics.js';
import { compileRetry, type Circuit } from '../proxy.js';
import { compileOperations, createRouter, IDENTITY_PRIORITY, toProxyTarget, type CompiledVersion, type Router } from '../router.js';
import type { AnyAdapterFactory, SecretRef } from '../upstreams/index.js';
import type { UpstreamKind } from '../../contracts/index.js';

// ajv-formats is CommonJS with an `export default` typing; the default import is the function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export interface CompiledSnapshot {
  readonly hash: string;
  readonly generatedAt: string;
  readonly gatewayHandlers: readonly PolicyHandler[];
  /** End hooks of gateway-wide policies, run once per request when it closes. */
  readonly gatewayEndHooks: readonly EndHook[];
  readonly router: Router;
  readonly directory: ConsumerDirectory;
}

export interface CompileEnv {
  registry: PolicyRegistry;
  adapters: ReadonlyMap<UpstreamKind, AnyAdapterFactory>;
  /** Everything but what each compile makes afresh (scope, consumer directory, ownership registry). */
  policyDeps: Omit<PolicyDeps, 'scope' | 'directory' | 'version' | 'ownership'>;
  /** The gateway's cap on buffered request bodies. */
  maxBufferedBodyBytes: number;
  /** The gateway-lifetime circuit breaker of an upstream origin. */
  circuitFor(origin: string, spec: CircuitBreakerSpec): Circuit | undefined;
  metrics: GatewayMetrics;
  logger: Logger;
  resolveSecret(name: string): string | undefined;
  fetch: typeof fetch;
  always: readonly string[];
}

/** Indexes consumers by client id and plans by id; duplicates and dangling plans are problems. */
function compileDirectory(snapshot: Snapshot, problems: string[]): ConsumerDirectory {
  const plans = new Map<string, PlanSpec>();
  for (const plan of snapshot.plans) {
    if (plans.has(plan.id)) problems.push(`plans[${plan.id}]: duplicate id`);
    plans.set(plan.id, plan);
  }
  const byId = new Map<string, ConsumerSpec>();
  const byClientId = new Map<string, ConsumerSpec>();
  const byKeyPrefix = new Map<string, { consumer: ConsumerSpec; key: ApiKeySpec }>();
  for (const consumer of snapshot.consumers) {
    if (byId.has(consumer.id)) problems.push(`consumers[${consumer.id}]: duplicate id`);
    byId.set(consumer.id, consumer);
    for (const clientId of consumer.clientIds) {
      const other = byClientId.get(clientId);
      if (other !== undefined) problems.push(`consumers[${consumer.id}]: client id "${clientId}" already belongs to ${other.id}`);
      byClientId.set(clientId, consumer);
    }
    for (const key of consumer.apiKeys) {
      if (byKeyPrefix.has(key.prefix)) problems.push(`consumers[${consumer.id}]: API key prefix "${key.prefix}" is not unique`);
      byKeyPrefix.set(key.prefix, { consumer, key });
    }
    for (const subscription of consumer.subscriptions) {
      if (!plans.has(subscription.plan)) problems.push(`consumers[${consumer.id}]: subscription to ${subscription.api} v${subscription.major} names unknown plan "${subscription.plan}"`);
    }
  }
  return { byId, byClientId, byKeyPrefix, plans };
}

/** One ajv per compile env would leak compiled schemas across snapshots; one per compile is cheap enough. */
export function createSnapshotAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  return ajv;
}

/** RFC 9745 `Deprecation`, RFC 8594 `Sunset` and the successor link, worked out once per snapshot. */
function lifecycleHeadersOf(spec: ApiVersionSpec): Record<string, string> | undefined {
  if (spec.status === 'published') return undefined;
  const headers: Record<string, string> = {};
  if (spec.status === 'deprecated' && spec.deprecatedAt !== undefined) headers.deprecation = `@${Math.floor(Date.parse(spec.deprecatedAt) / 1000)}`;
  if (spec.status === 'deprecated' && spec.sunset !== undefined) headers.sunset = new Date(spec.sunset).toUTCString();
  if (spec.successor !== undefined) headers.link = `<${spec.successor}>; rel="successor-version"`;
  return Object.keys(headers).length === 0 ? undefined : headers;
}

/**
 * Per-operation body limits, worked out once: the gateway's buffer cap, lowered by any policy
 * that declares `maxBodyBytes` (request-limits).
 */
function bodyLimitOf(policies: readonly CompiledPolicy[], operations: readonly OperationSpec[], cap: number): (operationId: string) => number {
  const limiters = policies.flatMap((p) => (p.maxBodyBytes === undefined ? [] : [p.maxBodyBytes]));
  if (limiters.length === 0) return () => cap;
  const limits = new Map(operations.map((op) => [op.id, Math.min(cap, ...limiters.map((limit) => limit(op.id)))]));
  return (operationId) => limits.get(operationId) ?? cap;
}

/**
 * Parses and compiles snapshot text. Throws `SnapshotCompileError` listing every problem.
 *
 * @example
 * const compiled = compileSnapshot(await readFile('snapshot.json', 'utf8'), env);
 */
export function compileSnapshot(text: string, env: CompileEnv): CompiledSnapshot {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SnapshotCompileError([`not JSON: ${(error as Error).message}`]);
  }
  const ajv = createSnapshotAjv();
  // A hand-written file may leave the hash out; it is computed, but a wrong one is refused.
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && !('hash' in parsed)) {
    (parsed as Record<string, unknown>).hash = computeSnapshotHash(parsed as Snapshot);
  }
  const validate = ajv.compile(snapshotSchema);
  if (!validate(parsed)) {
    throw new SnapshotCompileError((validate.errors ?? []).map((e) => `snapshot${e.instancePath} ${e.message ?? 'is invalid'}`));
  }
  const snapshot = parsed;
  const expected = computeSnapshotHash(snapshot);
  if (expected !== snapshot.hash) {
    throw new SnapshotCompileError([`hash ${snapshot.hash} does not match the body (expected ${expected})`]);
  }

  const problems: string[] = [];
  const directory = compileDirectory(snapshot, problems);
  const policyDeps: PolicyDeps = { ...env.policyDeps, scope: createSnapshotScope(), directory, version: undefined, ownership: snapshot.ownership };
  const collect = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (error) {
      if (error instanceof SnapshotCompileError) problems.push(...error.problems);
      else problems.push((error as Error).message);
      return undefined;
    }
  };

  const gatewayPolicies = collect(() =>
    buildPipeline({
      bindings: snapshot.gateway.policies,
      registry: env.registry,
      deps: policyDeps,
      ajv,
      stage: 'gateway',
      always: env.always,
      where: 'gateway',
    }),
  );

  const versions: CompiledVersion[] = [];
  const slugs = new Set<string>();
  for (const api of snapshot.apis) {
    if (slugs.has(api.slug)) problems.push(`apis[${api.slug}]: duplicate slug`);
    slugs.add(api.slug);
    const majors = new Set<number>();
    for (const spec of api.versions) {
      const where = `apis[${api.slug}].versions[${spec.version}]`;
      const major = Number(spec.version.split('.')[0]);
      if (majors.has(major)) {
        problems.push(`${where}: more than one version with major ${major}`);
        continue;
      }
      majors.add(major);
      const factory = env.adapters.get(spec.upstream.kind);
      if (factory === undefined) {
        problems.push(`${where}: no adapter for upstream kind "${spec.upstream.kind}" in this build`);
        continue;
      }
      const settings: unknown = structuredClone(spec.upstream.settings);
      const validateSettings = ajv.compile(factory.schema);
      if (!validateSettings(settings)) {
        for (const e of validateSettings.errors ?? []) problems.push(`${where}.upstream.settings${e.instancePath} ${e.message ?? 'is invalid'}`);
        continue;
      }
      const adapter = collect(() => {
        try {
          return createAdapter();
        } catch (error) {
          // Name the API version for the adapter's own checks (resolveSecret already does).
          const message = (error as Error).message;
          throw new Error(message.startsWith(where) ? message : `${where}.upstream.${message}`);
        }
      });
      function createAdapter() {
        return factory!.create(settings, {
          baseUrl: new URL(spec.upstream.baseUrl),
          logger: env.logger,
          fetch: env.fetch,
          resolveSecret(ref: SecretRef, field: string) {
            const value = env.resolveSecret(ref.env);
            // Name the variable, never the value.
            if (value === undefined || value === '') throw new Error(`${where}.upstream.${field}: secret "${ref.env}" is not set`);
            return value;
          },
        });
      }
      const policies = collect(() =>
        buildPipeline({
          bindings: spec.policies,
          registry: env.registry,
          deps: { ...policyDeps, version: { api: api.slug, major, spec } },
          ajv,
          stage: 'route',
          where,
        }),
      );
      const ids = new Set<string>();
      for (const op of spec.operations) {
        if (ids.has(op.id)) problems.push(`${where}: duplicate operation id "${op.id}"`);
        ids.add(op.id);
      }
      if (adapter === undefined || policies === undefined) continue;
      versions.push({
        api: api.slug,
        version: spec.version,
        major,
        status: spec.status,
        adapter,
        target: toProxyTarget(spec.upstream.baseUrl),
        connectTimeoutMs: spec.upstream.connectTimeoutMs,
        responseTimeoutMs: spec.upstream.responseTimeoutMs,
        handlers: handlersOf(policies),
        identityHandlers: handlersOf(policies.filter((p) => p.priority >= IDENTITY_PRIORITY)),
        endHooks: endHooksOf(policies),
        needsBody: adapter.needsBody || policies.some((p) => p.needsBody),
        bodyLimit: bodyLimitOf(policies, spec.operations, env.maxBufferedBodyBytes),
        lifecycleHeaders: lifecycleHeadersOf(spec),
        retry: compileRetry(spec.upstream.retry ?? DEFAULT_RETRY),
        circuit: env.circuitFor(new URL(spec.upstream.baseUrl).origin, spec.upstream.circuitBreaker ?? DEFAULT_CIRCUIT_BREAKER),
        metrics: createRouteMetrics(env.metrics, api.slug, spec.version),
        matchOperation: compileOperations(spec.operations),
      });
    }
  }

  if (problems.length > 0 || gatewayPolicies === undefined) throw new SnapshotCompileError(problems);
  return {
    hash: snapshot.hash,
    generatedAt: snapshot.generatedAt,
    gatewayHandlers: handlersOf(gatewayPolicies),
    gatewayEndHooks: endHooksOf(gatewayPolicies),
    router: createRouter(versions),
    directory,
  };
}
