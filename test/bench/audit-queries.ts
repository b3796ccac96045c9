/**
 * @module Audit benchmark (`npm run bench`, after publish-latency.ts; issue 8): on SQLite (a
 * temporary file) and on PostgreSQL (a fresh schema, dropped afterwards) it seeds
 * `AUDIT_BENCH_RECORDS` (default 1,000,000) realistic access records — 200 consumers with
 * skewed traffic, 30 days with a daily rhythm, ten decision codes in realistic proportions,
 * unique traceIds, six APIs, four gateway nodes — through the real code path: most of them with
 * `appendAccessBatch` in this process (batches of 2000, four nodes shipping at once), the last
 * tenth through `POST /api/v1/audit/access-batches` on a real control plane with a gateway
 * token. Then it times the auditors' typical queries — one consumer over a day, one decision
 * code over a week, one traceId — through `searchAccess` (first page and, where there is one,
 * the next) and a smaller sample through `GET /api/v1/audit/events`. It checks that the access
 * chain still verifies, prints a table, writes `.bench/audit-queries.json`, and says PASS when
 * every query's p95 ≤ 300 ms and ingestion ≥ 20,000 records/s on both engines (exit code 1
 * otherwise). PostgreSQL is queried as loaded, without an ANALYZE: the figures must not depend
 * on autovacuum having run (it is off on some servers, this test one included).
 *
 * Environment: `AUDIT_BENCH_RECORDS` (default 1000000), `AUDIT_BENCH_ENGINES` (default
 * `sqlite,postgres`), `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
 * PostgreSQL missing: said loudly and skipped, or a failure under `CI=true`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import type { AccessBatch, AccessRecord } from '../../contracts/index.js';
import { appendAccessBatch, verifyAccessChain } from '../../control-plane/access/store.js';
import { searchAccess, type AccessCursor, type AccessFilter } from '../../control-plane/access/search.js';
import type { Role } from '../../control-plane/auth.js';
import { createDevIdentityProvider } from '../../control-plane/dev-idp/dev-idp.js';
import { DEMO_CLIENTS, DEMO_SERVICE_CLIENT_ROLES, demoIdentities } from '../../control-plane/dev-idp/demo-identities.js';
import type { Logger } from '../../control-plane/errors.js';
import { attachControlPlane } from '../../control-plane/server.js';
import { clientToken, loginAs } from '../control-plane/dev-idp-login.js';
import { openFreshStore, postgresReachable, type FreshStore } from '../support/stores.js';
import { stealWarning, watchSteal } from './machine.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Issue 8's acceptance targets. */
export const TARGETS = { queryP95Ms: 300, ingestRecordsPerSec: 20_000 } as const;

const BATCH_SIZE = 2000;
const NODES = ['gw-eu-1', 'gw-eu-2', 'gw-eu-3', 'gw-eu-4'] as const;
const DAYS = 30;
const DAY_MS = 86_400_000;

export type Engine = 'sqlite' | 'postgres';
export type QueryKind = 'consumer-day' | 'decision-week' | 'trace-id';

// ---------------------------------------------------------------------------------------------
// The traffic: deterministic apart from trace and request ids (random, as a gateway makes them).

/** mulberry32: a small seeded PRNG, so every run seeds the same shape of traffic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Picks from weighted entries by binary search over the cumulative weights. */
function weighted<T>(entries: ReadonlyArray<readonly [T, number]>): (u: number) => T {
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  const cumulative: number[] = [];
  let running = 0;
  for (const [, w] of entries) cumulative.push((running += w / total));
  return (u) => {
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (u < cumulative[mid]!) hi = mid;
      else lo = mid + 1;
    }
    return entries[lo]![0];
  };
}

/** 200 consumers, Zipf-like (s = 1.1): the busiest sends ~20 % of the traffic, the quietest a few hundred requests a month. */
export const CONSUMERS: readonly string[] = [
  'storefront',
  'crm-sync',
  'service-desk',
  'finance-jobs',
  ...Array.from({ length: 196 }, (_, i) => `partner-${String(i + 5).padStart(3, '0')}`),
];
const CONSUMER_WEIGHTS = CONSUMERS.map((id, rank) => [id, 1 / (rank + 1) ** 1.1] as const);

/** What the gateway decided, with its share of the traffic and the status it answers. */
export const DECISIONS: ReadonlyArray<{ code: string; share: number; status: number; anonymous?: boolean; reachesUpstream?: boolean; unrouted?: boolean }> = [
  { code: 'allow', share: 0.905, status: 200, reachesUpstream: true },
  { code: 'limit.rate_exceeded', share: 0.03, status: 429 },
  { code: 'auth.token_invalid', share: 0.015, status: 401, anonymous: true },
  { code: 'auth.token_missing', share: 0.012, status: 401, anonymous: true },
  { code: 'contract.request_invalid', share: 0.01, status: 400 },
  { code: 'access.not_subscribed', share: 0.008, status: 403 },
  { code: 'route.not_found', share: 0.007, status: 404, unrouted: true },
  { code: 'access.scope_missing', share: 0.006, status: 403 },
  { code: 'upstream.timeout', share: 0.004, status: 504, reachesUpstream: true },
  { code: 'upstream.error', share: 0.003, status: 502, reachesUpstream: true },
];

interface Operation {
  api: string;
  version: string;
  operation: string;
  method: string;
  path: (r: () => number) => string;
}
const id = (r: () => number, prefix: string, digits: number): string => `${prefix}${String(Math.floor(r() * 10 ** digits)).padStart(digits, '0')}`;
const OPERATIONS: ReadonlyArray<readonly [Operation, number]> = [
  [{ api: 'erp-orders', version: '1.4.0', operation: 'listOrders', method: 'GET', path: () => '/orders?state=sale&limit=50' }, 14],
  [{ api: 'erp-orders', version: '1.4.0', operation: 'getOrder', method: 'GET', path: (r) => `/orders/${id(r, 'SO', 6)}` }, 22],
  [{ api: 'erp-orders', version: '1.4.0', operation: 'createOrder', method: 'POST', path: () => '/orders' }, 4],
  [{ api: 'erp-orders', version: '1.4.0', operation: 'updateOrder', method: 'PATCH', path: (r) => `/orders/${id(r, 'SO', 6)}` }, 2],
  [{ api: 'erp-invoices', version: '2.1.0', operation: 'listInvoices', method: 'GET', path: () => '/invoices?payment_state=not_paid' }, 5],
  [{ api: 'erp-invoices', version: '2.1.0', operation: 'getInvoice', method: 'GET', path: (r) => `/invoices/${id(r, 'INV/2025/', 5)}` }, 6],
  [{ api: 'crm-customers', version: '1.2.0', operation: 'getCustomer', method: 'GET', path: (r) => `/customers/${id(r, '001', 12)}` }, 10],
  [{ api: 'crm-customers', version: '1.2.0', operation: 'upsertCustomer', method: 'PUT', path: (r) => `/customers/${id(r, '001', 12)}` }, 3],
  [{ api: 'catalogue', version: '3.0.0', operation: 'listProducts', method: 'GET', path: () => '/products?category=shoes&limit=100' }, 12],
  [{ api: 'catalogue', version: '3.0.0', operation: 'getProduct', method: 'GET', path: (r) => `/products/${id(r, 'P', 7)}` }, 10],
  [{ api: 'stock', version: '1.0.3', operation: 'getStockLevel', method: 'GET', path: (r) => `/stock/${id(r, 'P', 7)}?warehouse=WH1` }, 9],
  [{ api: 'service-desk', version: '1.1.0', operation: 'createTicket', method: 'POST', path: () => '/tickets' }, 2],
  [{ api: 'service-desk', version: '1.1.0', operation: 'getTicket', method: 'GET', path: (r) => `/tickets/${id(r, '', 6)}` }, 1],
];

/** Share of each hour of the day (UTC) in the traffic: quiet nights, a busy working day. */
const HOURLY = [2, 1.5, 1, 1, 1, 1.5, 3, 5, 7, 8, 8, 7.5, 7, 7.5, 8, 8, 7.5, 7, 6, 5.5, 5, 4.5, 3.5, 2.5];
const HOUR_CUMULATIVE = (() => {
  const total = HOURLY.reduce((a, b) => a + b, 0);
  let running = 0;
  return HOURLY.map((w) => (running += w / total));
})();

/** Milliseconds into a day for a fraction `u` of that day's traffic (inverse of the hourly shares). */
function timeOfDay(u: number): number {
  let hour = 0;
  while (hour < 23 && u >= HOUR_CUMULATIVE[hour]!) hour++;
  const before = hour === 0 ? 0 : HOUR_CUMULATIVE[hour - 1]!;
  return (hour + (u - before) / (HOUR_CUMULATIVE[hour]! - before)) * 3_600_000;
}

const SNAPSHOTS = Array.from({ length: 6 }, (_, i) => `${(i + 1).toString(16)}`.repeat(64));

/**
 * The traffic of `DAYS` days ending at `endMs`, in time order, cut into batches of 2000 for the
 * four nodes in turn (each node numbers its own batches).
 */
export class AccessTraffic {
  readonly total: number;
  readonly startMs: number;
  readonly endMs: number;
  private readonly random = prng(0x6a7e);
  private readonly consumerOf = weighted(CONSUMER_WEIGHTS);
  private readonly decisionOf = weighted(DECISIONS.map((d) => [d, d.share] as const));
  private readonly operationOf = weighted(OPERATIONS);
  private produced = 0;
  private batches = 0;
  private readonly traceSample: string[] = [];

  constructor(total: number, endMs: number) {
    this.total = total;
    this.endMs = endMs;
    this.startMs = endMs - DAYS * DAY_MS;
  }

  get remaining(): number {
    return this.total - this.produced;
  }

  /** Up to 200 traceIds seen so far, spread over the whole run (reservoir sample). */
  get traceIds(): readonly string[] {
    return this.traceSample;
  }

  /** The next batch of at most `size` records, or undefined when all were produced. */
  nextBatch(size = BATCH_SIZE): AccessBatch | undefined {
    const count = Math.min(size, this.remaining);
    if (count === 0) return undefined;
    const node = NODES[this.batches % NODES.length]!;
    const batchId = String(Math.floor(this.batches / NODES.length) + 1).padStart(8, '0');
    this.batches++;
    const ids = randomBytes(count * 24).toString('hex');
    const records: AccessRecord[] = [];
    for (let i = 0; i < count; i++) {
      const record = this.record(this.produced, ids.slice(i * 48, i * 48 + 32), ids.slice(i * 48 + 32, i * 48 + 48));
      records.push(record);
      this.produced++;
      if (this.traceSample.length < 200) this.traceSample.push(record.traceId);
      else if (this.random() < 200 / this.produced) this.traceSample[Math.floor(this.random() * 200)] = record.traceId;
    }
    return { nodeId: node, batchId, records };
  }

  private record(n: number, traceId: string, requestId: string): AccessRecord {
    const r = this.random;
    // Records are spread evenly over the days and by the hourly shares within a day.
    const position = (n + 0.5) / this.total * DAYS;
    const day = Math.floor(position);
    const time = this.startMs + day * DAY_MS + timeOfDay(position - day) + Math.floor(r() * 50);
    const decision = this.decisionOf(r());
    const operation = this.operationOf(r());
    const consumer = decision.anonymous === true ? null : this.consumerOf(r());
    const rank = consumer === null ? 0 : CONSUMERS.indexOf(consumer);
    // Half the consumers act for signed-in people (a storefront's shoppers, service agents).
    const subject = consumer === null ? null : rank % 2 === 0 ? `user-${Math.floor(r() ** 2 * 50_000)}` : `client:${consumer}`;
    const upstreamMs = decision.reachesUpstream === true ? Math.exp(3 + r() * 2.2) : null;
    const latencyMs = Math.round(((upstreamMs ?? 0) + 0.4 + r() * 1.6) * 1000) / 1000;
    const status = decision.code === 'allow' ? (operation.method === 'POST' ? 201 : r() < 0.03 ? 404 : 200) : decision.status;
    return {
      time: new Date(time).toISOString(),
      traceId,
      requestId,
      api: decision.unrouted === true ? null : operation.api,
      version: decision.unrouted === true ? null : operation.version,
      operation: decision.unrouted === true ? null : operation.operation,
      method: operation.method,
      path: operation.path(r),
      status,
      decision: decision.code,
      latencyMs,
      upstreamLatencyMs: upstreamMs === null ? null : Math.round(upstreamMs * 1000) / 1000,
      upstreamStatus: decision.reachesUpstream === true ? (decision.code === 'allow' ? status : decision.status === 504 ? null : 503) : null,
      consumer,
      subject,
      clientAddress: consumer === null ? `203.0.113.${Math.floor(r() * 254) + 1}` : `10.20.${rank >> 4}.${(rank % 16) * 16 + Math.floor(r() * 16)}`,
      snapshotHash: SNAPSHOTS[Math.min(SNAPSHOTS.length - 1, Math.floor((day * SNAPSHOTS.length) / DAYS))]!,
      aborted: r() < 0.002,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring.

export interface Latencies {
  samples: number;
  p50: number;
  p95: number;
  max: number;
  /** Mean rows the query answered (a page is at most 50). */
  meanRows: number;
}

export interface IngestResult {
  records: number;
  batches: number;
  seconds: number;
  recordsPerSec: number;
}

export interface EngineReport {
  engine: Engine;
  status: 'ok' | 'skipped';
  reason?: string;
  records?: number;
  ingest?: { inProcess: IngestResult; http: IngestResult };
  /** `searchAccess` in process: the first page, and the next page where the first had one. */
  queries?: Record<QueryKind, { first: Latencies; next?: Latencies }>;
  /** `GET /api/v1/audit/events` (first page), a smaller sample. */
  httpQueries?: Record<QueryKind, Latencies>;
  chainIntact?: boolean;
  /** Disk used by the store (file or schema), MB. */
  sizeMb?: number;
  /**
   * 1-minute load average when the engine's run started and ended: other processes on the
   * machine take cores from the store and this process, and the figures with them.
   */
  loadAverage?: { start: number; end: number };
  /** CPU the hypervisor withheld during the engine's run, in % of one core (Linux only). */
  stealPct?: number;
  pass?: boolean;
}

export interface AuditBenchReport {
  records: number;
  targets: typeof TARGETS;
  engines: EngineReport[];
  pass: boolean;
  environment: { node: string; cpus: number; batchSize: number; shippers: number };
}

export interface AuditBenchOptions {
  records: number;
  engines: readonly Engine[];
  /** Records shipped over HTTP, out of `records` (default a tenth, whole batches, at least one batch). */
  httpRecords?: number;
  /** Samples per query kind in process (default 80) and over HTTP (default 20). */
  querySamples?: number;
  httpQuerySamples?: number;
  databaseUrl?: string;
  /** Progress lines (stderr by default). */
  log?: (line: string) => void;
}

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {} };

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summarise(times: readonly number[], rows: readonly number[]): Latencies {
  return {
    samples: times.length,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    max: times.length === 0 ? 0 : Math.max(...times),
    meanRows: rows.length === 0 ? 0 : rows.reduce((a, b) => a + b, 0) / rows.length,
  };
}

/** Disk used by the store: the SQLite file's pages, or the tables of the PostgreSQL schema, MB. */
async function sizeMb(store: FreshStore): Promise<number> {
  const { rows } =
    store.engine === 'sqlite'
      ? await sql<{ bytes: number }>`select page_count * page_size as bytes from pragma_page_count(), pragma_page_size()`.execute(store.db)
      : await sql<{ bytes: string }>`select coalesce(sum(pg_total_relation_size(c.oid)), 0) as bytes from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = ${store.location} and c.relkind = 'r'`.execute(store.db);
  return Number(rows[0]?.bytes ?? 0) / 1e6;
}

/** Ships `batches` with one shipper per node, each sending its own batches in order. */
async function shipConcurrently(batches: readonly AccessBatch[], send: (batch: AccessBatch) => Promise<void>): Promise<void> {
  const perNode = new Map<string, AccessBatch[]>();
  for (const batch of batches) perNode.set(batch.nodeId, [...(perNode.get(batch.nodeId) ?? []), batch]);
  await Promise.all([...perNode.values()].map(async (queue) => {
    for (const batch of queue) await send(batch);
  }));
}

/** A query of each kind, parameters drawn from the seeded traffic. */
function querySets(traffic: AccessTraffic, samples: number, seed: number): Record<QueryKind, AccessFilter[]> {
  const r = prng(seed);
  const busy = weighted(CONSUMER_WEIGHTS);
  const iso = (ms: number): string => new Date(ms).toISOString();
  const consumerDay: AccessFilter[] = [];
  const decisionWeek: AccessFilter[] = [];
  const trace: AccessFilter[] = [];
  for (let i = 0; i < samples; i++) {
    // Half by traffic (the busy consumers auditors ask about most), half any consumer.
    const consumer = i % 2 === 0 ? busy(r()) : CONSUMERS[Math.floor(r() * CONSUMERS.length)]!;
    const day = traffic.startMs + Math.floor(r() * DAYS) * DAY_MS;
    consumerDay.push({ consumer, from: iso(day), to: iso(day + DAY_MS) });
    const decision = DECISIONS[i % DECISIONS.length]!.code;
    const weekStart = traffic.startMs + Math.floor(r() * (DAYS - 6)) * DAY_MS;
    decisionWeek.push({ decision, from: iso(weekStart), to: iso(weekStart + 7 * DAY_MS) });
    const ids = traffic.traceIds;
    trace.push({ traceId: ids[Math.floor(r() * ids.length)]! });
  }
  return { 'consumer-day': consumerDay, 'decision-week': decisionWeek, 'trace-id': trace };
}

const QUERY_KINDS: readonly QueryKind[] = ['consumer-day', 'decision-week', 'trace-id'];
const PAGE = 50;

async function benchEngine(engine: Engine, options: Required<Omit<AuditBenchOptions, 'log'>>, log: (line: string) => void): Promise<EngineReport> {
  if (engine === 'postgres') {
    const problem = await postgresReachable(options.databaseUrl);
    if (problem !== undefined) {
      const message = `PostgreSQL is not reachable at ${options.databaseUrl.replace(/\/\/[^@]*@/, '//…@')} (${problem}); the PostgreSQL half of the audit benchmark did not run`;
      if (process.env.CI === 'true') throw new Error(`${message}. CI=true: the PostgreSQL run is required.`);
      log(`\n*** SKIPPED: ${message} ***\n`);
      return { engine, status: 'skipped', reason: message };
    }
  }
  const loadAtStart = loadavg()[0]!;
  const store = await openFreshStore(engine, { databaseUrl: options.databaseUrl, logger: quiet });
  const server: Server = createHttpServer();
  const cleanups: Array<() => Promise<void>> = [];
  try {
    // The control plane and its dev OpenID provider on one port, as `npm start` runs them.
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const cpUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const issuer = `${cpUrl}/oidc`;
    const idp = await createDevIdentityProvider({ issuer, audience: 'gatehouse', ...demoIdentities(), adminRedirectUris: [`${cpUrl}/auth/callback`] });
    // Its errors and warnings reach the progress log: a failed batch should say why.
    const logger: Logger = { ...quiet, error: (message, meta) => log(`control plane error: ${message} ${JSON.stringify(meta ?? {})}`), warn: (message, meta) => log(`control plane warning: ${message} ${JSON.stringify(meta ?? {})}`) };
    const cp = attachControlPlane(server, { store, logger, auth: { issuer, audience: 'gatehouse', serviceClients: DEMO_SERVICE_CLIENT_ROLES as Record<string, Role[]> }, oidcCallback: idp.callback });
    cleanups.push(async () => {
      server.closeAllConnections();
      await cp.close();
      await idp.close();
    });
    const gatewayClient = DEMO_CLIENTS.find((c) => c.clientId === 'gatehouse-gateway')!;
    const gatewayToken = await clientToken(`${issuer}/token`, gatewayClient.clientId, gatewayClient.clientSecret);
    const auditorToken = (await loginAs('ada.auditor', 'demo-auditor', { issuer, redirectUri: `${cpUrl}/auth/callback` })).accessToken;

    // The last 30 days up to the hour the benchmark starts (retention keeps all of it).
    const traffic = new AccessTraffic(options.records, Math.floor(Date.now() / 3_600_000) * 3_600_000);
    const httpRecords = Math.min(options.records, Math.max(BATCH_SIZE, options.httpRecords));
    const inProcessRecords = options.records - httpRecords;

    // 1. Most records in process, a window of 4 batches (one per node) at a time.
    log(`audit bench ${engine}: shipping ${inProcessRecords.toLocaleString('en')} records in process`);
    let inProcessSec = 0;
    let inProcessBatches = 0;
    let shipped = 0;
    let reported = 0;
    while (traffic.remaining > httpRecords) {
      const window: AccessBatch[] = [];
      while (window.length < NODES.length && traffic.remaining > httpRecords) window.push(traffic.nextBatch(Math.min(BATCH_SIZE, traffic.remaining - httpRecords))!);
      const started = performance.now();
      await shipConcurrently(window, async (batch) => {
        await appendAccessBatch(store.db, store.dialect, Date.now(), batch);
      });
      inProcessSec += (performance.now() - started) / 1000;
      // better-sqlite3 answers synchronously, so the loop above never reaches the event loop:
      // let it run, or the server's idle keep-alive sockets time out only when the HTTP phase
      // starts, racing its first request (ECONNRESET).
      await new Promise((done) => setImmediate(done));
      inProcessBatches += window.length;
      shipped += window.reduce((sum, batch) => sum + batch.records.length, 0);
      if (shipped - reported >= 100_000) {
        reported = shipped;
        log(`  ${shipped.toLocaleString('en')} records, ${Math.round(shipped / inProcessSec).toLocaleString('en')} records/s`);
      }
    }

    // 2. The rest over HTTP, bodies serialised before the clock starts, four nodes at once.
    log(`audit bench ${engine}: shipping ${httpRecords.toLocaleString('en')} records through POST /api/v1/audit/access-batches`);
    const httpBatches: AccessBatch[] = [];
    for (let batch = traffic.nextBatch(); batch !== undefined; batch = traffic.nextBatch()) httpBatches.push(batch);
    const bodies = new Map(httpBatches.map((batch) => [batch, JSON.stringify(batch)]));
    const httpStarted = performance.now();
    await shipConcurrently(httpBatches, async (batch) => {
      const res = await fetch(`${cpUrl}/api/v1/audit/access-batches`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gatewayToken}`, 'content-type': 'application/json' },
        body: bodies.get(batch)!,
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`POST access-batches answered ${res.status}: ${text.slice(0, 500)}`);
      const receipt = JSON.parse(text) as { accepted: number; duplicate: boolean };
      if (receipt.duplicate || receipt.accepted !== batch.records.length) throw new Error(`batch ${batch.nodeId}/${batch.batchId} not stored whole: ${text}`);
    });
    const httpSec = (performance.now() - httpStarted) / 1000;
    const ingest = {
      inProcess: { records: inProcessRecords, batches: inProcessBatches, seconds: inProcessSec, recordsPerSec: inProcessRecords / inProcessSec },
      http: { records: httpRecords, batches: httpBatches.length, seconds: httpSec, recordsPerSec: httpRecords / httpSec },
    };
    log(`  in process ${Math.round(ingest.inProcess.recordsPerSec).toLocaleString('en')} records/s, HTTP ${Math.round(ingest.http.recordsPerSec).toLocaleString('en')} records/s`);

    // 3. The auditors' queries through searchAccess: first page, then the next one.
    const sets = querySets(traffic, options.querySamples, 0x5eed);
    const queries = {} as Record<QueryKind, { first: Latencies; next?: Latencies }>;
    for (const kind of QUERY_KINDS) {
      const firstTimes: number[] = [];
      const firstRows: number[] = [];
      const nextTimes: number[] = [];
      const nextRows: number[] = [];
      for (const filter of sets[kind]) {
        let started = performance.now();
        const page = await searchAccess(store.db, filter, PAGE);
        firstTimes.push(performance.now() - started);
        firstRows.push(page.rows.length);
        if (kind === 'trace-id' && page.rows.length !== 1) throw new Error(`traceId ${filter.traceId} found ${page.rows.length} records, expected 1`);
        const cursor: AccessCursor | undefined = page.next;
        if (cursor !== undefined) {
          started = performance.now();
          const next = await searchAccess(store.db, filter, PAGE, cursor);
          nextTimes.push(performance.now() - started);
          nextRows.push(next.rows.length);
        }
      }
      queries[kind] = { first: summarise(firstTimes, firstRows), ...(nextTimes.length === 0 ? {} : { next: summarise(nextTimes, nextRows) }) };
      log(`  searchAccess ${kind}: p50 ${queries[kind].first.p50.toFixed(1)} ms, p95 ${queries[kind].first.p95.toFixed(1)} ms, max ${queries[kind].first.max.toFixed(1)} ms`);
    }

    // 4. A smaller sample through the admin API, as the web admin asks.
    const httpSets = querySets(traffic, options.httpQuerySamples, 0xa0d17);
    const httpQueries = {} as Record<QueryKind, Latencies>;
    for (const kind of QUERY_KINDS) {
      const times: number[] = [];
      const rows: number[] = [];
      for (const filter of httpSets[kind]) {
        const params = new URLSearchParams({ kind: 'access', ...(filter as Record<string, string>) });
        const started = performance.now();
        const res = await fetch(`${cpUrl}/api/v1/audit/events?${params}`, { headers: { authorization: `Bearer ${auditorToken}` } });
        const text = await res.text();
        times.push(performance.now() - started);
        if (res.status !== 200) throw new Error(`GET audit/events answered ${res.status}: ${text.slice(0, 500)}`);
        rows.push((JSON.parse(text) as { items: unknown[] }).items.length);
      }
      httpQueries[kind] = summarise(times, rows);
    }

    // 5. The chain the records went into still verifies (not timed: it reads every record).
    log(`audit bench ${engine}: verifying the access chain`);
    const verdict = await verifyAccessChain(store.db, 1000);
    const chainIntact = verdict.intact && verdict.records === options.records;
    const storeSizeMb = await sizeMb(store);
    const pass =
      chainIntact &&
      ingest.inProcess.recordsPerSec >= TARGETS.ingestRecordsPerSec &&
      ingest.http.recordsPerSec >= TARGETS.ingestRecordsPerSec &&
      QUERY_KINDS.every((kind) => queries[kind].first.p95 <= TARGETS.queryP95Ms && (queries[kind].next?.p95 ?? 0) <= TARGETS.queryP95Ms && httpQueries[kind].p95 <= TARGETS.queryP95Ms);
    return { engine, status: 'ok', records: options.records, ingest, queries, httpQueries, chainIntact, sizeMb: storeSizeMb, loadAverage: { start: loadAtStart, end: loadavg()[0]! }, pass };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await store.dispose();
  }
}

/**
 * @example
 * const report = await runAuditQueriesBench({ records: 1_000_000, engines: ['sqlite', 'postgres'] });
 * console.log(formatAuditQueries(report));
 */
export async function runAuditQueriesBench(options: AuditBenchOptions): Promise<AuditBenchReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const full: Required<Omit<AuditBenchOptions, 'log'>> = {
    records: options.records,
    engines: options.engines,
    httpRecords: options.httpRecords ?? Math.round(options.records / 10 / BATCH_SIZE) * BATCH_SIZE,
    querySamples: options.querySamples ?? 80,
    httpQuerySamples: options.httpQuerySamples ?? 20,
    databaseUrl: options.databaseUrl ?? process.env.TEST_DATABASE_URL ?? DEFAULT_DATABASE_URL,
  };
  const engines: EngineReport[] = [];
  for (const engine of full.engines) {
    const stealSince = watchSteal();
    const report = await benchEngine(engine, full, log);
    const stealPct = stealSince();
    if (stealPct !== undefined) report.stealPct = stealPct;
    engines.push(report);
  }
  return {
    records: full.records,
    targets: TARGETS,
    engines,
    // The acceptance needs both engines: a skipped one is no pass.
    pass: engines.every((e) => e.status === 'ok' && e.pass === true),
    environment: { node: process.version, cpus: cpus().length, batchSize: BATCH_SIZE, shippers: NODES.length },
  };
}

/** The report as a table for the terminal. */
export function formatAuditQueries(report: AuditBenchReport): string {
  const ms = (value: number): string => value.toFixed(1).padStart(7);
  const rate = (value: number): string => Math.round(value).toLocaleString('en').padStart(8);
  const lines = [`Audit benchmark: ${report.records.toLocaleString('en')} access records per engine (targets: query p95 <= ${report.targets.queryP95Ms} ms, ingestion >= ${report.targets.ingestRecordsPerSec.toLocaleString('en')} records/s)`];
  for (const e of report.engines) {
    if (e.status === 'skipped') {
      lines.push(`  ${e.engine}: SKIPPED (${e.reason ?? ''})`);
      continue;
    }
    const { ingest, queries, httpQueries } = e;
    if (ingest === undefined || queries === undefined || httpQueries === undefined) continue;
    lines.push(
      `  ${e.engine}: ingestion in process ${rate(ingest.inProcess.recordsPerSec)} records/s (${ingest.inProcess.records.toLocaleString('en')}), over HTTP ${rate(ingest.http.recordsPerSec)} records/s (${ingest.http.records.toLocaleString('en')}); chain ${e.chainIntact === true ? 'intact' : 'BROKEN'}; ${(e.sizeMb ?? 0).toFixed(0)} MB; load average ${e.loadAverage?.start.toFixed(1)} → ${e.loadAverage?.end.toFixed(1)}`,
      `    query                          samples    p50 ms    p95 ms    max ms   rows`,
    );
    for (const kind of QUERY_KINDS) {
      const row = (label: string, l: Latencies): string => `    ${label.padEnd(30)} ${String(l.samples).padStart(7)}   ${ms(l.p50)}   ${ms(l.p95)}   ${ms(l.max)}   ${l.meanRows.toFixed(0).padStart(4)}`;
      lines.push(row(`${kind} (searchAccess)`, queries[kind].first));
      const next = queries[kind].next;
      if (next !== undefined) lines.push(row(`${kind} next page`, next));
      lines.push(row(`${kind} (HTTP)`, httpQueries[kind]));
    }
    const steal = stealWarning(e.stealPct, `during the ${e.engine} run`);
    if (steal !== undefined) lines.push(`    ${steal}`);
    lines.push(`    ${e.pass === true ? 'PASS' : 'FAIL'}`);
  }
  lines.push(`  ${report.pass ? 'PASS' : 'FAIL'}`);
  return lines.join('\n');
}

function recordsFromEnv(): number {
  const raw = process.env.AUDIT_BENCH_RECORDS;
  if (raw === undefined || raw === '') return 1_000_000;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < BATCH_SIZE) throw new Error(`AUDIT_BENCH_RECORDS=${JSON.stringify(raw)} is not an integer of at least ${BATCH_SIZE}`);
  return value;
}

function enginesFromEnv(): Engine[] {
  const raw = process.env.AUDIT_BENCH_ENGINES;
  if (raw === undefined || raw === '') return ['sqlite', 'postgres'];
  const engines = raw.split(',').map((e) => e.trim());
  for (const engine of engines) if (engine !== 'sqlite' && engine !== 'postgres') throw new Error(`AUDIT_BENCH_ENGINES: unknown engine "${engine}"`);
  return engines as Engine[];
}

async function main(): Promise<void> {
  const report = await runAuditQueriesBench({ records: recordsFromEnv(), engines: enginesFromEnv() });
  process.stdout.write(`\n${formatAuditQueries(report)}\n`);
  const outDir = join(REPO_ROOT, '.bench');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'audit-queries.json'), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`results written to ${join(outDir, 'audit-queries.json')}\n`);
  if (!report.pass) process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
