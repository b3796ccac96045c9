/**
 * The access-record spool and its shipper against a fake control plane (a loopback server that
 * stores each (nodeId, batchId) once, answers `duplicate: true` to a re-sent batch like the real
 * one, and can be told to fail): shipped once and in order, nothing lost through an outage or a
 * restart, a torn line ignored, a full spool dropping loudly but never throwing, 401 and 400.
 */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { AccessBatch, AccessBatchReceipt, AccessRecord, Logger } from '../../contracts/index.js';
import { createAccessShipper, type AccessShipper, type AccessShipperOptions } from '../../gateway/access-shipper.js';
import { createAccessSpool, type AccessSpool, type AccessSpoolOptions } from '../../gateway/access-spool.js';
import { createAccessLog, teeAccessLog, type LineAccessLog } from '../../gateway/logging.js';
import { createGatewayMetrics } from '../../gateway/metrics.js';
import { createControlPlaneTokenSource } from '../../gateway/snapshot/control-plane-token.js';
import { accessRoutes } from '../../control-plane/routes/access.js';
import { startTestControlPlane } from '../support/control-plane.js';
import { captureLines } from '../support/gateway-harness.js';
import { until } from '../support/until.js';

const NODE_ID = 'gw-test';
const TOKEN = 'planted-token-3f9c1e0b7a2d';

function record(requestId: string): AccessRecord {
  return {
    time: '2026-11-26T10:00:00.000Z',
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    requestId,
    api: 'erp-sales',
    version: '1.0.0',
    operation: 'searchSaleOrders',
    method: 'GET',
    path: '/orders?limit=5',
    status: 200,
    decision: 'allow',
    latencyMs: 1.5,
    upstreamLatencyMs: 1.1,
    upstreamStatus: 200,
    consumer: 'storefront',
    subject: null,
    clientAddress: '127.0.0.1',
    snapshotHash: 'a'.repeat(64),
    aborted: false,
  };
}

const ids = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);

interface LogLine {
  level: keyof Logger;
  message: string;
  meta: Record<string, unknown> | undefined;
}

function captureLogger(): Logger & { lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const at =
    (level: keyof Logger) =>
    (message: string, meta?: Record<string, unknown>): void => {
      lines.push({ level, message, meta });
    };
  return { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), text: () => lines.map((l) => `${l.message} ${JSON.stringify(l.meta ?? {})}`).join('\n') };
}

type Answer = { status: number; body?: unknown } | 'store' | 'store-then-503' | 'drop-connection';

/** A control plane that takes batches like the real one: stored once per (nodeId, batchId). */
interface FakeControlPlane {
  url: string;
  /** Every batch stored, in arrival order (duplicates not repeated). */
  stored: AccessBatch[];
  /** Every POST, duplicates included. */
  posts: Array<{ batchId: string; authorization: string | undefined }>;
  /** How to answer the next POSTs (default: store and 200). Called per request. */
  answer: (batch: AccessBatch, post: number) => Answer;
  requestIdsStored(): string[];
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

async function startFakeControlPlane(t: TestContext): Promise<FakeControlPlane> {
  const byKey = new Map<string, AccessBatch>();
  let seq = 0;
  const fake: FakeControlPlane = {
    url: '',
    stored: [],
    posts: [],
    answer: () => 'store',
    requestIdsStored: () => fake.stored.flatMap((b) => b.records.map((r) => r.requestId)),
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
    restart: async () => {
      server = createServer(handle);
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    },
    close: async () => {
      if (server.listening) await fake.stop();
    },
  };

  function handle(req: IncomingMessage, res: ServerResponse): void {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/api/v1/audit/access-batches' || req.headers['content-type'] !== 'application/json') {
        res.writeHead(404).end();
        return;
      }
      const batch = JSON.parse(text) as AccessBatch;
      fake.posts.push({ batchId: batch.batchId, authorization: req.headers.authorization });
      const answer = fake.answer(batch, fake.posts.length);
      if (answer === 'drop-connection') {
        req.socket.destroy();
        return;
      }
      if (answer !== 'store' && answer !== 'store-then-503') {
        res.writeHead(answer.status, { 'content-type': 'application/problem+json' }).end(JSON.stringify(answer.body ?? { code: 'test.failure' }));
        return;
      }
      const key = `${batch.nodeId}\u0000${batch.batchId}`;
      const duplicate = byKey.has(key);
      if (!duplicate) {
        byKey.set(key, batch);
        fake.stored.push(batch);
      }
      if (answer === 'store-then-503') {
        // Stored, but the answer is lost: the node must send the batch again.
        res.writeHead(503).end();
        return;
      }
      const receipt: AccessBatchReceipt = { batchId: batch.batchId, accepted: duplicate ? 0 : batch.records.length, duplicate, seq: ++seq, hash: 'b'.repeat(64) };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(receipt));
    });
  }

  let server: Server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  fake.url = `http://127.0.0.1:${port}`;
  t.after(() => fake.close());
  return fake;
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-spool-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const segmentFiles = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.ndjson'));

/** A spool and shipper with test-sized timings; closed (spool first) when the test ends. */
function startNode(
  t: TestContext,
  dir: string,
  cp: { url: string },
  logger: Logger,
  overrides: { spool?: Partial<AccessSpoolOptions>; shipper?: Partial<AccessShipperOptions> } = {},
): { spool: AccessSpool; shipper: AccessShipper; close(): Promise<void> } {
  const spool = createAccessSpool({ dir, logger, segmentMaxRecords: 10, rollIntervalMs: 20, flushIntervalMs: 5, ...overrides.spool });
  const shipper = createAccessShipper({
    spool,
    controlPlaneUrl: cp.url,
    nodeId: NODE_ID,
    getToken: async () => TOKEN,
    logger,
    backoffBaseMs: 10,
    backoffMaxMs: 40,
    ...overrides.shipper,
  });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await spool.close();
    await shipper.close(100);
  };
  t.after(close);
  return { spool, shipper, close };
}

function assertNoToken(logger: { text(): string }, shipper: AccessShipper): void {
  assert.ok(!logger.text().includes(TOKEN), 'no log line carries the token');
  assert.ok(!JSON.stringify(shipper.status()).includes(TOKEN), 'the status carries no token');
}

describe('access spool and shipper', () => {
  it('ships every record once, in write order, in batches of at most segmentMaxRecords', async (t) => {
    const cp = await startFakeControlPlane(t);
    const dir = tempDir(t);
    const logger = captureLogger();
    const metrics = createGatewayMetrics();
    const { spool, shipper } = startNode(t, dir, cp, logger, { spool: { metrics }, shipper: { metrics } });
    const written = ids('r', 25);
    for (const id of written) spool.write(record(id));
    assert.deepEqual(spool.depth(), { records: 25, bytes: spool.depth().bytes, segments: 3 }, 'two full segments and an open one');

    await until('all records stored', () => cp.requestIdsStored().length === 25);
    await until('spool empty', () => spool.depth().records === 0);
    assert.deepEqual(cp.requestIdsStored(), written, 'each once, in order');
    assert.deepEqual(cp.stored.map((b) => b.records.length), [10, 10, 5]);
    assert.ok(cp.stored.every((b) => b.nodeId === NODE_ID));
    const batchIds = cp.stored.map((b) => b.batchId);
    assert.deepEqual([...batchIds].sort(), batchIds, 'batch ids increase in write order');
    assert.ok(batchIds.every((id) => /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(id)));
    assert.equal(cp.posts.length, 3, 'nothing sent twice');
    assert.ok(cp.posts.every((p) => p.authorization === `Bearer ${TOKEN}`));
    assert.deepEqual(spool.depth(), { records: 0, bytes: 0, segments: 0 });
    assert.deepEqual(segmentFiles(dir), [], 'shipped segments are deleted');
    const status = shipper.status();
    assert.equal(status.shippedBatches, 3);
    assert.equal(status.shippedRecords, 25);
    assert.equal(status.lastError, null);
    assert.equal(status.pendingSegments, 0);
    assert.ok(status.lastSuccessAt !== null);
    const exposition = await metrics.registry.metrics();
    assert.match(exposition, /gatehouse_access_spool_records 0/);
    assert.match(exposition, /gatehouse_access_spool_dropped_records_total 0/);
    assert.match(exposition, /gatehouse_access_batches_shipped_total 3/);
    assertNoToken(logger, shipper);
  });

  it('keeps everything through an outage (503, then refused connections) and ships it once the control plane is back', async (t) => {
    const cp = await startFakeControlPlane(t);
    const dir = tempDir(t);
    const logger = captureLogger();
    cp.answer = () => ({ status: 503, body: { code: 'service.unavailable' } });
    const { spool, shipper } = startNode(t, dir, cp, logger);
    const first = ids('a', 12);
    for (const id of first) spool.write(record(id));
    await until('a few refused attempts', () => shipper.status().failedAttempts >= 3);
    assert.equal(cp.stored.length, 0);
    assert.match(shipper.status().lastError ?? '', /503 service\.unavailable/);
    assert.equal(segmentFiles(dir).length, 2, 'both segments still on disk');

    // The control plane goes away entirely; records keep arriving.
    await cp.stop();
    const second = ids('b', 7);
    for (const id of second) spool.write(record(id));
    const failedBefore = shipper.status().failedAttempts;
    await until('connection failures', () => shipper.status().failedAttempts >= failedBefore + 2);
    assert.equal(spool.depth().records, 19);

    cp.answer = () => 'store';
    await cp.restart();
    await until('everything stored', () => cp.requestIdsStored().length === 19);
    await until('spool empty', () => spool.depth().segments === 0);
    assert.deepEqual(cp.requestIdsStored(), [...first, ...second]);
    assert.equal(shipper.status().lastError, null);
    assert.equal(logger.lines.filter((l) => l.level === 'warn' && l.message.startsWith('access batch not shipped')).length, 1, 'one warning per outage');
    assert.ok(logger.lines.some((l) => l.message.includes('reach the control plane again')));
    assertNoToken(logger, shipper);
  });

  it('a restarted node ships what the last run left, and a batch sent again is stored once', async (t) => {
    const cp = await startFakeControlPlane(t);
    const dir = tempDir(t);
    const logger = captureLogger();
    // The first batch is stored but its answer is lost; then the control plane is down.
    cp.answer = (_batch, post) => (post === 1 ? 'store-then-503' : 'drop-connection');
    const run1 = startNode(t, dir, cp, logger);
    const before = ids('before', 23);
    for (const id of before) run1.spool.write(record(id));
    await until('the first batch stored and more attempts made', () => cp.stored.length === 1 && cp.posts.length >= 2);
    // Records still in memory (the open segment) are written on close.
    await run1.close();
    assert.equal(segmentFiles(dir).length, 3, 'all three segments left on disk, the stored one included');
    const leftBehind = segmentFiles(dir).sort();

    cp.answer = () => 'store';
    const run2 = startNode(t, dir, cp, logger);
    const after = ids('after', 4);
    for (const id of after) run2.spool.write(record(id));
    await until('everything stored', () => cp.requestIdsStored().length === 27);
    await until('spool empty', () => run2.spool.depth().segments === 0);

    const stored = cp.requestIdsStored();
    assert.deepEqual(stored, [...before, ...after], 'each record exactly once, in order');
    assert.equal(new Set(stored).size, stored.length);
    const firstBatch = cp.stored[0]!.batchId;
    assert.equal(cp.posts.filter((p) => p.batchId === firstBatch).length >= 2, true, 'the first batch was sent again');
    assert.deepEqual(cp.stored.slice(0, 3).map((b) => `${b.batchId}.ndjson`), leftBehind, 'the leftovers shipped first, in order');
    assert.ok(cp.stored[3]!.batchId > cp.stored[2]!.batchId, 'the new run names batches after the old ones');
    assert.equal(run2.shipper.status().shippedBatches, 4, 'the re-sent batch counts as shipped (duplicate receipt)');
    await run2.close();
    assert.deepEqual(segmentFiles(dir), []);
  });

  it('ships a segment left half-written by a crash, ignoring its torn last line', async (t) => {
    const cp = await startFakeControlPlane(t);
    const dir = tempDir(t);
    const logger = captureLogger();
    const file = join(dir, '1764151200000-000000.ndjson');
    writeFileSync(file, ['x-0', 'x-1', 'x-2'].map((id) => `${JSON.stringify(record(id))}\n`).join(''));
    appendFileSync(file, JSON.stringify(record('x-torn')).slice(0, 57));
    writeFileSync(join(dir, '1764151200000-000001.ndjson'), ''); // created, never written
    cp.answer = () => ({ status: 503 });
    const { spool } = startNode(t, dir, cp, logger);
    await until('the leftover counted', () => spool.depth().records === 3);
    assert.equal(spool.depth().segments, 1, 'the empty file is not a segment');
    spool.write(record('y-0'));
    cp.answer = () => 'store';
    await until('stored', () => cp.requestIdsStored().length === 4);
    assert.deepEqual(cp.requestIdsStored(), ['x-0', 'x-1', 'x-2', 'y-0']);
    assert.equal(cp.stored[0]!.batchId, '1764151200000-000000');
    assert.ok(logger.lines.some((l) => l.level === 'warn' && l.message.includes('torn last line')));
    await until('spool empty', () => spool.depth().segments === 0);
    assert.deepEqual(segmentFiles(dir), []);
  });

  it('drops records once full: counted, one loud line, and write never throws', async (t) => {
    const cp = await startFakeControlPlane(t);
    cp.answer = () => ({ status: 503 });
    const dir = tempDir(t);
    const logger = captureLogger();
    const lineBytes = Buffer.byteLength(`${JSON.stringify(record('full-000'))}\n`);
    const { spool, shipper } = startNode(t, dir, cp, logger, { spool: { maxBytes: lineBytes * 5 + 10 } });
    for (const id of ids('full', 30)) assert.doesNotThrow(() => spool.write(record(id)));
    // Something JSON cannot express is dropped too, without throwing.
    assert.doesNotThrow(() => spool.write({ ...record('bigint'), latencyMs: 1n as unknown as number }));
    assert.equal(spool.dropped(), 26);
    assert.equal(spool.depth().records, 5);
    assert.ok(spool.depth().bytes <= lineBytes * 5 + 10);
    const loud = logger.lines.filter((l) => l.level === 'error');
    assert.equal(loud.length, 1, 'one line however many records are dropped');
    assert.match(loud[0]!.message, /dropped/);
    assert.equal(loud[0]!.meta?.dropped, 1);
    await until('retrying', () => shipper.status().failedAttempts >= 1);

    // Closing reports what was dropped since that line.
    await spool.close();
    const summary = logger.lines.filter((l) => l.level === 'error')[1];
    assert.equal(summary?.meta?.dropped, 25);
    assert.equal(summary?.meta?.droppedTotal, 26);
    assert.deepEqual(summary?.meta?.reasons, { full: 24, unserialisable: 1 });
  });

  it('on 401 invalidates the token and sends again with a fresh one', async (t) => {
    const cp = await startFakeControlPlane(t);
    const dir = tempDir(t);
    const logger = captureLogger();
    let minted = 0;
    let token = `${TOKEN}-1`;
    let invalidations = 0;
    cp.answer = (_batch, post) => (post === 1 ? { status: 401, body: { code: 'auth.token_invalid' } } : 'store');
    const { spool, shipper } = startNode(t, dir, cp, logger, {
      shipper: {
        getToken: async () => {
          minted += 1;
          return token;
        },
        invalidateToken: () => {
          invalidations += 1;
          token = `${TOKEN}-2`;
        },
      },
    });
    spool.write(record('auth-0'));
    await until('stored', () => cp.stored.length === 1);
    assert.equal(invalidations, 1);
    assert.equal(minted, 2);
    assert.deepEqual(cp.posts.map((p) => p.authorization), [`Bearer ${TOKEN}-1`, `Bearer ${TOKEN}-2`]);
    assert.equal(shipper.status().failedAttempts, 0, 'one 401 is not an outage');
    assertNoToken(logger, shipper);
  });

  it('moves a batch the control plane refuses (400) to rejected/ and ships the rest', async (t) => {
    const cp = await startFakeControlPlane(t);
    const dir = tempDir(t);
    const logger = captureLogger();
    cp.answer = (batch) => (batch.records[0]!.requestId === 'bad-000' ? { status: 400, body: { code: 'request.validation_failed', detail: 'records/0/status must be <= 999' } } : 'store');
    const { spool, shipper } = startNode(t, dir, cp, logger);
    for (const id of ids('bad', 10)) spool.write(record(id));
    for (const id of ids('good', 3)) spool.write(record(id));
    await until('the good batch stored', () => cp.stored.length === 1);
    assert.deepEqual(cp.requestIdsStored(), ids('good', 3));
    await until('spool empty', () => spool.depth().segments === 0);
    const rejected = readdirSync(join(dir, 'rejected'));
    assert.equal(rejected.length, 1);
    assert.equal(cp.posts.filter((p) => `${p.batchId}.ndjson` === rejected[0]).length, 1, 'a refused batch is not sent again');
    const line = logger.lines.find((l) => l.level === 'error' && l.message.includes('refused an access batch'));
    assert.ok(line);
    assert.equal(line.meta?.code, 'request.validation_failed');
    assert.equal(line.meta?.records, 10);
    assert.ok(existsSync(String(line.meta?.file)));
    assert.equal(shipper.status().rejectedBatches, 1);
    assert.deepEqual(segmentFiles(dir), []);
  });

  it('a tee hands one serialisation to the file log and the spool, and never fails the request', async (t) => {
    const cp = await startFakeControlPlane(t);
    const dir = tempDir(t);
    const logger = captureLogger();
    const { spool } = startNode(t, dir, cp, logger);
    const out = captureLines();
    const fileLog = createAccessLog({ stream: out.stream });
    // Each log is handed the line, never the record: the tee serialised it, once for both.
    const handed: { file: string[]; spool: string[]; records: number } = { file: [], spool: [], records: 0 };
    const spy = (log: LineAccessLog, lines: string[]): LineAccessLog => ({
      write: (r) => {
        handed.records += 1;
        log.write(r);
      },
      writeLine: (line) => {
        lines.push(line);
        log.writeLine(line);
      },
    });
    const accessLog = teeAccessLog([spy(fileLog, handed.file), spy(spool, handed.spool)]);
    for (const id of ids('tee', 3)) accessLog.write(record(id));
    assert.equal(handed.records, 0, 'no log serialised a record itself');
    assert.deepEqual(handed.file, ids('tee', 3).map((id) => JSON.stringify(record(id))), 'each line as JSON.stringify writes it');
    assert.deepEqual(handed.spool, handed.file, 'the same line to both logs');
    assert.doesNotThrow(() => accessLog.write({ ...record('bigint'), latencyMs: 1n as unknown as number }));
    assert.equal(spool.dropped(), 1);
    await fileLog.close();
    await until('stored', () => cp.requestIdsStored().length === 3);
    assert.deepEqual(out.lines().map((l) => (JSON.parse(l) as AccessRecord).requestId), ids('tee', 3));
    assert.deepEqual(cp.requestIdsStored(), ids('tee', 3));
  });

  it('ships to a real control plane with a client-credentials token; a batch sent again is stored once', async (t) => {
    const cp = (await startTestControlPlane(t, 'sqlite', { routes: [accessRoutes] }))!;
    t.after(() => cp.close());
    const dir = tempDir(t);
    const logger = captureLogger();
    const tokens = createControlPlaneTokenSource({ issuer: cp.idp.idp.issuer, clientId: 'gatehouse-gateway', clientSecret: 'demo-gateway-secret', logger });
    const shipperOptions = { getToken: (signal: AbortSignal) => tokens.get(signal), invalidateToken: () => tokens.invalidate() };
    const storedIds = async (): Promise<string[]> =>
      (await cp.store.db.selectFrom('access_records').select('request_id').orderBy('batch_seq').orderBy('idx').execute()).map((r) => r.request_id);

    const run1 = startNode(t, dir, cp, logger, { shipper: shipperOptions });
    const written = ids('real', 15);
    for (const id of written) run1.spool.write(record(id));
    await until('shipped', () => run1.shipper.status().shippedBatches === 2);
    await run1.close();
    assert.deepEqual(await storedIds(), written);
    const batches = await cp.store.db.selectFrom('access_batches').select(['node_id', 'batch_id', 'records']).orderBy('seq').execute();
    assert.deepEqual(batches.map((b) => [b.node_id, Number(b.records)]), [[NODE_ID, 10], [NODE_ID, 5]]);

    // As if a run crashed after the control plane stored the first batch but before deleting it.
    writeFileSync(join(dir, `${batches[0]!.batch_id}.ndjson`), written.slice(0, 10).map((id) => `${JSON.stringify(record(id))}\n`).join(''));
    const run2 = startNode(t, dir, cp, logger, { shipper: shipperOptions });
    await until('sent again', () => run2.shipper.status().shippedBatches === 1);
    assert.deepEqual(await storedIds(), written, 'stored once');
    assert.deepEqual(segmentFiles(dir), []);
    await run2.close();
    assert.ok(!logger.text().includes('demo-gateway-secret'));
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\./.test(logger.text()), 'no token in the log');
  });

  it('refuses a segment size above what one batch may carry', (t) => {
    const dir = tempDir(t);
    assert.throws(() => createAccessSpool({ dir, logger: captureLogger(), segmentMaxRecords: 2001 }), RangeError);
  });
});
