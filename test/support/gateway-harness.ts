/**
 * @module Boots a real gateway (both ports, on loopback) from an inline snapshot, with its
 * operational and access logs captured in memory so tests can read every line.
 */
import { PassThrough } from 'node:stream';
import { computeSnapshotHash, type ApiSpec, type ConsumerSpec, type OwnershipSpec, type PlanSpec, type PolicyBinding, type Snapshot } from '../../contracts/index.js';
import type { AccessRecord, Clock, Logger, RedisClient } from '../../policies/index.js';
import { createGateway, type Gateway } from '../../gateway/gateway.js';
import { createAccessLog, createAppLogger, teeAccessLog, type LineAccessLog } from '../../gateway/logging.js';
import { listenGateway, type GatewayServers } from '../../gateway/server.js';
import type { AsyncStore } from '../../gateway/async/store.js';
import type { SnapshotSink, SnapshotSource } from '../../gateway/snapshot/source.js';

export interface SnapshotInput {
  apis: ApiSpec[];
  plans?: PlanSpec[];
  consumers?: ConsumerSpec[];
  gatewayPolicies?: PolicyBinding[];
  generatedAt?: string;
  /** The system-of-record registry; absent: the snapshot carries none. */
  ownership?: OwnershipSpec;
}

/** A sealed snapshot (hash computed) from the parts a test cares about. */
export function buildSnapshot(input: SnapshotInput): Snapshot {
  const body = {
    formatVersion: 1,
    generatedAt: input.generatedAt ?? '2026-11-01T00:00:00.000Z',
    gateway: { policies: input.gatewayPolicies ?? [] },
    apis: input.apis,
    plans: input.plans ?? [],
    consumers: input.consumers ?? [],
    ...(input.ownership === undefined ? {} : { ownership: input.ownership }),
  };
  return { ...body, hash: computeSnapshotHash(body) };
}

/** A snapshot source fed by the test. */
export function createManualSource(): SnapshotSource & { push(text: string): Promise<void> } {
  let sink: SnapshotSink | undefined;
  return {
    describe: () => 'manual (test)',
    start(s) {
      sink = s;
    },
    async close() {},
    async push(text) {
      if (sink === undefined) throw new Error('source not started');
      await sink(text, 'test');
    },
  };
}

/** Collects what a stream receives, line by line. */
export function captureLines(): { stream: PassThrough; lines: () => string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return { stream, lines: () => text.split('\n').filter((l) => l.length > 0) };
}

export interface TestGateway {
  gateway: Gateway;
  servers: GatewayServers;
  url: string;
  statusUrl: string;
  source: ReturnType<typeof createManualSource>;
  logLines(): string[];
  accessRecords(): AccessRecord[];
  /** Waits until the access log holds `count` records (they are written when the exchange closes). */
  waitForRecords(count: number): Promise<AccessRecord[]>;
  /** Waits until a record matching `predicate` has been written. */
  waitForRecord(predicate: (record: AccessRecord) => boolean): Promise<AccessRecord>;
  close(): Promise<void>;
}

export async function startTestGateway(options: {
  snapshot?: Snapshot;
  secrets?: Record<string, string>;
  maxBufferedBodyBytes?: number;
  /** Shared store (see test/support/redis.ts); absent: memory stores. The caller closes it. */
  redis?: RedisClient;
  /** Frozen or stepped time for policies (rate windows, TTLs). */
  clock?: Clock;
  fetch?: typeof fetch;
  /** Bearer token of the status port's admin routes; absent: they are off. */
  adminToken?: string;
  /** A real snapshot source (given the gateway's logger) instead of the manual one; `snapshot` is then ignored. */
  snapshotSource?: (logger: Logger) => SnapshotSource;
  /** More access logs beside the captured one (a spool shipping to a control plane), given the gateway's logger. */
  accessLogs?: (logger: Logger) => LineAccessLog[];
  /** The async delivery queue (given the gateway's logger); the caller closes it after the gateway. */
  asyncStore?: (logger: Logger) => AsyncStore;
  asyncConcurrency?: number;
} = {}): Promise<TestGateway> {
  const appLog = captureLines();
  const access = captureLines();
  const logger = createAppLogger({ component: 'gateway', level: 'debug', stream: appLog.stream });
  const captured = createAccessLog({ stream: access.stream });
  const extraLogs = options.accessLogs?.(logger) ?? [];
  const accessLog = extraLogs.length === 0 ? captured : teeAccessLog([captured, ...extraLogs]);
  const source = createManualSource();
  const secrets = options.secrets ?? {};
  const gateway = createGateway({
    snapshotSource: options.snapshotSource?.(logger) ?? source,
    logger,
    accessLog,
    resolveSecret: (name) => secrets[name],
    ...(options.maxBufferedBodyBytes === undefined ? {} : { maxBufferedBodyBytes: options.maxBufferedBodyBytes }),
    ...(options.redis === undefined ? {} : { redis: options.redis }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.adminToken === undefined ? {} : { adminToken: options.adminToken }),
    ...(options.asyncStore === undefined ? {} : { asyncStore: options.asyncStore(logger) }),
    ...(options.asyncConcurrency === undefined ? {} : { asyncConcurrency: options.asyncConcurrency }),
  });
  const servers = await listenGateway({ gateway, host: '127.0.0.1' });
  if (options.snapshot !== undefined && options.snapshotSource === undefined) {
    await source.push(JSON.stringify(options.snapshot));
    if (!gateway.ready()) {
      await servers.close(0);
      throw new Error(`test snapshot rejected:\n${appLog.lines().join('\n')}`);
    }
  }
  const accessRecords = (): AccessRecord[] => access.lines().map((line) => JSON.parse(line) as AccessRecord);
  return {
    gateway,
    servers,
    url: servers.trafficUrl,
    statusUrl: servers.statusUrl,
    source,
    logLines: appLog.lines,
    accessRecords,
    async waitForRecords(count) {
      for (let i = 0; i < 200; i++) {
        const records = accessRecords();
        if (records.length >= count) return records;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`expected ${count} access records, have ${accessRecords().length}`);
    },
    async waitForRecord(predicate) {
      for (let i = 0; i < 300; i++) {
        const found = accessRecords().find(predicate);
        if (found !== undefined) return found;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('no matching access record was written');
    },
    close: () => servers.close(1000),
  };
}

/** An API with one published `1.0.0` version (gateway prefix `/{slug}/v1`). */
export function singleVersionApi(
  slug: string,
  upstream: ApiSpec['versions'][number]['upstream'],
  operations: ApiSpec['versions'][number]['operations'],
  extra: Partial<ApiSpec['versions'][number]> = {},
): ApiSpec {
  return { slug, title: slug, versions: [{ version: '1.0.0', status: 'published', upstream, operations, policies: [], ...extra }] };
}

/** An `http` upstream version with the given operations, for routing and hygiene tests. */
export function httpApi(slug: string, baseUrl: string, operations: ApiSpec['versions'][number]['operations'], extra: Partial<ApiSpec['versions'][number]> = {}): ApiSpec {
  return singleVersionApi(slug, { kind: 'http', baseUrl, connectTimeoutMs: 1000, responseTimeoutMs: 2000, settings: {} }, operations, extra);
}
