/**
 * @module Snapshot publication on SQLite and PostgreSQL: the builder (valid, deterministic,
 * only what gateways enforce), the debounced publisher (a change → a new hash, a burst → one
 * snapshot, an unchanged rebuild → nothing, an invalid build → nothing and a visible error, old
 * rows pruned, a second control-plane node on the same store in step), the long poll (at once on a change, 304 after the wait, released on close),
 * roles, and node reports.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { computeSnapshotHash, type Snapshot } from '../../contracts/index.js';
import { createGatewayRoutes } from '../../control-plane/routes/gateway.js';
import { createSnapshotPublisher } from '../../control-plane/snapshot/publisher.js';
import { buildSnapshot, contentHashOf, createSnapshotChecker, loadSnapshotState, SnapshotBuildError } from '../../control-plane/snapshot/builder.js';
import { startTestControlPlane } from '../support/control-plane.js';
import { ENGINES } from '../support/stores.js';
import { insertApi, insertApiKey, insertConsumer, insertPlan, insertSubscription, insertTeam, insertVersion } from './snapshot-rows.js';

const GATEWAY = 'service:gatehouse-gateway';

for (const engine of ENGINES) {
  describe(`snapshot publication on ${engine}`, () => {
    it('builds, publishes on change, long-polls, checks roles and lists node reports', async (t) => {
      const gateway = createGatewayRoutes({ debounceMs: 50, maxWaitMs: 200, keep: 3 });
      const cp = await startTestControlPlane(t, engine, { routes: [gateway.routes] });
      if (cp === undefined) return;
      t.after(async () => {
        await gateway.close();
        await cp.close();
      });
      const publisher = gateway.publisher();
      await publisher.ready;
      const { store } = cp;
      const check = createSnapshotChecker();

      // An empty store still publishes: a gateway can start, and answers 404 everywhere.
      const first = await cp.call(GATEWAY, 'GET', '/api/v1/gateway/snapshot');
      assert.equal(first.status, 200, first.text);
      const empty = first.json as Snapshot;
      assert.deepEqual([empty.apis, empty.consumers, empty.plans], [[], [], []]);
      assert.equal(first.headers.get('etag'), `"${empty.hash}"`);
      assert.equal(computeSnapshotHash(empty), empty.hash);
      assert.equal(first.headers.get('cache-control'), 'no-store');
      check(empty);

      // Roles: gateway and admin read the snapshot; people without them do not.
      assert.equal((await cp.call('anonymous', 'GET', '/api/v1/gateway/snapshot')).status, 401);
      const byOwner = await cp.call('olivia.owner', 'GET', '/api/v1/gateway/snapshot');
      assert.equal(byOwner.status, 403);
      assert.equal(byOwner.json.code, 'access.role_missing');
      assert.equal((await cp.call('ada.auditor', 'GET', '/api/v1/gateway/snapshot')).status, 403);
      assert.equal((await cp.call('adam.admin', 'GET', '/api/v1/gateway/snapshot')).status, 200);

      // Unchanged → 304 at once without wait; a bad wait is refused.
      const notModified = await cp.call(GATEWAY, 'GET', '/api/v1/gateway/snapshot', undefined, { 'if-none-match': `"${empty.hash}"` });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.headers.get('etag'), `"${empty.hash}"`);
      assert.equal((await cp.call(GATEWAY, 'GET', '/api/v1/gateway/snapshot?wait=61')).json.code, 'request.validation_failed');
      assert.equal((await cp.call(GATEWAY, 'GET', '/api/v1/gateway/snapshot?wait=soon')).status, 400);
      // Another hash than the current one → the current snapshot at once, whatever the wait.
      const stale = await cp.call(GATEWAY, 'GET', '/api/v1/gateway/snapshot?wait=30', undefined, { 'if-none-match': `"${'0'.repeat(64)}"` });
      assert.equal(stale.status, 200);

      // A long poll waits out its `wait`, then 304.
      let started = performance.now();
      const waited = await cp.call(GATEWAY, 'GET', '/api/v1/gateway/snapshot?wait=0.4', undefined, { 'if-none-match': `"${empty.hash}"` });
      const waitedMs = performance.now() - started;
      assert.equal(waited.status, 304);
      // The lower bound is exact; the upper one only tells a finished wait from one that never
      // ends, so a starved machine passes (how fast a publish lands is `npm run bench`'s job).
      assert.ok(waitedMs >= 350 && waitedMs < 10_000, `waited ${waitedMs} ms`);

      // Enforced state arrives; a long poll already waiting answers as soon as it is published.
      await insertTeam(store);
      await insertPlan(store, 'standard', ['orders:write', 'orders:read', 'orders:read']);
      await insertPlan(store, 'gold');
      await insertApi(store, 'orders', 'http://127.0.0.1:9/base', {
        connectTimeoutMs: 1500,
        responseTimeoutMs: 2500,
        retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 500, statuses: [503] },
        circuitBreaker: { enabled: false, consecutiveFailures: 3, halfOpenAfterMs: 1000 },
      });
      await insertApi(store, 'drafts', 'http://127.0.0.1:9/drafts');
      await insertVersion(store, { api: 'orders', version: '0.9.0', status: 'retired' });
      await insertVersion(store, { api: 'orders', version: '1.0.0', status: 'deprecated' });
      await insertVersion(store, { api: 'orders', version: '1.2.0', status: 'published', operations: [{ id: 'listOrders', method: 'GET', path: '/orders' }, { id: 'getOrder', method: 'GET', path: '/orders/{id}' }] });
      await insertVersion(store, { api: 'orders', version: '1.10.0', status: 'approved' });
      await insertVersion(store, { api: 'orders', version: '2.0.0-rc.1', status: 'in_review' });
      await insertVersion(store, { api: 'drafts', version: '1.0.0', status: 'draft' });
      await insertConsumer(store, 'storefront', ['storefront', 'storefront-web', 'storefront']);
      await insertConsumer(store, 'crm', ['crm-sync']);
      await insertApiKey(store, 'storefront', 'key-live');
      await insertApiKey(store, 'storefront', 'key-old', { revoked: true });
      await insertSubscription(store, 'sub-1', 'storefront', 'orders', 1, 'active');
      await insertSubscription(store, 'sub-2', 'storefront', 'orders', 0, 'pending', 'gold');
      await insertSubscription(store, 'sub-3', 'crm', 'orders', 1, 'revoked');

      started = performance.now();
      const poll = cp.call(GATEWAY, 'GET', '/api/v1/gateway/snapshot?wait=30', undefined, { 'if-none-match': `"${empty.hash}"` });
      await new Promise((r) => setTimeout(r, 100));
      const changedAt = performance.now();
      cp.cp.deps.enforcementChanged('test: orders published');
      const changed = await poll;
      const publishMs = performance.now() - changedAt;
      assert.equal(changed.status, 200, changed.text);
      assert.ok(publishMs < 10_000, `published and answered in ${publishMs} ms, not at the end of the 30-s wait`);
      t.diagnostic(`${engine}: change → long poll answered in ${publishMs.toFixed(0)} ms (debounce 50 ms)`);
      const snapshot = changed.json as Snapshot;
      assert.notEqual(snapshot.hash, empty.hash);
      assert.equal(changed.headers.get('etag'), `"${snapshot.hash}"`);
      assert.equal(computeSnapshotHash(snapshot), snapshot.hash, 'served byte for byte as hashed');
      check(snapshot);

      // Only what gateways enforce: one version per major (published over deprecated, highest
      // semver), retired kept for the 410 without operations, draft-only APIs left out.
      assert.deepEqual(snapshot.apis.map((a) => a.slug), ['orders']);
      const orders = snapshot.apis[0]!;
      assert.deepEqual(orders.versions.map((v) => [v.version, v.status, v.operations.length]), [['0.9.0', 'retired', 0], ['1.2.0', 'published', 2]]);
      const v1 = orders.versions[1]!;
      assert.deepEqual(v1.upstream, {
        kind: 'http',
        baseUrl: 'http://127.0.0.1:9/base',
        connectTimeoutMs: 1500,
        responseTimeoutMs: 2500,
        settings: {},
        retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 500, statuses: [503] },
        circuitBreaker: { enabled: false, consecutiveFailures: 3, halfOpenAfterMs: 1000 },
      });
      assert.deepEqual(v1.policies.map((p) => p.policy), ['api-key', 'subscription']);
      assert.equal((v1.contract as { openapi: string }).openapi, '3.1.0');
      assert.deepEqual(snapshot.plans.map((p) => [p.id, p.scopes]), [['gold', ['orders:read']], ['standard', ['orders:read', 'orders:write']]]);
      const storefront = snapshot.consumers.find((c) => c.id === 'storefront')!;
      assert.deepEqual(storefront.clientIds, ['storefront', 'storefront-web']);
      assert.deepEqual(storefront.apiKeys.map((k) => [k.id, k.revoked]), [['key-live', false], ['key-old', true]]);
      assert.ok(storefront.apiKeys.every((k) => /^[0-9a-f]{64}$/.test(k.sha256) && !JSON.stringify(k).includes('not-real')), 'only key hashes travel');
      assert.deepEqual(storefront.subscriptions, [{ api: 'orders', major: 1, plan: 'standard' }], 'pending subscriptions are left out');
      assert.deepEqual(snapshot.consumers.find((c) => c.id === 'crm')!.subscriptions, [], 'revoked subscriptions are left out');

      // The builder is deterministic; generatedAt changes the hash, not the content hash.
      const state = await loadSnapshotState(store.db);
      const a = buildSnapshot(state, { generatedAt: '2026-11-02T00:00:00.000Z' });
      const b = buildSnapshot(await loadSnapshotState(store.db), { generatedAt: '2026-11-02T00:00:00.000Z' });
      const c = buildSnapshot({ ...state, consumers: [...state.consumers].reverse(), apiKeys: [...state.apiKeys].reverse() }, { generatedAt: '2026-11-03T00:00:00.000Z' });
      assert.equal(JSON.stringify(a), JSON.stringify(b));
      assert.notEqual(a.hash, c.hash);
      assert.equal(contentHashOf(a), contentHashOf(c));
      assert.equal(contentHashOf(a), contentHashOf(snapshot));

      // A rebuild of unchanged state stores nothing and keeps the served hash.
      const seqBefore = publisher.current()!.seq;
      await publisher.publishNow('test: nothing changed');
      assert.equal(publisher.current()!.seq, seqBefore);
      assert.equal(publisher.current()!.hash, snapshot.hash);

      // A burst of changes is one snapshot.
      await insertConsumer(store, 'finance', ['finance-jobs']);
      for (let i = 0; i < 5; i++) cp.cp.deps.enforcementChanged(`test: burst ${i}`);
      const burst = await cp.call(GATEWAY, 'GET', '/api/v1/gateway/snapshot?wait=5', undefined, { 'if-none-match': `"${snapshot.hash}"` });
      assert.equal(burst.status, 200);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(publisher.current()!.seq, seqBefore + 1, 'five events within the debounce → one snapshot');
      const afterBurst = publisher.current()!;

      // An invalid build publishes nothing, says why, and the last good snapshot keeps serving.
      await insertVersion(store, { api: 'drafts', version: '3.0.0', status: 'published', operations: [{ id: 'bad', method: 'GET', path: 'no-leading-slash' }] });
      await publisher.publishNow('test: invalid');
      assert.equal(publisher.current()!.hash, afterBurst.hash);
      assert.match(publisher.status().lastError?.problems.join('\n') ?? '', /operations\/0\/path/);
      const nodesWithError = await cp.call('ada.auditor', 'GET', '/api/v1/gateway/nodes');
      assert.equal(nodesWithError.json.snapshot.hash, afterBurst.hash);
      assert.ok(nodesWithError.json.lastBuildError.problems.length > 0);
      assert.throws(() => check(buildSnapshot(state, { generatedAt: 'yesterday' })), SnapshotBuildError);
      await store.db.deleteFrom('api_versions').where('id', '=', 'drafts/3.0.0').execute();
      await publisher.publishNow('test: fixed');
      assert.equal(publisher.status().lastError, undefined);

      // Node reports: the gateway role upserts; people list them; no audit event.
      const current = publisher.current()!.hash;
      const reportA = await cp.call(GATEWAY, 'PUT', '/api/v1/gateway/nodes/gw-a', { appliedHash: current });
      assert.equal(reportA.status, 200, reportA.text);
      assert.equal(reportA.json.current, true);
      const reportB = await cp.call(GATEWAY, 'PUT', '/api/v1/gateway/nodes/gw-b', { appliedHash: empty.hash, error: 'snapshot refused: secret "ODOO_API_KEY" is not set' });
      assert.equal(reportB.json.current, false);
      assert.equal((await cp.call(GATEWAY, 'PUT', '/api/v1/gateway/nodes/gw-c', { appliedHash: null })).status, 200);
      assert.equal((await cp.call(GATEWAY, 'PUT', '/api/v1/gateway/nodes/gw-a', { appliedHash: 'nope' })).status, 400);
      assert.equal((await cp.call(GATEWAY, 'PUT', '/api/v1/gateway/nodes/gw-a', { appliedHash: current, extra: 1 })).status, 400);
      assert.equal((await cp.call(GATEWAY, 'PUT', '/api/v1/gateway/nodes/bad%20id', { appliedHash: current })).status, 400);
      assert.equal((await cp.call('olivia.owner', 'PUT', '/api/v1/gateway/nodes/gw-x', { appliedHash: current })).status, 403);
      assert.equal((await cp.call(GATEWAY, 'GET', '/api/v1/gateway/nodes')).status, 403, 'gateways report, people read');
      const nodes = await cp.call('rafael.reviewer', 'GET', '/api/v1/gateway/nodes');
      assert.equal(nodes.status, 200);
      assert.equal(nodes.json.snapshot.hash, current);
      assert.deepEqual(
        nodes.json.items.map((n: { nodeId: string; appliedHash: string | null; current: boolean; error: string | null }) => [n.nodeId, n.appliedHash, n.current, n.error !== null]),
        [['gw-a', current, true, false], ['gw-b', empty.hash, false, true], ['gw-c', null, false, false]],
      );
      assert.ok(nodes.json.items.every((n: { lastSeen: string }) => !Number.isNaN(Date.parse(n.lastSeen))));
      const paged = await cp.call('olivia.owner', 'GET', '/api/v1/gateway/nodes?limit=2');
      assert.deepEqual([paged.json.items.length, typeof paged.json.nextCursor], [2, 'string']);
      assert.equal((await store.db.selectFrom('audit_events').select('seq').execute()).length, 0, 'node reports are not audited');

      // A second control-plane node on the same store: its first build finds this content
      // stored already (no new row), and it notices rows the first node stores by polling.
      const peerEvents = new EventEmitter<{ 'enforcement-changed': [reason: string] }>();
      const peer = createSnapshotPublisher({ store, logger: cp.cp.deps.logger, clock: cp.cp.deps.clock, events: peerEvents }, { pollIntervalMs: 20 });
      t.after(() => peer.close());
      await peer.ready;
      assert.deepEqual([peer.current()!.seq, peer.current()!.hash], [publisher.current()!.seq, current]);
      await insertConsumer(store, 'service-desk', ['service-desk']);
      cp.cp.deps.enforcementChanged('test: seen by the peer?');
      const fromPeer = await peer.waitForChange(current, 3000);
      assert.equal(fromPeer?.hash, publisher.current()!.hash, 'the peer serves what the first node stored');
      await peer.close();

      // Only the newest `keep` rows stay.
      const rows = await store.db.selectFrom('snapshots').select('seq').orderBy('seq').execute();
      assert.ok(rows.length <= 3, `kept ${rows.length} rows`);
      assert.equal(Number(rows[rows.length - 1]!.seq), publisher.current()!.seq);

      // Closing releases waiting long polls at once (304), so the server can close.
      started = performance.now();
      const held = cp.call(GATEWAY, 'GET', '/api/v1/gateway/snapshot?wait=30', undefined, { 'if-none-match': `"${publisher.current()!.hash}"` });
      await new Promise((r) => setTimeout(r, 100));
      await gateway.close();
      const released = await held;
      assert.equal(released.status, 304);
      assert.ok(performance.now() - started < 10_000, 'released at close, not at the end of the 30-s wait');
    });
  });
}
