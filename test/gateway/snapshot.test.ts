/**
 * Snapshots: compiled off to the side, swapped in one step under load without a failed request,
 * rejected whole when anything is wrong (the last good one keeps serving), in-flight requests
 * finishing on the snapshot they started on, and the file source re-reading on change.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Snapshot } from '../../contracts/index.js';
import { createGateway } from '../../gateway/gateway.js';
import { createAccessLog, createAppLogger } from '../../gateway/logging.js';
import { listenGateway } from '../../gateway/server.js';
import { createFileSnapshotSource } from '../../gateway/snapshot/file-source.js';
import { buildSnapshot, captureLines, httpApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/upstream.js';

const OPS = [{ id: 'listItems', method: 'GET' as const, path: '/items' }];

function tagged(tag: string) {
  return (_req: unknown, res: import('node:http').ServerResponse): void => {
    const body = JSON.stringify({ from: tag });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
}

function snapshotFor(url: string, generatedAt: string): Snapshot {
  return buildSnapshot({ apis: [httpApi('shop', url, OPS)], generatedAt });
}

async function getJson(url: string, agent?: Agent): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text.length > 0 ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function metricValue(statusUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${statusUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1));
}

describe('snapshot swap and rejection', () => {
  let a: RecordingUpstream;
  let b: RecordingUpstream;
  let gw: TestGateway;

  before(async () => {
    a = await startRecordingUpstream();
    b = await startRecordingUpstream();
    a.behave(tagged('a'));
    b.behave(tagged('b'));
    gw = await startTestGateway({ snapshot: snapshotFor(a.url, '2026-11-01T00:00:00.000Z') });
  });
  after(async () => {
    await gw.close();
    await a.close();
    await b.close();
  });

  it('swaps snapshots under continuous load with zero failed requests', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    let stop = false;
    const statuses: number[] = [];
    const workers = Array.from({ length: 8 }, async () => {
      while (!stop) statuses.push((await getJson(`${gw.url}/shop/v1/items`, agent)).status);
    });
    const hashes: string[] = [];
    // At least 20 swaps, and on until 100 requests ran alongside them (a busy machine runs fewer per swap).
    for (let i = 0; i < 20 || (statuses.length <= 100 && i < 400); i++) {
      const snapshot = snapshotFor(i % 2 === 0 ? b.url : a.url, `2026-11-01T00:${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.000Z`);
      await gw.source.push(JSON.stringify(snapshot));
      hashes.push(snapshot.hash);
      assert.equal(gw.gateway.currentHash(), snapshot.hash);
      await new Promise((r) => setTimeout(r, 25));
    }
    stop = true;
    await Promise.all(workers);
    agent.destroy();
    assert.ok(statuses.length > 100, `only ${statuses.length} requests ran`);
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
      'every request during the swaps succeeded',
    );
    // The last snapshot points at b after an even count of swaps' last index, else at a.
    const last = hashes.length - 1;
    assert.equal((await getJson(`${gw.url}/shop/v1/items`)).body.from, last % 2 === 0 ? 'b' : 'a');
    assert.equal(await metricValue(gw.statusUrl, 'gatehouse_snapshot_applies_total'), hashes.length + 1);
  });

  it('lets a request in flight finish on the snapshot it started on', async () => {
    const start = snapshotFor(a.url, '2026-11-02T00:00:00.000Z');
    await gw.source.push(JSON.stringify(start));
    a.behave((req, res) => setTimeout(() => tagged('a')(req, res), 300));
    const inFlight = getJson(`${gw.url}/shop/v1/items`);
    await new Promise((r) => setTimeout(r, 100));
    const next = snapshotFor(b.url, '2026-11-02T00:00:01.000Z');
    await gw.source.push(JSON.stringify(next));
    const [old, fresh] = await Promise.all([inFlight, getJson(`${gw.url}/shop/v1/items`)]);
    a.behave(tagged('a'));
    assert.equal(old.body.from, 'a');
    assert.equal(fresh.body.from, 'b');
    const slow = await gw.waitForRecord((r) => r.snapshotHash === start.hash && r.latencyMs >= 250);
    assert.equal(slow.status, 200, 'the slow request is recorded with the snapshot it started on');
  });

  it('rejects a bad snapshot whole and keeps serving the last good one', async () => {
    const good = gw.gateway.currentHash();
    const rejectionsBefore = await metricValue(gw.statusUrl, 'gatehouse_snapshot_rejections_total');
    const okApi = httpApi('shop', a.url, OPS);
    const cases: Array<[string, string]> = [
      ['not JSON', '{"formatVersion": 1,'],
      ['schema violation', JSON.stringify({ ...snapshotFor(a.url, '2026-11-03T00:00:00.000Z'), apis: [{ slug: 'Bad Slug!', title: 'x', versions: [] }] })],
      ['wrong hash', JSON.stringify({ ...snapshotFor(a.url, '2026-11-03T00:00:00.000Z'), hash: '0'.repeat(64) })],
      ['unknown policy', JSON.stringify(buildSnapshot({ apis: [okApi, httpApi('extra', a.url, OPS, { policies: [{ policy: 'no-such-policy', config: {} }] })] }))],
      ['bad policy config', JSON.stringify(buildSnapshot({ apis: [okApi], gatewayPolicies: [{ policy: 'request-hygiene', config: { maxUrlLength: 'long' } }] }))],
      ['gateway policy bound to a version', JSON.stringify(buildSnapshot({ apis: [httpApi('shop', a.url, OPS, { policies: [{ policy: 'request-hygiene', config: {} }] })] }))],
      [
        'missing secret',
        JSON.stringify(
          buildSnapshot({
            apis: [okApi, httpApi('other', a.url, OPS, { upstream: { kind: 'http', baseUrl: a.url, connectTimeoutMs: 100, responseTimeoutMs: 100, settings: { credentialHeader: 'Authorization', credential: { env: 'NOT_SET_ANYWHERE' } } } })],
          }),
        ),
      ],
      ['duplicate major', JSON.stringify(buildSnapshot({ apis: [{ ...okApi, versions: [okApi.versions[0]!, { ...okApi.versions[0]!, version: '1.1.0' }] }] }))],
    ];
    for (const [name, text] of cases) {
      const result = await gw.gateway.apply(text, name);
      assert.equal(result.applied, false, `${name} must be rejected`);
      assert.equal(gw.gateway.currentHash(), good, `${name}: the last good snapshot keeps serving`);
      assert.equal((await getJson(`${gw.url}/shop/v1/items`)).status, 200, `${name}: traffic still flows`);
    }
    assert.equal(await metricValue(gw.statusUrl, 'gatehouse_snapshot_rejections_total'), rejectionsBefore + cases.length);
    const rejectionLogs = gw.logLines().filter((l) => l.includes('snapshot rejected'));
    assert.ok(rejectionLogs.some((l) => l.includes('NOT_SET_ANYWHERE')), 'the missing secret is named');
    assert.ok(rejectionLogs.some((l) => l.includes('no-such-policy')));
  });
});

describe('file snapshot source', () => {
  let dir: string;
  let upstream: RecordingUpstream;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-snapshot-'));
    upstream = await startRecordingUpstream();
    upstream.behave(tagged('file'));
  });
  after(async () => {
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is not ready before a snapshot, applies the file, re-reads it on change and survives a bad edit', async () => {
    const file = join(dir, 'snapshot.json');
    const log = captureLines();
    const logger = createAppLogger({ component: 'gateway', stream: log.stream });
    const gateway = createGateway({
      snapshotSource: createFileSnapshotSource({ path: file, logger, debounceMs: 20 }),
      logger,
      accessLog: createAccessLog({ stream: captureLines().stream }),
      resolveSecret: () => undefined,
    });
    const servers = await listenGateway({ gateway });
    try {
      assert.equal((await fetch(`${servers.statusUrl}/health/ready`)).status, 503);
      assert.equal((await fetch(`${servers.statusUrl}/health/live`)).status, 200);
      const notReady = await fetch(`${servers.trafficUrl}/shop/v1/items`);
      assert.equal(notReady.status, 503);
      assert.equal(((await notReady.json()) as { code: string }).code, 'gateway.not_ready');

      // A hand-written file may leave out the hash: it is computed.
      const { hash: _hash, ...unsealed } = snapshotFor(upstream.url, '2026-11-04T00:00:00.000Z');
      await writeFile(file, JSON.stringify(unsealed));
      const first = await gateway.waitForSnapshot();
      const ready = await fetch(`${servers.statusUrl}/health/ready`);
      assert.equal(ready.status, 200);
      assert.equal(((await ready.json()) as { snapshot: string }).snapshot, first);
      assert.equal((await getJson(`${servers.trafficUrl}/shop/v1/items`)).body.from, 'file');

      // Replaced atomically, as editors and deploy tools do.
      const second = snapshotFor(upstream.url, '2026-11-04T00:00:01.000Z');
      await writeFile(`${file}.tmp`, JSON.stringify(second));
      await rename(`${file}.tmp`, file);
      assert.equal(await gateway.waitForSnapshot(second.hash), second.hash);

      const rejected = new Promise((resolve) => gateway.events.once('rejected', resolve));
      await writeFile(file, '{ not json');
      await rejected;
      assert.equal(gateway.currentHash(), second.hash);
      assert.equal((await getJson(`${servers.trafficUrl}/shop/v1/items`)).status, 200);
    } finally {
      await servers.close(100);
    }
  });
});
