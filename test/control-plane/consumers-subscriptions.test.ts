/**
 * @module Consumers, their API keys and subscriptions over the admin API, on SQLite and
 * PostgreSQL: who may do what per endpoint, If-Match, validation problems with pointers, OAuth
 * client ids unique across consumers, keys shown once and stored hashed (and found in no later
 * answer, audit event or log line), rotation and revocation, the subscription lifecycle decided
 * by the API's owning team only, and enforcement-changed where the gateways' view changes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { snapshotSchema } from '../../contracts/index.js';
import { verifyAuditChain } from '../../control-plane/audit/chain.js';
import type { Logger } from '../../control-plane/errors.js';
import { buildAdminOpenApi } from '../../control-plane/openapi.js';
import { MAX_LIVE_KEYS, consumersOpenApi, consumersRoutes } from '../../control-plane/routes/consumers.js';
import { plansOpenApi, plansRoutes } from '../../control-plane/routes/plans.js';
import { subscriptionsOpenApi, subscriptionsRoutes } from '../../control-plane/routes/subscriptions.js';
import { teamsRoutes } from '../../control-plane/routes/teams.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { ENGINES, type Engine } from '../support/stores.js';

type Call = TestControlPlane['call'];
type Reply = Awaited<ReturnType<Call>>;

interface Landscape {
  cp: TestControlPlane;
  /** cp.call, recording every answer (status line, headers, body) for the secret scan. */
  call: Call;
  transcript: string[];
  logLines: string[];
  /** Reasons passed to enforcementChanged, in order. */
  reasons: string[];
}

const pointersOf = (reply: Reply): string[] => [...new Set(((reply.json?.errors ?? []) as { pointer: string }[]).map((e) => e.pointer))].sort();

/**
 * Teams erp-team (olivia.owner's) and web-team (no demo owner: only admins act for it), plan
 * `standard`, APIs erp-orders (erp-team) and web-catalog (web-team) with 1.0.0 published, and
 * erp-orders 2.0.0 in draft. APIs are inserted into the store directly (their routes are not
 * under test here).
 */
async function landscape(t: TestContext, engine: Engine): Promise<Landscape | undefined> {
  const logLines: string[] = [];
  const record = (level: string) => (message: string, meta?: Record<string, unknown>) => void logLines.push(`${level} ${message} ${JSON.stringify(meta ?? {})}`);
  const logger: Logger = { error: record('error'), warn: record('warn'), info: record('info'), debug: record('debug') };
  // Strictly increasing, so ids (time-ordered) follow request order even within a millisecond.
  let last = 0;
  const clock = { now: () => (last = Math.max(Date.now(), last + 1)) };
  const cp = await startTestControlPlane(t, engine, { routes: [teamsRoutes, plansRoutes, consumersRoutes, subscriptionsRoutes], logger, clock });
  if (cp === undefined) return undefined;
  t.after(() => cp.close());
  for (const id of ['erp-team', 'web-team']) assert.equal((await cp.call('adam.admin', 'POST', '/api/v1/teams', { id, name: id })).status, 201);
  assert.equal((await cp.call('adam.admin', 'POST', '/api/v1/plans', { id: 'standard', name: 'Standard', scopes: ['orders:read'] })).status, 201);
  const now = new Date().toISOString();
  for (const [slug, team] of [['erp-orders', 'erp-team'], ['web-catalog', 'web-team']] as const) {
    await cp.store.db
      .insertInto('apis')
      .values({ slug, title: slug, team_id: team, upstream_kind: 'http', base_url: 'http://127.0.0.1:9/', upstream_settings: '{}', upstream_options: '{}', created_at: now, updated_at: now, revision: 1 })
      .execute();
  }
  const version = (api: string, v: string, status: string) => ({
    id: `${api}@${v}`,
    api_slug: api,
    version: v,
    major: Number(v.split('.')[0]),
    status,
    contract: '{}',
    operations: '[]',
    policies: '[]',
    created_by: 'olivia.owner',
    last_changed_by: 'olivia.owner',
    submitted_by: null,
    approved_by: null,
    review_comment: null,
    created_at: now,
    updated_at: now,
    revision: 1,
    sunset: null,
  });
  await cp.store.db.insertInto('api_versions').values([version('erp-orders', '1.0.0', 'published'), version('web-catalog', '1.0.0', 'published'), version('erp-orders', '2.0.0', 'draft')]).execute();

  const reasons: string[] = [];
  cp.cp.deps.events.on('enforcement-changed', (reason) => reasons.push(reason));
  const transcript: string[] = [];
  const call: Call = async (...args) => {
    const reply = await cp.call(...args);
    transcript.push(`${reply.status} ${JSON.stringify([...reply.headers])} ${reply.text}`);
    return reply;
  };
  return { cp, call, transcript, logLines, reasons };
}

for (const engine of ENGINES) {
  describe(`consumers on ${engine}`, () => {
    it('are managed by owners of their team or admins; client ids belong to one consumer; webhooks use https', async (t) => {
      const l = await landscape(t, engine);
      if (l === undefined) return;
      const { call, reasons } = l;

      const erpSync = { id: 'erp-sync', name: 'ERP sync job', team: 'erp-team', clientIds: ['erp-sync'], webhookUrl: 'https://hooks.example.com/gatehouse', email: 'erp@example.com' };
      for (const who of ['rafael.reviewer', 'ada.auditor']) {
        const refused = await call(who, 'POST', '/api/v1/consumers', erpSync);
        assert.equal(refused.status, 403, who);
        assert.equal(refused.json.code, 'access.role_missing');
      }
      const otherTeam = await call('olivia.owner', 'POST', '/api/v1/consumers', { ...erpSync, team: 'web-team' });
      assert.equal(otherTeam.status, 403, 'an owner of another team is refused');
      assert.equal(otherTeam.json.code, 'access.role_missing');
      assert.deepEqual(otherTeam.json.requiredTeams, ['web-team']);
      assert.match(otherTeam.json.detail, /web-team/);

      const created = await call('olivia.owner', 'POST', '/api/v1/consumers', erpSync);
      assert.equal(created.status, 201, created.text);
      assert.equal(created.headers.get('location'), '/api/v1/consumers/erp-sync');
      // The webhook's signing secret is made with it and shown in this answer only.
      assert.match(created.json.webhookSecret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.deepEqual({ ...created.json, createdAt: undefined, updatedAt: undefined, webhookSecret: undefined }, { ...erpSync, webhookSecretSet: true, speaksFor: null, createdAt: undefined, updatedAt: undefined, webhookSecret: undefined });
      const read = await call('ada.auditor', 'GET', '/api/v1/consumers/erp-sync');
      assert.equal(read.json.webhookSecretSet, true);
      assert.equal(read.text.includes(created.json.webhookSecret as string), false, 'never shown again');
      const storefront = await call('adam.admin', 'POST', '/api/v1/consumers', { id: 'storefront', name: 'Web shop', team: 'web-team', clientIds: ['storefront', 'storefront-batch'], webhookUrl: 'http://127.0.0.1:8099/hooks' });
      assert.equal(storefront.status, 201, 'http is fine on loopback');
      assert.deepEqual([storefront.json.email, storefront.json.clientIds], [null, ['storefront', 'storefront-batch']]);
      assert.equal(reasons.length, 2);

      const taken = await call('olivia.owner', 'POST', '/api/v1/consumers', { id: 'erp-batch', name: 'Batch', team: 'erp-team', clientIds: ['erp-batch', 'storefront-batch'] });
      assert.equal(taken.status, 409);
      assert.equal(taken.json.code, 'resource.conflict');
      assert.deepEqual(pointersOf(taken), ['/body/clientIds/1']);
      assert.match(taken.json.detail, /storefront/);
      assert.equal((await call('olivia.owner', 'POST', '/api/v1/consumers', { ...erpSync, clientIds: [] })).json.code, 'resource.conflict', 'the id is taken too');

      const invalid = await call('olivia.owner', 'POST', '/api/v1/consumers', { id: 'Bad Id', team: 'erp-team', clientIds: ['a', 'a', ''], email: 'not-an-address', extra: true });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.json.code, 'request.validation_failed');
      assert.deepEqual(pointersOf(invalid), ['/body/clientIds', '/body/clientIds/2', '/body/email', '/body/extra', '/body/id', '/body/name']);
      for (const [url, why] of [
        ['http://hooks.example.com/x', /https/],
        ['https://user:secret@hooks.example.com/x', /user info/],
        ['ftp://hooks.example.com/x', /https/],
        ['https://hooks.example.com/x#frag', /fragment/],
      ] as const) {
        const refused = await call('olivia.owner', 'POST', '/api/v1/consumers', { id: 'hooked', name: 'Hooked', team: 'erp-team', webhookUrl: url });
        assert.equal(refused.status, 400, url);
        assert.deepEqual(pointersOf(refused), ['/body/webhookUrl'], url);
        assert.match(refused.json.errors[0].detail, why);
      }
      const unknownTeam = await call('adam.admin', 'POST', '/api/v1/consumers', { id: 'ghost', name: 'Ghost', team: 'ghost-team' });
      assert.deepEqual([unknownTeam.status, pointersOf(unknownTeam)], [400, ['/body/team']]);

      // Reads: every human role.
      for (const who of ['olivia.owner', 'rafael.reviewer', 'ada.auditor', 'adam.admin']) assert.equal((await call(who, 'GET', '/api/v1/consumers/storefront')).status, 200, who);
      const byTeam = await call('ada.auditor', 'GET', '/api/v1/consumers?team=web-team');
      assert.deepEqual(byTeam.json.items.map((c: { id: string }) => c.id), ['storefront']);
      const paged = await call('ada.auditor', 'GET', '/api/v1/consumers?limit=1');
      assert.deepEqual(paged.json.items.map((c: { id: string }) => c.id), ['erp-sync']);
      assert.deepEqual((await call('ada.auditor', 'GET', `/api/v1/consumers?limit=1&cursor=${paged.json.nextCursor}`)).json.items.map((c: { id: string }) => c.id), ['storefront']);
      assert.equal((await call('ada.auditor', 'GET', '/api/v1/consumers/nope')).status, 404);

      // PATCH: the team's owners, If-Match.
      const storefrontEtag = storefront.headers.get('etag')!;
      const foreign = await call('olivia.owner', 'PATCH', '/api/v1/consumers/storefront', { name: 'Mine now' }, { 'if-match': storefrontEtag });
      assert.deepEqual([foreign.status, foreign.json.code], [403, 'access.role_missing']);
      const etag = created.headers.get('etag')!;
      assert.equal((await call('olivia.owner', 'PATCH', '/api/v1/consumers/erp-sync', { name: 'Renamed' })).status, 428);
      assert.equal((await call('olivia.owner', 'PATCH', '/api/v1/consumers/erp-sync', { name: 'Renamed' }, { 'if-match': '"consumer-ZXJwLXN5bmM-7"' })).status, 412);
      const moveAway = await call('olivia.owner', 'PATCH', '/api/v1/consumers/erp-sync', { team: 'web-team' }, { 'if-match': etag });
      assert.deepEqual([moveAway.status, moveAway.json.requiredTeams], [403, ['web-team']], 'moving needs ownership of the new team too');
      const stealing = await call('olivia.owner', 'PATCH', '/api/v1/consumers/erp-sync', { clientIds: ['erp-sync', 'storefront'] }, { 'if-match': etag });
      assert.deepEqual([stealing.status, pointersOf(stealing)], [409, ['/body/clientIds/1']]);
      const badPatch = await call('olivia.owner', 'PATCH', '/api/v1/consumers/erp-sync', { id: 'x', webhookUrl: 'http://example.com/' }, { 'if-match': etag });
      assert.deepEqual(pointersOf(badPatch), ['/body/id']);
      const patched = await call('olivia.owner', 'PATCH', '/api/v1/consumers/erp-sync', { name: 'Renamed', clientIds: ['erp-sync-v2'], webhookUrl: null }, { 'if-match': etag });
      assert.equal(patched.status, 200, patched.text);
      assert.deepEqual([patched.json.name, patched.json.clientIds, patched.json.webhookUrl, patched.json.email], ['Renamed', ['erp-sync-v2'], null, 'erp@example.com']);
      assert.notEqual(patched.headers.get('etag'), etag);
      const released = await call('adam.admin', 'POST', '/api/v1/consumers', { id: 'erp-legacy', name: 'Legacy', team: 'erp-team', clientIds: ['erp-sync'] });
      assert.equal(released.status, 201, 'a client id given up is free again');
      const claims = await l.cp.store.db.selectFrom('consumer_client_ids').selectAll().orderBy('client_id').execute();
      assert.deepEqual(claims.map((c) => [c.client_id, c.consumer_id]), [['erp-sync', 'erp-legacy'], ['erp-sync-v2', 'erp-sync'], ['storefront', 'storefront'], ['storefront-batch', 'storefront']]);
      const moved = await call('adam.admin', 'PATCH', '/api/v1/consumers/erp-legacy', { team: 'web-team' }, { 'if-match': released.headers.get('etag')! });
      assert.equal(moved.json.team, 'web-team');
      assert.equal(reasons.length, 5, reasons.join(' | '));

      const events = await l.cp.store.db.selectFrom('audit_events').selectAll().where('action', 'like', 'consumer.%').orderBy('seq').execute();
      assert.deepEqual(events.map((e) => [e.action, e.target, e.actor]), [
        ['consumer.create', 'consumers/erp-sync', 'olivia.owner'],
        ['consumer.create', 'consumers/storefront', 'adam.admin'],
        ['consumer.update', 'consumers/erp-sync', 'olivia.owner'],
        ['consumer.create', 'consumers/erp-legacy', 'adam.admin'],
        ['consumer.update', 'consumers/erp-legacy', 'adam.admin'],
      ]);
      assert.equal(JSON.parse(events[2]!.before!).webhookUrl, erpSync.webhookUrl);
      assert.equal((await verifyAuditChain(l.cp.store.db)).intact, true);
    });

    it('issue API keys once, store them hashed, list prefixes and dates, rotate and revoke them', async (t) => {
      const l = await landscape(t, engine);
      if (l === undefined) return;
      const { call, reasons, transcript } = l;
      assert.equal((await call('olivia.owner', 'POST', '/api/v1/consumers', { id: 'erp-sync', name: 'ERP sync', team: 'erp-team' })).status, 201);
      assert.equal((await call('adam.admin', 'POST', '/api/v1/consumers', { id: 'storefront', name: 'Web shop', team: 'web-team' })).status, 201);
      reasons.length = 0;
      const issuedAt: { key: string; index: number }[] = [];
      const remember = (reply: Reply): Reply => {
        issuedAt.push({ key: reply.json.key, index: transcript.length - 1 });
        return reply;
      };

      for (const who of ['rafael.reviewer', 'ada.auditor']) assert.equal((await call(who, 'POST', '/api/v1/consumers/erp-sync/credentials')).status, 403, who);
      const foreign = await call('olivia.owner', 'POST', '/api/v1/consumers/storefront/credentials');
      assert.deepEqual([foreign.status, foreign.json.requiredTeams], [403, ['web-team']]);
      assert.equal((await call('olivia.owner', 'POST', '/api/v1/consumers/nope/credentials')).status, 404);
      const past = await call('olivia.owner', 'POST', '/api/v1/consumers/erp-sync/credentials', { expiresAt: '2001-01-01T00:00:00Z' });
      assert.deepEqual([past.status, pointersOf(past)], [400, ['/body/expiresAt']]);
      const badBody = await call('olivia.owner', 'POST', '/api/v1/consumers/erp-sync/credentials', { expiresAt: 'tomorrow', name: 'x' });
      assert.deepEqual(pointersOf(badBody), ['/body/expiresAt', '/body/name']);

      const first = remember(await call('olivia.owner', 'POST', '/api/v1/consumers/erp-sync/credentials'));
      assert.equal(first.status, 201, first.text);
      assert.equal(first.headers.get('cache-control'), 'no-store');
      const key: string = first.json.key;
      assert.match(key, /^ghk_[a-z2-7]{10}\.[A-Za-z0-9_-]{43}$/);
      assert.equal(first.json.prefix, key.split('.')[0]);
      assert.match(first.json.prefix, new RegExp((snapshotSchema as unknown as { properties: { consumers: { items: { properties: { apiKeys: { items: { properties: { prefix: { pattern: string } } } } } } } } }).properties.consumers.items.properties.apiKeys.items.properties.prefix.pattern), 'the snapshot accepts the prefix');
      assert.deepEqual([first.json.expiresAt, first.json.revokedAt, first.json.replacedBy], [null, null, null]);
      const stored = await l.cp.store.db.selectFrom('api_keys').selectAll().where('id', '=', first.json.id).executeTakeFirstOrThrow();
      assert.equal(stored.sha256, createHash('sha256').update(key).digest('hex'), 'the SHA-256 of the whole key, as the api-key policy checks it');
      assert.equal(stored.prefix, first.json.prefix);
      assert.ok(!JSON.stringify(stored).includes(key.split('.')[1]!), 'the secret is not stored');

      const expiring = remember(await call('adam.admin', 'POST', '/api/v1/consumers/erp-sync/credentials', { expiresAt: '2099-06-30T12:00:00+02:00' }));
      assert.equal(expiring.status, 201);
      assert.equal(expiring.json.expiresAt, '2099-06-30T10:00:00.000Z');
      assert.notEqual(expiring.json.prefix, first.json.prefix);

      // Listing: prefix and dates, never the key or its hash; the team's owners, auditors, admins.
      for (const who of ['olivia.owner', 'ada.auditor', 'adam.admin']) {
        const list = await call(who, 'GET', '/api/v1/consumers/erp-sync/credentials');
        assert.equal(list.status, 200, who);
        assert.deepEqual(list.json.items.map((k: { prefix: string }) => k.prefix), [first.json.prefix, expiring.json.prefix]);
        assert.deepEqual(Object.keys(list.json.items[0]).sort(), ['createdAt', 'expiresAt', 'id', 'prefix', 'replacedBy', 'revokedAt']);
        assert.ok(!list.text.includes(stored.sha256));
      }
      assert.equal((await call('rafael.reviewer', 'GET', '/api/v1/consumers/erp-sync/credentials')).status, 403);
      assert.equal((await call('olivia.owner', 'GET', '/api/v1/consumers/storefront/credentials')).status, 403, 'another team\'s keys');

      // Rotation without grace: the old key is revoked at once.
      const rotated = remember(await call('olivia.owner', 'POST', `/api/v1/consumers/erp-sync/credentials/${first.json.id}/rotate`));
      assert.equal(rotated.status, 201, rotated.text);
      assert.equal(rotated.headers.get('cache-control'), 'no-store');
      assert.notEqual(rotated.json.key, key);
      assert.equal(rotated.json.previous.id, first.json.id);
      assert.equal(rotated.json.previous.replacedBy, rotated.json.id);
      assert.equal(rotated.json.previous.revokedAt, rotated.json.createdAt);
      assert.equal(rotated.json.previous.key, undefined);
      const again = await call('olivia.owner', 'POST', `/api/v1/consumers/erp-sync/credentials/${first.json.id}/rotate`);
      assert.deepEqual([again.status, again.json.code], [409, 'lifecycle.invalid_transition']);

      // Rotation with grace: the old key keeps working until now + grace, then expires.
      const graceful = remember(await call('olivia.owner', 'POST', `/api/v1/consumers/erp-sync/credentials/${rotated.json.id}/rotate`, { graceSeconds: 3600 }));
      assert.equal(graceful.status, 201, graceful.text);
      assert.equal(graceful.json.previous.revokedAt, null);
      assert.equal(Date.parse(graceful.json.previous.expiresAt) - Date.parse(graceful.json.createdAt), 3_600_000);
      const twice = await call('olivia.owner', 'POST', `/api/v1/consumers/erp-sync/credentials/${rotated.json.id}/rotate`, { graceSeconds: 60 });
      assert.deepEqual([twice.status, twice.json.code], [409, 'lifecycle.invalid_transition'], 'a key in its grace period was rotated already');
      const tooLong = await call('olivia.owner', 'POST', `/api/v1/consumers/erp-sync/credentials/${graceful.json.id}/rotate`, { graceSeconds: 8 * 24 * 3600 });
      assert.deepEqual(pointersOf(tooLong), ['/body/graceSeconds']);
      // A grace period never extends a key's life.
      const shortLived = remember(await call('olivia.owner', 'POST', '/api/v1/consumers/erp-sync/credentials', { expiresAt: new Date(Date.now() + 60_000).toISOString() }));
      const shortRotated = remember(await call('olivia.owner', 'POST', `/api/v1/consumers/erp-sync/credentials/${shortLived.json.id}/rotate`, { graceSeconds: 3600 }));
      assert.equal(shortRotated.json.previous.expiresAt, shortLived.json.expiresAt);

      // Revocation: the grace period cut short; twice is refused; another team's owner refused.
      assert.equal((await call('ada.auditor', 'POST', `/api/v1/consumers/erp-sync/credentials/${rotated.json.id}/revoke`)).status, 403);
      const revoked = await call('olivia.owner', 'POST', `/api/v1/consumers/erp-sync/credentials/${rotated.json.id}/revoke`, { comment: 'leaked in a CI log' });
      assert.equal(revoked.status, 200, revoked.text);
      assert.notEqual(revoked.json.revokedAt, null);
      assert.equal(revoked.json.key, undefined);
      const revokedAgain = await call('olivia.owner', 'POST', `/api/v1/consumers/erp-sync/credentials/${rotated.json.id}/revoke`);
      assert.deepEqual([revokedAgain.status, revokedAgain.json.code], [409, 'lifecycle.invalid_transition']);
      const rotateRevoked = await call('olivia.owner', 'POST', `/api/v1/consumers/erp-sync/credentials/${expiring.json.id}/revoke`);
      assert.equal(rotateRevoked.status, 200);
      assert.equal((await call('olivia.owner', 'POST', `/api/v1/consumers/erp-sync/credentials/${expiring.json.id}/rotate`)).json.code, 'lifecycle.invalid_transition');
      assert.equal((await call('olivia.owner', 'POST', `/api/v1/consumers/storefront/credentials/${graceful.json.id}/revoke`)).status, 403);
      assert.equal((await call('adam.admin', 'POST', `/api/v1/consumers/storefront/credentials/${graceful.json.id}/revoke`)).status, 404, 'a key is addressed through its own consumer');
      assert.equal((await call('adam.admin', 'POST', '/api/v1/consumers/erp-sync/credentials/key_nope/revoke')).status, 404);

      // Live keys per consumer are capped (keys in a rotation grace period do not count).
      const live = (await call('adam.admin', 'GET', '/api/v1/consumers/erp-sync/credentials')).json.items.filter((k: { revokedAt: string | null; replacedBy: string | null }) => k.revokedAt === null && k.replacedBy === null);
      for (let i = live.length; i < MAX_LIVE_KEYS; i += 1) remember(await call('adam.admin', 'POST', '/api/v1/consumers/erp-sync/credentials'));
      const capped = await call('adam.admin', 'POST', '/api/v1/consumers/erp-sync/credentials');
      assert.deepEqual([capped.status, capped.json.code], [409, 'resource.conflict']);

      // Every key change told the publisher; no refusal did.
      const changes = 2 + 2 + 1 + 1 + 2 + (MAX_LIVE_KEYS - live.length);
      assert.equal(reasons.length, changes, reasons.join(' | '));
      assert.ok(reasons.every((r) => /API key/.test(r)));

      // The key appears in exactly the one answer that issued it: no later answer, audit event or log line.
      assert.equal(issuedAt.length, 6 + (MAX_LIVE_KEYS - live.length));
      for (const { key: issued, index } of issuedAt) {
        const secret = issued.split('.')[1]!;
        const carriers = transcript.map((text, i) => (text.includes(secret) ? i : -1)).filter((i) => i >= 0);
        assert.deepEqual(carriers, [index], `the key ${issued.split('.')[0]} is shown once`);
      }
      const events = await l.cp.store.db.selectFrom('audit_events').selectAll().where('action', 'like', 'credential.%').orderBy('seq').execute();
      assert.deepEqual(events.slice(0, 8).map((e) => e.action), ['credential.create', 'credential.create', 'credential.rotate', 'credential.rotate', 'credential.create', 'credential.rotate', 'credential.revoke', 'credential.revoke']);
      assert.equal(events[6]!.comment, 'leaked in a CI log');
      const audit = JSON.stringify(await l.cp.store.db.selectFrom('audit_events').selectAll().execute());
      const logs = l.logLines.join('\n');
      const hashes = (await l.cp.store.db.selectFrom('api_keys').select('sha256').execute()).map((k) => k.sha256);
      for (const { key: issued } of issuedAt) {
        assert.ok(!audit.includes(issued.split('.')[1]!), 'no key in the audit');
        assert.ok(!logs.includes(issued.split('.')[1]!), 'no key in the logs');
      }
      assert.ok(hashes.every((h) => !audit.includes(h)), 'not even its hash in the audit');
      assert.ok(audit.includes(first.json.prefix), 'the audit names the key by prefix');
      assert.equal((await verifyAuditChain(l.cp.store.db)).intact, true);
    });
  });

  describe(`subscriptions on ${engine}`, () => {
    it('go pending → approved by the API\'s owning team → active → revoked; outsiders, stale ETags and illegal transitions refused', async (t) => {
      const l = await landscape(t, engine);
      if (l === undefined) return;
      const { call, reasons } = l;
      assert.equal((await call('olivia.owner', 'POST', '/api/v1/consumers', { id: 'erp-sync', name: 'ERP sync', team: 'erp-team' })).status, 201);
      assert.equal((await call('adam.admin', 'POST', '/api/v1/consumers', { id: 'storefront', name: 'Web shop', team: 'web-team' })).status, 201);
      reasons.length = 0;

      // Requests: by an owner of the consumer's team (or an admin).
      const toErpOrders = { consumer: 'storefront', api: 'erp-orders', major: 1, plan: 'standard' };
      for (const who of ['rafael.reviewer', 'ada.auditor']) assert.equal((await call(who, 'POST', '/api/v1/subscriptions', toErpOrders)).status, 403, who);
      const notTheirConsumer = await call('olivia.owner', 'POST', '/api/v1/subscriptions', toErpOrders);
      assert.deepEqual([notTheirConsumer.status, notTheirConsumer.json.requiredTeams], [403, ['web-team']], 'the API\'s owners do not subscribe others\' consumers');
      const invalid = await call('adam.admin', 'POST', '/api/v1/subscriptions', { consumer: 'storefront', api: 'erp-orders', major: '1', extra: 1 });
      assert.deepEqual([invalid.status, pointersOf(invalid)], [400, ['/body/extra', '/body/major', '/body/plan']]);
      for (const [body, pointer] of [
        [{ ...toErpOrders, consumer: 'ghost' }, '/body/consumer'],
        [{ ...toErpOrders, api: 'ghost-api' }, '/body/api'],
        [{ ...toErpOrders, major: 2 }, '/body/major'],
        [{ ...toErpOrders, plan: 'gold' }, '/body/plan'],
      ] as const) {
        const refused = await call('adam.admin', 'POST', '/api/v1/subscriptions', body);
        assert.deepEqual([refused.status, refused.json.code, pointersOf(refused)], [400, 'request.validation_failed', [pointer]], JSON.stringify(body));
      }
      assert.match((await call('adam.admin', 'POST', '/api/v1/subscriptions', { ...toErpOrders, major: 2 })).json.detail, /no published version 2\.x/);

      const requested = await call('adam.admin', 'POST', '/api/v1/subscriptions', toErpOrders);
      assert.equal(requested.status, 201, requested.text);
      const sub = requested.json;
      assert.equal(requested.headers.get('location'), `/api/v1/subscriptions/${sub.id}`);
      assert.deepEqual([sub.status, sub.requestedBy, sub.decidedBy, sub.decidedAt], ['pending', 'adam.admin', null, null]);
      const duplicate = await call('adam.admin', 'POST', '/api/v1/subscriptions', { ...toErpOrders, plan: 'standard' });
      assert.deepEqual([duplicate.status, duplicate.json.code, duplicate.json.subscription], [409, 'resource.conflict', sub.id]);
      assert.deepEqual(reasons, [], 'a pending request changes nothing the gateways enforce');

      // Approval: only owners of the API's owning team (erp-team) or admins.
      const etag = requested.headers.get('etag')!;
      for (const who of ['rafael.reviewer', 'ada.auditor']) {
        const refused = await call(who, 'POST', `/api/v1/subscriptions/${sub.id}/approve`, undefined, { 'if-match': etag });
        assert.deepEqual([refused.status, refused.json.code], [403, 'access.role_missing'], who);
      }
      const missing = await call('olivia.owner', 'POST', `/api/v1/subscriptions/${sub.id}/approve`);
      assert.deepEqual([missing.status, missing.json.code], [428, 'request.precondition_required']);
      const stale = await call('olivia.owner', 'POST', `/api/v1/subscriptions/${sub.id}/approve`, undefined, { 'if-match': '"subscription-eA-9"' });
      assert.deepEqual([stale.status, stale.json.code], [412, 'request.precondition_failed']);
      const approved = await call('olivia.owner', 'POST', `/api/v1/subscriptions/${sub.id}/approve`, { comment: 'Welcome aboard' }, { 'if-match': etag });
      assert.equal(approved.status, 200, approved.text);
      assert.deepEqual([approved.json.status, approved.json.decidedBy, approved.json.comment], ['active', 'olivia.owner', 'Welcome aboard']);
      assert.ok(Date.parse(approved.json.decidedAt) > 0);
      const activeEtag = approved.headers.get('etag')!;
      assert.notEqual(activeEtag, etag);
      assert.equal(reasons.length, 1, 'an approval reaches the gateways');
      const approveAgain = await call('olivia.owner', 'POST', `/api/v1/subscriptions/${sub.id}/approve`, undefined, { 'if-match': activeEtag });
      assert.deepEqual([approveAgain.status, approveAgain.json.code, approveAgain.json.status], [409, 'lifecycle.invalid_transition', 'active']);
      const rejectActive = await call('adam.admin', 'POST', `/api/v1/subscriptions/${sub.id}/reject`, { comment: 'no' }, { 'if-match': activeEtag });
      assert.deepEqual([rejectActive.status, rejectActive.json.code], [409, 'lifecycle.invalid_transition']);

      // Someone outside the owning team is refused, even an owner of another team.
      const toCatalog = await call('olivia.owner', 'POST', '/api/v1/subscriptions', { consumer: 'erp-sync', api: 'web-catalog', major: 1, plan: 'standard' });
      assert.equal(toCatalog.status, 201, 'olivia owns the consumer');
      const outsider = await call('olivia.owner', 'POST', `/api/v1/subscriptions/${toCatalog.json.id}/approve`, undefined, { 'if-match': toCatalog.headers.get('etag')! });
      assert.equal(outsider.status, 403, 'approval by an owner outside the API\'s owning team');
      assert.equal(outsider.json.code, 'access.role_missing');
      assert.deepEqual(outsider.json.requiredTeams, ['web-team']);
      assert.match(outsider.json.detail, /"web-team"/);
      assert.equal((await call('olivia.owner', 'POST', `/api/v1/subscriptions/${toCatalog.json.id}/reject`, { comment: 'self-serve' }, { 'if-match': toCatalog.headers.get('etag')! })).status, 403);
      assert.equal((await call('ada.auditor', 'GET', `/api/v1/subscriptions/${toCatalog.json.id}`)).json.status, 'pending');

      // Rejection needs a comment.
      const catalogEtag = toCatalog.headers.get('etag')!;
      for (const body of [undefined, {}, { comment: '' }, { comment: '   ' }]) {
        const refused = await call('adam.admin', 'POST', `/api/v1/subscriptions/${toCatalog.json.id}/reject`, body, { 'if-match': catalogEtag });
        assert.deepEqual([refused.status, refused.json.code, pointersOf(refused)], [400, 'request.validation_failed', ['/body/comment']], JSON.stringify(body));
      }
      const rejected = await call('adam.admin', 'POST', `/api/v1/subscriptions/${toCatalog.json.id}/reject`, { comment: 'Use the catalogue export instead' }, { 'if-match': catalogEtag });
      assert.deepEqual([rejected.status, rejected.json.status, rejected.json.decidedBy, rejected.json.comment], [200, 'rejected', 'adam.admin', 'Use the catalogue export instead']);
      const revokeRejected = await call('adam.admin', 'POST', `/api/v1/subscriptions/${toCatalog.json.id}/revoke`);
      assert.deepEqual([revokeRejected.status, revokeRejected.json.code, revokeRejected.json.status], [409, 'lifecycle.invalid_transition', 'rejected']);
      assert.equal(reasons.length, 1, 'a rejection changes nothing the gateways enforce');

      // Revocation: by the API's owning team (here), the consumer's team, or an admin; If-Match checked when sent.
      assert.equal((await call('ada.auditor', 'POST', `/api/v1/subscriptions/${sub.id}/revoke`)).status, 403);
      assert.equal((await call('olivia.owner', 'POST', `/api/v1/subscriptions/${sub.id}/revoke`, undefined, { 'if-match': etag })).status, 412);
      const revoked = await call('olivia.owner', 'POST', `/api/v1/subscriptions/${sub.id}/revoke`, { comment: 'Contract ended' });
      assert.equal(revoked.status, 200, revoked.text);
      assert.deepEqual([revoked.json.status, revoked.json.revokedBy, revoked.json.revokeComment, revoked.json.decidedBy, revoked.json.comment], ['revoked', 'olivia.owner', 'Contract ended', 'olivia.owner', 'Welcome aboard']);
      assert.equal(reasons.length, 2, 'a revocation reaches the gateways');
      assert.equal((await call('olivia.owner', 'POST', `/api/v1/subscriptions/${sub.id}/revoke`)).json.code, 'lifecycle.invalid_transition');
      assert.equal((await call('olivia.owner', 'POST', `/api/v1/subscriptions/${sub.id}/approve`, undefined, { 'if-match': revoked.headers.get('etag')! })).json.code, 'lifecycle.invalid_transition');

      // The consumer's team may end a subscription to another team's API.
      const again = await call('olivia.owner', 'POST', '/api/v1/subscriptions', { consumer: 'erp-sync', api: 'web-catalog', major: 1, plan: 'standard' });
      assert.equal(again.status, 201, 'a rejected request does not block a new one');
      assert.equal((await call('adam.admin', 'POST', `/api/v1/subscriptions/${again.json.id}/approve`, undefined, { 'if-match': again.headers.get('etag')! })).json.status, 'active');
      const byConsumerTeam = await call('olivia.owner', 'POST', `/api/v1/subscriptions/${again.json.id}/revoke`);
      assert.deepEqual([byConsumerTeam.status, byConsumerTeam.json.status], [200, 'revoked']);
      // …and withdraw a pending request (nothing the gateways saw).
      const pending = await call('adam.admin', 'POST', '/api/v1/subscriptions', toErpOrders);
      assert.equal(pending.status, 201, 'a revoked subscription does not block a new request');
      const withdrawn = await call('adam.admin', 'POST', `/api/v1/subscriptions/${pending.json.id}/revoke`, undefined, { 'if-match': pending.headers.get('etag')! });
      assert.deepEqual([withdrawn.status, withdrawn.json.status], [200, 'revoked']);
      assert.equal(reasons.length, 4, reasons.join(' | '));
      assert.ok(reasons.every((r) => /^subscription sub_\w+ (active|revoked)$/.test(r)), reasons.join(' | '));

      // Listing with filters and cursor paging, in request order.
      const all = await call('ada.auditor', 'GET', '/api/v1/subscriptions');
      assert.deepEqual(all.json.items.map((s: { id: string }) => s.id), [sub.id, toCatalog.json.id, again.json.id, pending.json.id]);
      const byConsumer = await call('rafael.reviewer', 'GET', '/api/v1/subscriptions?consumer=erp-sync&status=revoked');
      assert.deepEqual(byConsumer.json.items.map((s: { id: string }) => s.id), [again.json.id]);
      const byApi = await call('olivia.owner', 'GET', '/api/v1/subscriptions?api=erp-orders&major=1&limit=1');
      assert.deepEqual(byApi.json.items.map((s: { id: string }) => s.id), [sub.id]);
      const byApiNext = await call('olivia.owner', 'GET', `/api/v1/subscriptions?api=erp-orders&major=1&limit=1&cursor=${byApi.json.nextCursor}`);
      assert.deepEqual([byApiNext.json.items.map((s: { id: string }) => s.id), byApiNext.json.nextCursor], [[pending.json.id], undefined]);
      const badStatus = await call('ada.auditor', 'GET', '/api/v1/subscriptions?status=approved');
      assert.deepEqual([badStatus.status, pointersOf(badStatus)], [400, ['/query/status']]);
      assert.deepEqual(pointersOf(await call('ada.auditor', 'GET', '/api/v1/subscriptions?major=one')), ['/query/major']);
      assert.equal((await call('ada.auditor', 'GET', '/api/v1/subscriptions/sub_nope')).status, 404);
      assert.equal((await call('anonymous', 'GET', '/api/v1/subscriptions')).status, 401);

      const events = await l.cp.store.db.selectFrom('audit_events').selectAll().where('action', 'like', 'subscription.%').orderBy('seq').execute();
      assert.deepEqual(events.map((e) => [e.action, e.actor]), [
        ['subscription.request', 'adam.admin'],
        ['subscription.approve', 'olivia.owner'],
        ['subscription.request', 'olivia.owner'],
        ['subscription.reject', 'adam.admin'],
        ['subscription.revoke', 'olivia.owner'],
        ['subscription.request', 'olivia.owner'],
        ['subscription.approve', 'adam.admin'],
        ['subscription.revoke', 'olivia.owner'],
        ['subscription.request', 'adam.admin'],
        ['subscription.revoke', 'adam.admin'],
      ]);
      assert.deepEqual([events[3]!.comment, JSON.parse(events[3]!.before!).status, JSON.parse(events[3]!.after!).status], ['Use the catalogue export instead', 'pending', 'rejected']);
      assert.equal((await verifyAuditChain(l.cp.store.db)).intact, true);
    });

    it('admit one open subscription per consumer, API and major, and one consumer per client id, even when requests race', async (t) => {
      const l = await landscape(t, engine);
      if (l === undefined) return;
      assert.equal((await l.call('adam.admin', 'POST', '/api/v1/consumers', { id: 'storefront', name: 'Web shop', team: 'web-team' })).status, 201);
      const body = { consumer: 'storefront', api: 'erp-orders', major: 1, plan: 'standard' };
      const replies = await Promise.all([1, 2, 3, 4].map(() => l.call('adam.admin', 'POST', '/api/v1/subscriptions', body)));
      assert.deepEqual(replies.map((r) => r.status).sort(), [201, 409, 409, 409], replies.map((r) => r.text).join('\n'));
      assert.ok(replies.every((r) => r.status === 201 || r.json.code === 'resource.conflict'));
      const rows = await l.cp.store.db.selectFrom('subscriptions').selectAll().execute();
      assert.equal(rows.length, 1);
      // The store itself refuses a second open row, whatever writes it.
      await assert.rejects(l.cp.store.db.insertInto('subscriptions').values({ ...rows[0]!, id: 'sub_direct', status: 'active' }).execute());
      await l.cp.store.db.insertInto('subscriptions').values({ ...rows[0]!, id: 'sub_old', status: 'revoked' }).execute();

      // Likewise an OAuth client id claimed by two new consumers at once.
      const claims = await Promise.all(['shop-a', 'shop-b', 'shop-c'].map((id) => l.call('adam.admin', 'POST', '/api/v1/consumers', { id, name: id, team: 'web-team', clientIds: [`${id}-own`, 'shared-client'] })));
      assert.deepEqual(claims.map((r) => r.status).sort(), [201, 409, 409], claims.map((r) => r.text).join('\n'));
      assert.equal((await l.cp.store.db.selectFrom('consumer_client_ids').selectAll().where('client_id', '=', 'shared-client').execute()).length, 1);
      assert.equal((await l.cp.store.db.selectFrom('consumers').selectAll().where('id', 'like', 'shop-%').execute()).length, 1, 'the losers left nothing behind');
    });
  });

  describe(`roles per endpoint on ${engine}`, () => {
    it('lets auditors and reviewers read and never write; anonymous callers get 401', async (t) => {
      const l = await landscape(t, engine);
      if (l === undefined) return;
      const { call } = l;
      assert.equal((await call('olivia.owner', 'POST', '/api/v1/consumers', { id: 'erp-sync', name: 'ERP sync', team: 'erp-team' })).status, 201);
      const key = await call('olivia.owner', 'POST', '/api/v1/consumers/erp-sync/credentials');
      const sub = await call('olivia.owner', 'POST', '/api/v1/subscriptions', { consumer: 'erp-sync', api: 'erp-orders', major: 1, plan: 'standard' });
      const writes: [string, string, unknown][] = [
        ['POST', '/api/v1/plans', { id: 'gold', name: 'Gold', scopes: [] }],
        ['PATCH', '/api/v1/plans/standard', { name: 'x' }],
        ['POST', '/api/v1/consumers', { id: 'x', name: 'x', team: 'erp-team' }],
        ['PATCH', '/api/v1/consumers/erp-sync', { name: 'x' }],
        ['POST', '/api/v1/consumers/erp-sync/credentials', undefined],
        ['POST', `/api/v1/consumers/erp-sync/credentials/${key.json.id}/rotate`, undefined],
        ['POST', `/api/v1/consumers/erp-sync/credentials/${key.json.id}/revoke`, undefined],
        ['POST', '/api/v1/consumers/erp-sync/webhook-secret', undefined],
        ['POST', '/api/v1/subscriptions', { consumer: 'erp-sync', api: 'web-catalog', major: 1, plan: 'standard' }],
        ['POST', `/api/v1/subscriptions/${sub.json.id}/approve`, undefined],
        ['POST', `/api/v1/subscriptions/${sub.json.id}/reject`, { comment: 'x' }],
        ['POST', `/api/v1/subscriptions/${sub.json.id}/revoke`, undefined],
      ];
      const before = (await l.cp.store.db.selectFrom('audit_events').select('seq').execute()).length;
      for (const who of ['ada.auditor', 'rafael.reviewer', 'service:gatehouse-gateway']) {
        for (const [method, path, body] of writes) {
          const reply = await call(who, method, path, body, { 'if-match': '*' });
          assert.deepEqual([reply.status, reply.json.code], [403, 'access.role_missing'], `${who} ${method} ${path}`);
        }
      }
      for (const [method, path, body] of writes) assert.equal((await call('anonymous', method, path, body)).status, 401, `${method} ${path}`);
      assert.equal((await l.cp.store.db.selectFrom('audit_events').select('seq').execute()).length, before, 'refusals change nothing');

      const reads = ['/api/v1/plans', '/api/v1/plans/standard', '/api/v1/consumers', '/api/v1/consumers/erp-sync', '/api/v1/subscriptions', `/api/v1/subscriptions/${sub.json.id}`];
      for (const who of ['ada.auditor', 'rafael.reviewer', 'olivia.owner']) for (const path of reads) assert.equal((await call(who, 'GET', path)).status, 200, `${who} ${path}`);
      for (const path of [...reads, '/api/v1/consumers/erp-sync/credentials']) assert.equal((await call('service:gatehouse-gateway', 'GET', path)).status, 403, `gateway ${path}`);
      assert.equal((await call('ada.auditor', 'GET', '/api/v1/consumers/erp-sync/credentials')).status, 200);
      assert.equal((await call('rafael.reviewer', 'GET', '/api/v1/consumers/erp-sync/credentials')).status, 403);
    });

    it('describes every endpoint in the admin OpenAPI document', () => {
      const doc = buildAdminOpenApi([plansOpenApi, consumersOpenApi, subscriptionsOpenApi]) as { paths: Record<string, Record<string, { description?: string }>>; components: { schemas: Record<string, unknown> } };
      const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`)).sort();
      assert.deepEqual(operations, [
        'GET /consumers',
        'GET /consumers/{id}',
        'GET /consumers/{id}/credentials',
        'GET /plans',
        'GET /plans/{id}',
        'GET /subscriptions',
        'GET /subscriptions/{id}',
        'PATCH /consumers/{id}',
        'PATCH /plans/{id}',
        'POST /consumers',
        'POST /consumers/{id}/credentials',
        'POST /consumers/{id}/credentials/{keyId}/revoke',
        'POST /consumers/{id}/credentials/{keyId}/rotate',
        'POST /consumers/{id}/webhook-secret',
        'POST /plans',
        'POST /subscriptions',
        'POST /subscriptions/{id}/approve',
        'POST /subscriptions/{id}/reject',
        'POST /subscriptions/{id}/revoke',
      ]);
      for (const ops of Object.values(doc.paths)) for (const op of Object.values(ops)) assert.match(op.description ?? '', /Roles?:/);
      const refs = JSON.stringify(doc.paths).match(/#\/components\/schemas\/\w+/g) ?? [];
      for (const ref of refs) assert.ok(ref.split('/').pop()! in doc.components.schemas, ref);
    });
  });
}
