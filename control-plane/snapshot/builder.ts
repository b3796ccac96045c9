/**
 * @module The snapshot builder: from the store's rows to the one `Snapshot` (contracts/) the
 * gateways enforce. `loadSnapshotState` reads the rows, `buildSnapshot` is pure (same rows and
 * `generatedAt` → same bytes, same hash), `createSnapshotChecker` validates the result against
 * `snapshotSchema` and the cross-item rules a gateway would otherwise reject the snapshot for,
 * and `contentHashOf` is the hash that decides whether anything changed (it leaves
 * `generatedAt` out, see below).
 *
 * What goes in:
 * - APIs with at least one version that is `published`, `deprecated` or `retired` (draft,
 *   in-review and approved versions never reach a gateway). A gateway routes one version per
 *   major, so per major the builder takes the best status (published > deprecated > retired),
 *   then the highest semver. Retired majors stay in the snapshot so the gateway answers 410
 *   `version.retired` instead of 404; they carry no operations, policies or contract (nothing
 *   of them is enforced beyond the 410).
 * - Each version's upstream from its API row (kind, base URL, adapter settings with secret
 *   references only, timeouts, retry, circuit breaker), its operations, policies and contract.
 * - Every plan; every consumer with its client ids, API keys (hash and prefix only; live keys
 *   first, revoked ones as `revoked: true` so the gateway can say so, at most 50) and ACTIVE
 *   subscriptions only (pending, rejected and revoked ones are left out: that is what
 *   "revoked stops working" means at the gateway).
 * - Gateway-wide policies given by the caller (none by default).
 */
import { createHash } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Kysely } from 'kysely';
import {
  canonicalJson,
  computeSnapshotHash,
  SNAPSHOT_FORMAT_VERSION,
  snapshotSchema,
  type ApiKeySpec,
  type ApiSpec,
  type ApiVersionSpec,
  type CircuitBreakerSpec,
  type ConsumerSpec,
  type HttpMethod,
  type OperationSpec,
  type PlanLimits,
  type PlanSpec,
  type PolicyBinding,
  type RetrySpec,
  type OwnershipDocument,
  type OwnershipSpec,
  type Snapshot,
  type SubscriptionSpec,
  type UpstreamKind,
  type UpstreamSpec,
  type VersionStatus,
} from '../../contracts/index.js';
import type { ApiKeysTable, ApisTable, ApiVersionsTable, ConsumersTable, Database, PlansTable, SubscriptionsTable } from '../store/schema.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** Statuses a gateway enforces; every other version status stays in the control plane. */
const ENFORCED_STATUSES: readonly VersionStatus[] = ['published', 'deprecated', 'retired'];
const STATUS_RANK: Readonly<Record<VersionStatus, number>> = { published: 0, deprecated: 1, retired: 2 };
/** `snapshotSchema` caps a consumer's keys at 50. */
const MAX_KEYS_PER_CONSUMER = 50;
/** Used when an API row's upstream options leave the timeouts out. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_RESPONSE_TIMEOUT_MS = 30_000;

/** The rows a snapshot is built from (what `loadSnapshotState` reads). */
export interface SnapshotState {
  apis: readonly ApisTable[];
  versions: readonly ApiVersionsTable[];
  plans: readonly PlansTable[];
  consumers: readonly ConsumersTable[];
  apiKeys: readonly ApiKeysTable[];
  /** Only active ones matter; others are ignored if present. */
  subscriptions: readonly SubscriptionsTable[];
  /** The system-of-record registry document (JSON), or absent (no registry row). */
  ownership?: string;
}

export interface BuildOptions {
  /** ISO 8601 time of the build. */
  generatedAt: string;
  /** Gateway-wide policies (run before routing on every request). Default none. */
  gatewayPolicies?: readonly PolicyBinding[];
}

/**
 * Reads everything a snapshot needs, in one transaction so the rows agree with each other.
 *
 * @example
 * const state = await loadSnapshotState(store.db);
 * const snapshot = buildSnapshot(state, { generatedAt: new Date().toISOString() });
 */
export async function loadSnapshotState(db: Kysely<Database>): Promise<SnapshotState> {
  return db.transaction().execute(async (trx) => ({
    apis: await trx.selectFrom('apis').selectAll().orderBy('slug').execute(),
    versions: await trx.selectFrom('api_versions').selectAll().where('status', 'in', [...ENFORCED_STATUSES]).orderBy('api_slug').orderBy('id').execute(),
    plans: await trx.selectFrom('plans').selectAll().orderBy('id').execute(),
    consumers: await trx.selectFrom('consumers').selectAll().orderBy('id').execute(),
    apiKeys: await trx.selectFrom('api_keys').selectAll().orderBy('consumer_id').orderBy('id').execute(),
    subscriptions: await trx.selectFrom('subscriptions').selectAll().where('status', '=', 'active').orderBy('consumer_id').orderBy('id').execute(),
    ...(await trx.selectFrom('ownership_registry').select('document').where('id', '=', 1).executeTakeFirst().then((row) => (row === undefined ? {} : { ownership: row.document }))),
  }));
}

/** A row's JSON column; a column that does not parse is a builder-visible data error. */
function parseJson(text: string | null, where: string): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SnapshotBuildError([`${where}: stored JSON does not parse`]);
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A builder or data problem: the snapshot is not published, the previous one keeps serving. */
export class SnapshotBuildError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`snapshot not built: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? ` (+${problems.length - 10} more)` : ''}`);
    this.name = 'SnapshotBuildError';
    this.problems = problems;
  }
}

/** Semver order (SemVer 2.0.0 §11, prerelease identifiers compared simply). */
export function compareSemver(a: string, b: string): number {
  const parse = (v: string): [number[], string | undefined] => {
    const [core = '', pre] = v.split(/-(.*)/s, 2);
    return [core.split('.').map((n) => Number(n)), pre];
  };
  const [ca, pa] = parse(a);
  const [cb, pb] = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (ca[i] ?? 0) - (cb[i] ?? 0);
    if (d !== 0) return d;
  }
  if (pa === pb) return 0;
  if (pa === undefined) return 1;
  if (pb === undefined) return -1;
  const ia = pa.split('.');
  const ib = pb.split('.');
  for (let i = 0; i < Math.max(ia.length, ib.length); i++) {
    const x = ia[i];
    const y = ib[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x) ? Number(x) : undefined;
    const ny = /^\d+$/.test(y) ? Number(y) : undefined;
    if (nx !== undefined && ny !== undefined && nx !== ny) return nx - ny;
    if (nx !== undefined && ny === undefined) return -1;
    if (nx === undefined && ny !== undefined) return 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function upstreamOf(api: ApisTable): UpstreamSpec {
  const where = `apis[${api.slug}]`;
  const settings = parseJson(api.upstream_settings, `${where}.upstream_settings`);
  const options = parseJson(api.upstream_options, `${where}.upstream_options`) ?? {};
  if (!isRecord(options)) throw new SnapshotBuildError([`${where}.upstream_options: not a JSON object`]);
  const upstream: UpstreamSpec = {
    kind: api.upstream_kind as UpstreamKind,
    baseUrl: api.base_url,
    connectTimeoutMs: typeof options.connectTimeoutMs === 'number' ? options.connectTimeoutMs : DEFAULT_CONNECT_TIMEOUT_MS,
    responseTimeoutMs: typeof options.responseTimeoutMs === 'number' ? options.responseTimeoutMs : DEFAULT_RESPONSE_TIMEOUT_MS,
    settings: isRecord(settings) ? settings : {},
  };
  // Copied as stored; the schema check below refuses anything malformed.
  if (options.retry !== undefined && options.retry !== null) upstream.retry = options.retry as RetrySpec;
  if (options.circuitBreaker !== undefined && options.circuitBreaker !== null) upstream.circuitBreaker = options.circuitBreaker as CircuitBreakerSpec;
  return upstream;
}

function versionOf(row: ApiVersionsTable, upstream: UpstreamSpec): ApiVersionSpec {
  const status = row.status as VersionStatus;
  const where = `apis[${row.api_slug}].versions[${row.version}]`;
  if (status === 'retired') {
    const retired: ApiVersionSpec = { version: row.version, status, upstream, operations: [], policies: [] };
    if (row.sunset !== null) retired.sunset = row.sunset;
    return retired;
  }
  const operations = parseJson(row.operations, `${where}.operations`);
  const policies = parseJson(row.policies, `${where}.policies`);
  const contract = parseJson(row.contract, `${where}.contract`);
  if (!Array.isArray(operations)) throw new SnapshotBuildError([`${where}.operations: not a JSON array`]);
  if (!Array.isArray(policies)) throw new SnapshotBuildError([`${where}.policies: not a JSON array`]);
  const spec: ApiVersionSpec = {
    version: row.version,
    status,
    upstream,
    // Only the members the snapshot defines, in stored order (the contract's order).
    operations: operations.map((op: Record<string, unknown>): OperationSpec => ({ id: op.id as string, method: op.method as HttpMethod, path: op.path as string })),
    policies: policies.map((binding: Record<string, unknown>): PolicyBinding => ({ policy: binding.policy as string, config: (binding.config ?? {}) as Record<string, unknown> })),
  };
  if (isRecord(contract)) spec.contract = contract;
  // A deprecated version changes only by its lifecycle, so its last update is the deprecation.
  if (status === 'deprecated') spec.deprecatedAt = row.updated_at;
  if (status === 'deprecated' && row.sunset !== null) spec.sunset = row.sunset;
  return spec;
}

function apisOf(state: SnapshotState): ApiSpec[] {
  const byApi = new Map<string, ApiVersionsTable[]>();
  for (const row of state.versions) {
    if (!(ENFORCED_STATUSES as readonly string[]).includes(row.status)) continue;
    const list = byApi.get(row.api_slug) ?? [];
    list.push(row);
    byApi.set(row.api_slug, list);
  }
  const apis: ApiSpec[] = [];
  for (const api of [...state.apis].sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0))) {
    const rows = byApi.get(api.slug);
    if (rows === undefined) continue;
    const best = new Map<number, ApiVersionsTable>();
    for (const row of rows) {
      const held = best.get(row.major);
      const better =
        held === undefined ||
        STATUS_RANK[row.status as VersionStatus] < STATUS_RANK[held.status as VersionStatus] ||
        (row.status === held.status && compareSemver(row.version, held.version) > 0);
      if (better) best.set(row.major, row);
    }
    const upstream = upstreamOf(api);
    const versions = [...best.entries()].sort(([a], [b]) => a - b).map(([, row]) => versionOf(row, structuredClone(upstream)));
    // Deprecated and retired versions point at the successor named when deprecating, if it is
    // published, else at the nearest higher major that is.
    const published = new Set(versions.filter((v) => v.status === 'published').map((v) => v.version));
    for (const version of versions) {
      if (version.status === 'published') continue;
      const named = rows.find((row) => row.version === version.version)?.successor ?? null;
      const major = Number(version.version.split('.')[0]);
      const next = named !== null && published.has(named) ? named : versions.find((other) => other.status === 'published' && Number(other.version.split('.')[0]) > major)?.version;
      if (next !== undefined && Number(next.split('.')[0]) !== major) version.successor = `/${api.slug}/v${next.split('.')[0]}`;
    }
    apis.push({ slug: api.slug, title: api.title, versions });
  }
  return apis;
}

function plansOf(state: SnapshotState): PlanSpec[] {
  return [...state.plans]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((row) => {
      const scopes = parseJson(row.scopes, `plans[${row.id}].scopes`);
      const limits = parseJson(row.limits, `plans[${row.id}].limits`);
      const plan: PlanSpec = { id: row.id, name: row.name, scopes: Array.isArray(scopes) ? [...new Set(scopes as string[])].sort() : [] };
      if (isRecord(limits)) plan.limits = limits as unknown as PlanLimits;
      return plan;
    });
}

function keyOf(row: ApiKeysTable): ApiKeySpec {
  const key: ApiKeySpec = { id: row.id, prefix: row.prefix, sha256: row.sha256, revoked: row.revoked_at !== null };
  if (row.expires_at !== null) key.expiresAt = row.expires_at;
  return key;
}

function consumersOf(state: SnapshotState): ConsumerSpec[] {
  const keys = new Map<string, ApiKeysTable[]>();
  for (const row of state.apiKeys) keys.set(row.consumer_id, [...(keys.get(row.consumer_id) ?? []), row]);
  const subscriptions = new Map<string, SubscriptionSpec[]>();
  for (const row of state.subscriptions) {
    if (row.status !== 'active') continue;
    subscriptions.set(row.consumer_id, [...(subscriptions.get(row.consumer_id) ?? []), { api: row.api_slug, major: row.major, plan: row.plan_id }]);
  }
  return [...state.consumers]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((row) => {
      const clientIds = parseJson(row.client_ids, `consumers[${row.id}].client_ids`);
      // Live keys first, then the most recently revoked, up to the schema's cap; then by id.
      const ownKeys = [...(keys.get(row.id) ?? [])]
        .sort((a, b) => {
          if ((a.revoked_at === null) !== (b.revoked_at === null)) return a.revoked_at === null ? -1 : 1;
          const byRevocation = (b.revoked_at ?? '').localeCompare(a.revoked_at ?? '');
          return byRevocation !== 0 ? byRevocation : a.id < b.id ? -1 : 1;
        })
        .slice(0, MAX_KEYS_PER_CONSUMER)
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .map(keyOf);
      // One subscription per API major (the gateway takes the first): sorted, then deduplicated.
      const seen = new Set<string>();
      const subs = (subscriptions.get(row.id) ?? [])
        .sort((a, b) => (a.api !== b.api ? (a.api < b.api ? -1 : 1) : a.major !== b.major ? a.major - b.major : a.plan < b.plan ? -1 : a.plan > b.plan ? 1 : 0))
        .filter((s) => {
          const key = `${s.api}\u0000${s.major}`;
          if (seen.has(key)) return false;
          seen.add(key);
          return true;
        });
      return {
        id: row.id,
        name: row.name,
        team: row.team_id,
        clientIds: Array.isArray(clientIds) ? [...new Set(clientIds as string[])].sort() : [],
        apiKeys: ownKeys,
        subscriptions: subs,
        ...(row.speaks_for == null ? {} : { speaksFor: row.speaks_for }),
      };
    });
}

/** The registry as the gateways get it: grants without their admin ids, only for consumers that exist. */
function ownershipOf(state: SnapshotState): OwnershipSpec | undefined {
  if (state.ownership === undefined) return undefined;
  const document = parseJson(state.ownership, 'ownership_registry.document');
  if (!isRecord(document)) throw new SnapshotBuildError(['ownership_registry.document: not an object']);
  const consumers = new Set(state.consumers.map((c) => c.id));
  const { systems, entities, grants } = document as unknown as OwnershipDocument;
  return {
    systems,
    entities,
    grants: grants.filter((g) => consumers.has(g.consumer)).map((g) => ({ consumer: g.consumer, entity: g.entity, fields: [...g.fields] })),
  };
}

/**
 * Builds the snapshot from the rows (pure: no I/O, no clock). Throws `SnapshotBuildError` on
 * stored JSON that does not parse; check the result (`createSnapshotChecker`) before publishing.
 *
 * @param options.gatewayPolicies default `[]`
 * @example
 * const snapshot = buildSnapshot(await loadSnapshotState(db), { generatedAt: new Date(clock.now()).toISOString() });
 * createSnapshotChecker()(snapshot); // throws SnapshotBuildError listing every problem
 */
export function buildSnapshot(state: SnapshotState, options: BuildOptions): Snapshot {
  const body: Omit<Snapshot, 'hash'> = {
    formatVersion: SNAPSHOT_FORMAT_VERSION,
    generatedAt: options.generatedAt,
    gateway: { policies: (options.gatewayPolicies ?? []).map((b) => ({ policy: b.policy, config: structuredClone(b.config) })) },
    apis: apisOf(state),
    plans: plansOf(state),
    consumers: consumersOf(state),
  };
  const ownership = ownershipOf(state);
  if (ownership !== undefined) body.ownership = ownership;
  return { ...body, hash: computeSnapshotHash(body) };
}

/**
 * SHA-256 of the canonical snapshot without `hash` and `generatedAt`: two builds of the same
 * state have the same content hash even though their `generatedAt` (and so their snapshot
 * hash, which covers it) differ. The publisher stores a new snapshot only when this changes,
 * so gateways never reload for a mere rebuild.
 */
export function contentHashOf(snapshot: Omit<Snapshot, 'hash'> & { hash?: string }): string {
  const { hash: _hash, generatedAt: _generatedAt, ...content } = snapshot;
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/** Checks a built snapshot; throws `SnapshotBuildError` listing every problem. */
export type SnapshotChecker = (snapshot: Snapshot) => void;

/**
 * A checker refusing what every gateway would refuse: `snapshotSchema` (ajv with the gateway's
 * strict options, compiled once per checker), the hash, and the rules the gateway's compiler
 * checks across items (unique slugs, one version per major, a client id or key prefix in one
 * consumer only, subscriptions naming known plans). Policy configs and adapter settings are
 * left to the gateway, which knows the policies' and adapters' code.
 *
 * @example
 * const check = createSnapshotChecker();
 * check(snapshot); // throws SnapshotBuildError
 */
export function createSnapshotChecker(): SnapshotChecker {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  const validate: ValidateFunction<Snapshot> = ajv.compile(snapshotSchema);
  return function checkSnapshot(snapshot) {
    // Validated on a copy, so the body that was hashed is never touched.
    if (!validate(structuredClone(snapshot))) {
      throw new SnapshotBuildError((validate.errors ?? []).map((e) => `snapshot${e.instancePath} ${e.message ?? 'is invalid'}`));
    }
    checkAcrossItems(snapshot);
  };
}

function checkAcrossItems(snapshot: Snapshot): void {
  const problems: string[] = [];
  if (computeSnapshotHash(snapshot) !== snapshot.hash) problems.push('hash does not match the body');
  const slugs = new Set<string>();
  for (const api of snapshot.apis) {
    if (slugs.has(api.slug)) problems.push(`apis[${api.slug}]: duplicate slug`);
    slugs.add(api.slug);
    const majors = new Set<string>();
    for (const version of api.versions) {
      const major = version.version.split('.')[0]!;
      if (majors.has(major)) problems.push(`apis[${api.slug}]: more than one version with major ${major}`);
      majors.add(major);
    }
  }
  const plans = new Set(snapshot.plans.map((p) => p.id));
  const clientIds = new Map<string, string>();
  const prefixes = new Map<string, string>();
  for (const consumer of snapshot.consumers) {
    for (const clientId of consumer.clientIds) {
      const other = clientIds.get(clientId);
      if (other !== undefined) problems.push(`consumers[${consumer.id}]: client id "${clientId}" already belongs to ${other}`);
      clientIds.set(clientId, consumer.id);
    }
    for (const key of consumer.apiKeys) {
      const other = prefixes.get(key.prefix);
      if (other !== undefined) problems.push(`consumers[${consumer.id}]: API key prefix "${key.prefix}" is also used by ${other}`);
      prefixes.set(key.prefix, consumer.id);
    }
    if (consumer.speaksFor !== undefined && !(snapshot.ownership?.systems ?? []).some((system) => system.id === consumer.speaksFor)) {
      problems.push(`consumers[${consumer.id}]: speaks for "${consumer.speaksFor}", which is not a system of the ownership registry`);
    }
    for (const sub of consumer.subscriptions) {
      if (!plans.has(sub.plan)) problems.push(`consumers[${consumer.id}]: subscription to ${sub.api} v${sub.major} names unknown plan "${sub.plan}"`);
    }
  }
  if (problems.length > 0) throw new SnapshotBuildError(problems);
}
