/**
 * @module APIs and versions over the admin API, on SQLite and PostgreSQL: the whole version
 * lifecycle with its transitions and audit events, reject with a comment, separation of duties
 * (owners and admins alike), illegal transitions, If-Match (428 / 412), roles and team
 * ownership per endpoint, validation problems with pointers, inline secrets refused, one
 * published version per major, and the snapshot publisher told after publish / deprecate /
 * retire and after a change to a live API.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { verifyAuditChain } from '../../control-plane/audit/chain.js';
import { buildAdminOpenApi } from '../../control-plane/openapi.js';
import { apisOpenApi, apisRoutes } from '../../control-plane/routes/apis.js';
import { teamsOpenApi, teamsRoutes } from '../../control-plane/routes/teams.js';
import { versionsOpenApi, versionsRoutes } from '../../control-plane/routes/versions.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { ENGINES, type Engine } from '../support/stores.js';

const orders30 = JSON.parse(readFileSync(new URL('../policies/contracts/orders-3.0.json', import.meta.url), 'utf8')) as Record<string, unknown>;

const STOCK_YAML = `openapi: 3.1.0
info:
  title: Stock
  version: 2.0.0
security:
  - apiKey: []
components:
  securitySchemes:
    apiKey: { type: apiKey, in: header, name: X-API-Key }
  parameters:
    Sku: { name: sku, in: path, required: true, schema: { type: string, maxLength: 32 } }
paths:
  /stock/{sku}:
    parameters: [{ $ref: '#/components/parameters/Sku' }]
    get:
      operationId: getStock
      responses:
        '200':
          description: Stock level of one SKU.
  /stock/{sku}/reservations:
    parameters: [{ $ref: '#/components/parameters/Sku' }]
    post:
      operationId: reserveStock
      responses:
        '201':
          description: Reserved.
`;

const upstream = {
  kind: 'odoo-json2',
  baseUrl: 'http://127.0.0.1:8069/json/2',
  settings: { database: 'retail', apiKey: { env: 'ODOO_API_KEY' } },
  connectTimeoutMs: 2000,
  responseTimeoutMs: 10000,
  retry: { attempts: 1, baseDelayMs: 100, maxDelayMs: 2000, statuses: [502, 503, 504] },
};

const API = '/api/v1/apis';

type Call = Awaited<ReturnType<TestControlPlane['call']>>;

function expect(res: Call, status: number, code?: string): Call {
  assert.equal(res.status, status, `${status} expected: ${res.text}`);
  if (code !== undefined) assert.equal(res.json.code, code, res.text);
  return res;
}

const pointersOf = (res: Call): string[] => (res.json.errors as { pointer: string }[]).map((e) => e.pointer).sort();

interface Fixture {
  cp: TestControlPlane;
  /** Reasons passed to enforcementChanged, in order. */
  enforcement: string[];
  /** A transition as `who`, with the ETag just read unless one is given. */
  act(who: string, path: string, action: string, body?: unknown, etag?: string): Promise<Call>;
  etag(path: string): Promise<string>;
}

/** Teams erp-team and crm-team, the API erp-orders of erp-team (created by olivia.owner). */
async function setup(t: TestContext, engine: Engine): Promise<Fixture | undefined> {
  const cp = await startTestControlPlane(t, engine, { routes: [teamsRoutes, apisRoutes, versionsRoutes] });
  if (cp === undefined) return undefined;
  t.after(() => cp.close());
  const enforcement: string[] = [];
  cp.cp.deps.events.on('enforcement-changed', (reason) => enforcement.push(reason));
  expect(await cp.call('adam.admin', 'POST', '/api/v1/teams', { id: 'erp-team', name: 'ERP' }), 201);
  expect(await cp.call('adam.admin', 'POST', '/api/v1/teams', { id: 'crm-team', name: 'CRM' }), 201);
  expect(await cp.call('olivia.owner', 'POST', API, { slug: 'erp-orders', title: 'Orders', team: 'erp-team', upstream }), 201);
  const etag = async (path: string): Promise<string> => expect(await cp.call('ada.auditor', 'GET', path), 200).headers.get('etag')!;
  return {
    cp,
    enforcement,
    etag,
    act: async (who, path, action, body, tag) => cp.call(who, 'POST', `${path}/${action}`, body, { 'if-match': tag ?? (await etag(path)) }),
  };
}

for (const engine of ENGINES) {
  describe(`APIs and versions on ${engine}`, () => {
    it('APIs: create, read, list, change with If-Match; team ownership; enforcement told only for live APIs', async (t) => {
      const f = await setup(t, engine);
      if (f === undefined) return;
      const { cp } = f;

      const read = expect(await cp.call('rafael.reviewer', 'GET', `${API}/erp-orders`), 200);
      assert.deepEqual(read.json.upstream, upstream);
      assert.equal(read.json.team, 'erp-team');
      assert.match(read.headers.get('etag')!, /^"api-.+-1"$/);
      expect(await cp.call('adam.admin', 'POST', API, { slug: 'crm-accounts', title: 'Accounts', team: 'crm-team', upstream: { ...upstream, kind: 'salesforce', baseUrl: 'https://sf.example/services/data/v60.0', settings: { oauth: { grant: 'client_credentials', tokenUrl: 'https://login.example/token', clientId: 'gw', clientSecret: { env: 'SF_SECRET' } } } } }), 201);
      const list = expect(await cp.call('ada.auditor', 'GET', `${API}?limit=1`), 200);
      assert.deepEqual(list.json.items.map((a: { slug: string }) => a.slug), ['crm-accounts']);
      assert.deepEqual(expect(await cp.call('ada.auditor', 'GET', `${API}?limit=1&cursor=${list.json.nextCursor}`), 200).json.items.map((a: { slug: string }) => a.slug), ['erp-orders']);
      assert.deepEqual(expect(await cp.call('ada.auditor', 'GET', `${API}?team=crm-team`), 200).json.items.map((a: { slug: string }) => a.slug), ['crm-accounts']);
      expect(await cp.call('ada.auditor', 'GET', `${API}/nope`), 404, 'resource.not_found');

      // Roles and team ownership.
      expect(await cp.call('ada.auditor', 'POST', API, { slug: 'x', title: 'X', team: 'erp-team', upstream }), 403, 'access.role_missing');
      expect(await cp.call('rafael.reviewer', 'POST', API, { slug: 'x', title: 'X', team: 'erp-team', upstream }), 403, 'access.role_missing');
      const foreign = expect(await cp.call('olivia.owner', 'POST', API, { slug: 'x', title: 'X', team: 'crm-team', upstream }), 403, 'access.role_missing');
      assert.equal(foreign.json.team, 'crm-team');
      expect(await cp.call('adam.admin', 'POST', API, { slug: 'x', title: 'X', team: 'no-team', upstream }), 400, 'request.validation_failed');
      expect(await cp.call('olivia.owner', 'POST', API, { slug: 'erp-orders', title: 'Again', team: 'erp-team', upstream }), 409, 'resource.conflict');
      const crmTag = await f.etag(`${API}/crm-accounts`);
      expect(await cp.call('olivia.owner', 'PATCH', `${API}/crm-accounts`, { title: 'Mine now' }, { 'if-match': crmTag }), 403, 'access.role_missing');
      expect(await cp.call('ada.auditor', 'PATCH', `${API}/crm-accounts`, { title: 'Mine now' }, { 'if-match': crmTag }), 403, 'access.role_missing');
      const erpTag = await f.etag(`${API}/erp-orders`);
      expect(await cp.call('olivia.owner', 'PATCH', `${API}/erp-orders`, { team: 'crm-team' }, { 'if-match': erpTag }), 403, 'access.role_missing');

      // If-Match.
      expect(await cp.call('olivia.owner', 'PATCH', `${API}/erp-orders`, { title: 'Sales orders' }), 428, 'request.precondition_required');
      const changed = expect(await cp.call('olivia.owner', 'PATCH', `${API}/erp-orders`, { title: 'Sales orders', upstream: { ...upstream, responseTimeoutMs: 5000 } }, { 'if-match': erpTag }), 200);
      assert.equal(changed.json.title, 'Sales orders');
      assert.equal(changed.json.upstream.responseTimeoutMs, 5000);
      assert.notEqual(changed.headers.get('etag'), erpTag);
      const stale = expect(await cp.call('olivia.owner', 'PATCH', `${API}/erp-orders`, { title: 'Lost update' }, { 'if-match': erpTag }), 412, 'request.precondition_failed');
      assert.equal(stale.json.currentEtag, changed.headers.get('etag'));
      expect(await cp.call('olivia.owner', 'PATCH', `${API}/erp-orders`, { slug: 'renamed' }, { 'if-match': changed.headers.get('etag')! }), 400, 'request.validation_failed');
      const handedOver = expect(await cp.call('adam.admin', 'PATCH', `${API}/crm-accounts`, { team: 'erp-team' }, { 'if-match': crmTag }), 200);
      assert.equal(handedOver.json.team, 'erp-team');
      assert.deepEqual(f.enforcement, [], 'no API has a live version yet');

      const events = await cp.store.db.selectFrom('audit_events').select(['action', 'target', 'actor']).where('action', 'like', 'api.%').orderBy('seq').execute();
      assert.deepEqual(events.map((e) => `${e.action} ${e.target} ${e.actor}`), [
        'api.create apis/erp-orders olivia.owner',
        'api.create apis/crm-accounts adam.admin',
        'api.update apis/erp-orders olivia.owner',
        'api.update apis/crm-accounts adam.admin',
      ]);
    });

    it('API validation problems: upstream fields and inline secrets, never echoed', async (t) => {
      const f = await setup(t, engine);
      if (f === undefined) return;
      const { cp } = f;
      const planted = 'sk-PLANTED-3f9a7c1e-never-echo';
      const bad = expect(await cp.call('olivia.owner', 'POST', API, { slug: 'Bad Slug', title: '', team: 'erp-team', upstream: { ...upstream, kind: 'ftp', baseUrl: 'ftp://x', connectTimeoutMs: 0 } }), 400, 'request.validation_failed');
      assert.deepEqual(pointersOf(bad), ['/body/slug', '/body/title', '/body/upstream/baseUrl', '/body/upstream/connectTimeoutMs', '/body/upstream/kind']);
      const secrets = expect(
        await cp.call('olivia.owner', 'POST', API, {
          slug: 'leaky',
          title: 'Leaky',
          team: 'erp-team',
          upstream: {
            ...upstream,
            settings: {
              database: 'retail',
              tokenUrl: 'https://login.example/token',
              credentialHeader: 'Authorization',
              apiKey: planted,
              oauth: { client_secret: planted, privateKey: { env: 'lower-case' } },
              headers: [{ name: 'X-Auth-Token', 'auth-token': planted }],
              ref: { env: 'OK_NAME', value: planted },
            },
          },
        }),
        400,
        'request.validation_failed',
      );
      assert.deepEqual(pointersOf(secrets), [
        '/body/upstream/settings/apiKey',
        '/body/upstream/settings/headers/0/auth-token',
        '/body/upstream/settings/oauth/client_secret',
        '/body/upstream/settings/oauth/privateKey/env',
        '/body/upstream/settings/ref',
      ]);
      assert.ok(!secrets.text.includes(planted), 'the planted secret is never echoed');
      const stored = await cp.store.db.selectFrom('audit_events').select(['before', 'after']).execute();
      assert.ok(!JSON.stringify(stored).includes(planted));
      assert.equal(await cp.store.db.selectFrom('apis').select('slug').where('slug', '=', 'leaky').executeTakeFirst(), undefined);
    });

    it('lifecycle: draft → in_review → approved → published → deprecated → retired, transitions and audit recorded', async (t) => {
      const f = await setup(t, engine);
      if (f === undefined) return;
      const { cp, act } = f;
      const v = `${API}/erp-orders/versions/1.0.0`;

      const created = expect(await cp.call('olivia.owner', 'POST', `${API}/erp-orders/versions`, { version: '1.0.0', contract: orders30, policies: [{ policy: 'rate-limit', config: {} }, { policy: 'rbac', config: { defaultScopes: ['orders:read'] } }] }), 201);
      assert.equal(created.headers.get('location'), v);
      assert.match(created.headers.get('etag')!, /^"version-.+-1"$/);
      assert.equal(created.json.status, 'draft');
      assert.equal(created.json.major, 1);
      assert.deepEqual(created.json.contract, orders30);
      assert.deepEqual(created.json.operations.map((o: { id: string; method: string; path: string }) => `${o.method} ${o.path} ${o.id}`), [
        'GET /orders listOrders',
        'POST /orders createOrder',
        'GET /orders/{orderId} getOrder',
        'PATCH /orders/{orderId} updateOrder',
        'GET /health health',
      ]);
      assert.deepEqual(created.json.policies, [{ policy: 'rate-limit', config: {} }, { policy: 'rbac', config: { defaultScopes: ['orders:read'] } }], 'stored as written, without defaults');
      assert.equal(created.json.createdBy, 'olivia.owner');
      assert.equal(created.json.lastChangedBy, 'olivia.owner');

      const yaml = expect(await cp.call('olivia.owner', 'POST', `${API}/erp-orders/versions`, { version: '2.0.0-beta.1', contract: STOCK_YAML }), 201);
      assert.equal(yaml.json.contract.openapi, '3.1.0');
      assert.deepEqual(yaml.json.operations, [
        { id: 'getStock', method: 'GET', path: '/stock/{sku}' },
        { id: 'reserveStock', method: 'POST', path: '/stock/{sku}/reservations' },
      ]);
      expect(await cp.call('olivia.owner', 'POST', `${API}/erp-orders/versions`, { version: '1.0.0', contract: orders30 }), 409, 'resource.conflict');

      const submitted = expect(await act('olivia.owner', v, 'submit', { comment: 'first cut' }), 200);
      assert.equal(submitted.json.status, 'in_review');
      assert.equal(submitted.json.submittedBy, 'olivia.owner');
      const sod = expect(await act('olivia.owner', v, 'approve'), 403, 'lifecycle.separation_of_duties');
      assert.equal(sod.json.submittedBy, 'olivia.owner');
      const approved = expect(await act('rafael.reviewer', v, 'approve', { comment: 'looks good' }), 200);
      assert.equal(approved.json.status, 'approved');
      assert.equal(approved.json.approvedBy, 'rafael.reviewer');
      assert.deepEqual(f.enforcement, []);
      expect(await act('rafael.reviewer', v, 'publish'), 403, 'access.role_missing');
      const published = expect(await act('olivia.owner', v, 'publish'), 200);
      assert.equal(published.json.status, 'published');
      assert.equal(f.enforcement.length, 1, 'publishing tells the snapshot publisher');
      assert.match(f.enforcement[0]!, /erp-orders 1\.0\.0 published/);

      expect(await act('olivia.owner', v, 'deprecate', { sunset: '2000-01-01' }), 400, 'request.validation_failed');
      expect(await act('olivia.owner', v, 'deprecate', { sunset: 'next week' }), 400, 'request.validation_failed');
      const unknownSuccessor = expect(await act('olivia.owner', v, 'deprecate', { sunset: '2999-12-31', successor: '9.9.9' }), 400, 'request.validation_failed');
      assert.deepEqual(pointersOf(unknownSuccessor), ['/body/successor']);
      const deprecated = expect(await act('olivia.owner', v, 'deprecate', { sunset: '2999-12-31', comment: 'use v2' }), 200);
      assert.equal(deprecated.json.status, 'deprecated');
      assert.equal(deprecated.json.sunset, '2999-12-31T00:00:00.000Z');
      // Before the announced sunset only an admin retires, and must say why.
      expect(await act('olivia.owner', v, 'retire'), 409, 'lifecycle.invalid_transition');
      expect(await act('service:gatehouse-automation', v, 'retire'), 409, 'lifecycle.invalid_transition');
      expect(await act('service:gatehouse-automation', v, 'retire', { beforeSunset: true }), 409, 'lifecycle.invalid_transition');
      expect(await act('olivia.owner', v, 'retire', { beforeSunset: true, comment: 'early' }), 409, 'lifecycle.invalid_transition');
      const retired = expect(await act('service:gatehouse-automation', v, 'retire', { beforeSunset: true, comment: 'card data leak: retired early' }), 200);
      assert.equal(retired.json.status, 'retired');
      assert.equal(f.enforcement.length, 3, 'deprecate and retire tell the publisher too');

      const transitions = expect(await cp.call('ada.auditor', 'GET', `${v}/transitions`), 200).json.items as { from: string; to: string; actor: string; comment: string | null; at: string }[];
      assert.deepEqual(
        transitions.map((x) => [x.from, x.to, x.actor, x.comment]),
        [
          ['draft', 'in_review', 'olivia.owner', 'first cut'],
          ['in_review', 'approved', 'rafael.reviewer', 'looks good'],
          ['approved', 'published', 'olivia.owner', null],
          ['published', 'deprecated', 'olivia.owner', 'use v2'],
          ['deprecated', 'retired', 'gatehouse-automation', 'card data leak: retired early'],
        ],
      );
      assert.ok(transitions.every((x) => !Number.isNaN(Date.parse(x.at))));

      const events = await cp.store.db.selectFrom('audit_events').selectAll().where('target', '=', 'apis/erp-orders/versions/1.0.0').orderBy('seq').execute();
      assert.deepEqual(events.map((e) => `${e.action} ${e.actor} ${e.role}`), [
        'version.create olivia.owner owner',
        'version.submit olivia.owner owner',
        'version.approve rafael.reviewer reviewer',
        'version.publish olivia.owner owner',
        'version.deprecate olivia.owner owner',
        'version.retire gatehouse-automation admin',
      ]);
      assert.equal(events[2]!.comment, 'looks good');
      assert.equal(JSON.parse(events[3]!.after!).status, 'published');
      assert.equal(JSON.parse(events[3]!.after!).contract, undefined, 'the audit keeps a fingerprint of the contract, not the contract');
      assert.match(JSON.parse(events[3]!.after!).contractSha256, /^[0-9a-f]{64}$/);
      assert.equal((await verifyAuditChain(cp.store.db)).intact, true);

      // A change to an API with live versions tells the publisher.
      expect(await cp.call('olivia.owner', 'PATCH', `${API}/erp-orders`, { upstream: { ...upstream, baseUrl: 'http://127.0.0.1:8070/json/2' } }, { 'if-match': await f.etag(`${API}/erp-orders`) }), 200);
      assert.equal(f.enforcement.length, 4);
      assert.match(f.enforcement[3]!, /api erp-orders changed/);

      const list = expect(await cp.call('ada.auditor', 'GET', `${API}/erp-orders/versions`), 200);
      assert.deepEqual(list.json.items.map((x: { version: string; status: string }) => `${x.version} ${x.status}`), ['1.0.0 retired', '2.0.0-beta.1 draft']);
      assert.equal(list.json.items[0].contract, undefined, 'lists leave contracts out');
      assert.deepEqual(expect(await cp.call('ada.auditor', 'GET', `${API}/erp-orders/versions?status=draft`), 200).json.items.map((x: { version: string }) => x.version), ['2.0.0-beta.1']);
      expect(await cp.call('ada.auditor', 'GET', `${API}/erp-orders/versions?status=bogus`), 400, 'request.validation_failed');
      expect(await cp.call('ada.auditor', 'GET', `${API}/nope/versions`), 404, 'resource.not_found');
      expect(await cp.call('ada.auditor', 'GET', `${API}/erp-orders/versions/9.9.9`), 404, 'resource.not_found');
    });

    it('reject returns to draft with the comment; separation of duties for the last changer and for admins; illegal transitions 409', async (t) => {
      const f = await setup(t, engine);
      if (f === undefined) return;
      const { cp, act } = f;
      const v = `${API}/erp-orders/versions/1.1.0`;
      expect(await cp.call('olivia.owner', 'POST', `${API}/erp-orders/versions`, { version: '1.1.0', contract: orders30 }), 201);

      // Illegal transitions from draft name from and to.
      for (const action of ['approve', 'reject', 'publish', 'deprecate', 'retire'] as const) {
        const who = action === 'approve' || action === 'reject' ? 'rafael.reviewer' : 'olivia.owner';
        const illegal = expect(await act(who, v, action, action === 'reject' ? { comment: 'no' } : undefined), 409, 'lifecycle.invalid_transition');
        assert.equal(illegal.json.from, 'draft');
        assert.equal(illegal.json.action, action);
      }
      assert.equal(expect(await act('olivia.owner', v, 'publish'), 409).json.to, 'published');

      expect(await act('olivia.owner', v, 'submit'), 200);
      expect(await act('olivia.owner', v, 'submit'), 409, 'lifecycle.invalid_transition');
      expect(await cp.call('olivia.owner', 'PATCH', v, { policies: [] }, { 'if-match': await f.etag(v) }), 409, 'lifecycle.invalid_transition');
      expect(await act('rafael.reviewer', v, 'reject'), 400, 'request.validation_failed');
      expect(await act('olivia.owner', v, 'reject', { comment: 'self-review' }), 403, 'lifecycle.separation_of_duties');
      const rejected = expect(await act('rafael.reviewer', v, 'reject', { comment: 'Declare 4XX responses on updateOrder.' }), 200);
      assert.equal(rejected.json.status, 'draft');
      assert.equal(rejected.json.reviewComment, 'Declare 4XX responses on updateOrder.');
      assert.equal(expect(await cp.call('olivia.owner', 'GET', v), 200).json.reviewComment, 'Declare 4XX responses on updateOrder.');

      // The admin changes the draft; the owner resubmits: the admin may not approve what they last changed.
      const patched = expect(await cp.call('adam.admin', 'PATCH', v, { policies: [{ policy: 'rbac', config: {} }] }, { 'if-match': await f.etag(v) }), 200);
      assert.equal(patched.json.lastChangedBy, 'adam.admin');
      assert.deepEqual(patched.json.policies, [{ policy: 'rbac', config: {} }]);
      expect(await act('olivia.owner', v, 'submit'), 200);
      const lastChanger = expect(await act('adam.admin', v, 'approve'), 403, 'lifecycle.separation_of_duties');
      assert.equal(lastChanger.json.lastChangedBy, 'adam.admin');
      const approved = expect(await act('rafael.reviewer', v, 'approve'), 200);
      assert.equal(approved.json.reviewComment, null, 'approval clears the rejection comment');

      // An admin who submits may not approve either.
      const w = `${API}/erp-orders/versions/1.2.0`;
      expect(await cp.call('adam.admin', 'POST', `${API}/erp-orders/versions`, { version: '1.2.0', contract: orders30 }), 201);
      expect(await act('adam.admin', w, 'submit'), 200);
      expect(await act('adam.admin', w, 'approve'), 403, 'lifecycle.separation_of_duties');
      expect(await act('adam.admin', w, 'reject', { comment: 'mine' }), 403, 'lifecycle.separation_of_duties');
      expect(await act('olivia.owner', w, 'approve'), 403, 'access.role_missing');
      expect(await act('service:gatehouse-automation', w, 'approve'), 200);

      const transitions = expect(await cp.call('rafael.reviewer', 'GET', `${v}/transitions`), 200).json.items as { from: string; to: string; actor: string; comment: string | null }[];
      assert.deepEqual(transitions.map((x) => `${x.from}→${x.to} ${x.actor} ${x.comment}`), [
        'draft→in_review olivia.owner null',
        'in_review→draft rafael.reviewer Declare 4XX responses on updateOrder.',
        'draft→in_review olivia.owner null',
        'in_review→approved rafael.reviewer null',
      ]);
      const actions = await cp.store.db.selectFrom('audit_events').select('action').where('target', '=', 'apis/erp-orders/versions/1.1.0').orderBy('seq').execute();
      assert.deepEqual(actions.map((e) => e.action), ['version.create', 'version.submit', 'version.reject', 'version.update', 'version.submit', 'version.approve']);
      assert.deepEqual(f.enforcement, [], 'nothing published');
    });

    it('If-Match: missing 428 and stale 412 on PATCH and on every transition', async (t) => {
      const f = await setup(t, engine);
      if (f === undefined) return;
      const { cp, act } = f;
      const v = `${API}/erp-orders/versions/1.0.0`;
      const created = expect(await cp.call('olivia.owner', 'POST', `${API}/erp-orders/versions`, { version: '1.0.0', contract: orders30 }), 201);
      const first = created.headers.get('etag')!;
      expect(await cp.call('olivia.owner', 'PATCH', v, { contract: STOCK_YAML }), 428, 'request.precondition_required');
      const patched = expect(await cp.call('olivia.owner', 'PATCH', v, { contract: STOCK_YAML }, { 'if-match': first }), 200);
      assert.equal(patched.json.operations[0].id, 'getStock');
      expect(await cp.call('olivia.owner', 'PATCH', v, { contract: orders30 }, { 'if-match': first }), 412, 'request.precondition_failed');
      expect(await cp.call('olivia.owner', 'POST', `${v}/submit`), 428, 'request.precondition_required');
      expect(await act('olivia.owner', v, 'submit', undefined, first), 412, 'request.precondition_failed');
      const submitted = expect(await act('olivia.owner', v, 'submit', undefined, patched.headers.get('etag')!), 200);
      expect(await act('rafael.reviewer', v, 'approve', undefined, patched.headers.get('etag')!), 412, 'request.precondition_failed');
      expect(await act('rafael.reviewer', v, 'approve', undefined, submitted.headers.get('etag')!), 200);
      expect(await act('olivia.owner', v, 'publish', undefined, submitted.headers.get('etag')!), 412, 'request.precondition_failed');
      expect(await act('olivia.owner', v, 'publish', undefined, '*'), 200);
      assert.equal((await cp.call('ada.auditor', 'GET', `${v}/transitions`)).json.items.length, 3, 'refused requests record nothing');
    });

    it('roles and team ownership per version endpoint', async (t) => {
      const f = await setup(t, engine);
      if (f === undefined) return;
      const { cp, act } = f;
      expect(await cp.call('adam.admin', 'POST', API, { slug: 'crm-accounts', title: 'Accounts', team: 'crm-team', upstream }), 201);
      const crm = `${API}/crm-accounts/versions/1.0.0`;
      const erp = `${API}/erp-orders/versions/1.0.0`;
      expect(await cp.call('adam.admin', 'POST', `${API}/crm-accounts/versions`, { version: '1.0.0', contract: orders30 }), 201);
      expect(await cp.call('olivia.owner', 'POST', `${API}/erp-orders/versions`, { version: '1.0.0', contract: orders30 }), 201);

      // Readers.
      for (const who of ['olivia.owner', 'rafael.reviewer', 'ada.auditor', 'adam.admin']) {
        expect(await cp.call(who, 'GET', `${API}/crm-accounts/versions`), 200);
        expect(await cp.call(who, 'GET', crm), 200);
        expect(await cp.call(who, 'GET', `${crm}/transitions`), 200);
      }
      expect(await cp.call('anonymous', 'GET', crm), 401, 'auth.token_missing');

      // The auditor reads only; the reviewer creates and changes nothing.
      for (const who of ['ada.auditor', 'rafael.reviewer']) {
        expect(await cp.call(who, 'POST', `${API}/erp-orders/versions`, { version: '1.5.0', contract: orders30 }), 403, 'access.role_missing');
        expect(await cp.call(who, 'PATCH', erp, { policies: [] }, { 'if-match': await f.etag(erp) }), 403, 'access.role_missing');
        for (const action of ['submit', 'publish', 'deprecate', 'retire']) expect(await act(who, erp, action), 403, 'access.role_missing');
      }
      for (const action of ['approve', 'reject']) expect(await act('ada.auditor', erp, action, { comment: 'x' }), 403, 'access.role_missing');

      // An owner of another team changes, submits and publishes nothing of crm-team's.
      expect(await cp.call('olivia.owner', 'POST', `${API}/crm-accounts/versions`, { version: '1.5.0', contract: orders30 }), 403, 'access.role_missing');
      expect(await cp.call('olivia.owner', 'PATCH', crm, { policies: [] }, { 'if-match': await f.etag(crm) }), 403, 'access.role_missing');
      expect(await act('olivia.owner', crm, 'submit'), 403, 'access.role_missing');
      expect(await act('adam.admin', crm, 'submit'), 200);
      expect(await act('rafael.reviewer', crm, 'approve'), 200);
      const foreign = expect(await act('olivia.owner', crm, 'publish'), 403, 'access.role_missing');
      assert.equal(foreign.json.team, 'crm-team');
      expect(await act('adam.admin', crm, 'publish'), 200, undefined);
      expect(await act('olivia.owner', crm, 'deprecate'), 403, 'access.role_missing');
      assert.equal(f.enforcement.length, 1);
    });

    it('version validation problems carry pointers: semver, contract, YAML, policies', async (t) => {
      const f = await setup(t, engine);
      if (f === undefined) return;
      const { cp } = f;
      const post = (body: unknown) => cp.call('olivia.owner', 'POST', `${API}/erp-orders/versions`, body);

      assert.deepEqual(pointersOf(expect(await post({ version: '1.0', contract: orders30 }), 400, 'request.validation_failed')), ['/body/version']);
      assert.deepEqual(pointersOf(expect(await post({ version: '1.0.0+build.5', contract: orders30 }), 400)), ['/body/version']);
      assert.deepEqual(pointersOf(expect(await post({ version: '1.0.0' }), 400)), ['/body/contract']);
      assert.deepEqual(pointersOf(expect(await post({ version: '1.0.0', contract: 42, extra: 1 }), 400)), ['/body/contract', '/body/extra']);

      const noIds = structuredClone(orders30) as { paths: Record<string, Record<string, Record<string, unknown>>> };
      delete noIds.paths['/orders']!.post!.operationId;
      delete noIds.paths['/health']!.get!.operationId;
      const missing = expect(await post({ version: '1.0.0', contract: noIds }), 400, 'request.validation_failed');
      assert.deepEqual(pointersOf(missing), ['/body/contract/paths/~1health/get/operationId', '/body/contract/paths/~1orders/post/operationId']);
      assert.match(missing.json.errors[0].detail, /operationId/);
      assert.deepEqual(pointersOf(expect(await post({ version: '1.0.0', contract: { ...orders30, openapi: '2.0' } }), 400)), ['/body/contract/openapi']);
      assert.deepEqual(pointersOf(expect(await post({ version: '1.0.0', contract: 'openapi: 3.1.0\ninfo: [\n' }), 400)), ['/body/contract']);
      assert.deepEqual(pointersOf(expect(await post({ version: '1.0.0', contract: STOCK_YAML.replace('operationId: reserveStock', 'summary: no id') }), 400)), ['/body/contract/paths/~1stock~1{sku}~1reservations/post/operationId']);

      const policies = expect(
        await post({
          version: '1.0.0',
          contract: orders30,
          policies: [
            { policy: 'no-such-policy', config: {} },
            { policy: 'rate-limit', config: { headers: 'sometimes' } },
            { policy: 'rbac', config: { defaultScopes: 'orders:read' } },
            { policy: 'request-hygiene', config: {} },
          ],
        }),
        400,
        'request.validation_failed',
      );
      assert.deepEqual(pointersOf(policies), ['/body/policies/0/policy', '/body/policies/1/config/headers', '/body/policies/2/config/defaultScopes', '/body/policies/3/policy']);
      // Contract and policy problems are reported together.
      assert.deepEqual(pointersOf(expect(await post({ version: '1.0.0', contract: noIds, policies: [{ policy: 'nope', config: {} }] }), 400)), [
        '/body/contract/paths/~1health/get/operationId',
        '/body/contract/paths/~1orders/post/operationId',
        '/body/policies/0/policy',
      ]);

      expect(await post({ version: '1.0.0', contract: orders30 }), 201);
      const v = `${API}/erp-orders/versions/1.0.0`;
      const tag = await f.etag(v);
      assert.deepEqual(pointersOf(expect(await cp.call('olivia.owner', 'PATCH', v, {}, { 'if-match': tag }), 400)), ['/body']);
      assert.deepEqual(pointersOf(expect(await cp.call('olivia.owner', 'PATCH', v, { version: '2.0.0' }, { 'if-match': tag }), 400)), ['/body/version']);
      assert.deepEqual(pointersOf(expect(await cp.call('olivia.owner', 'PATCH', v, { policies: [{ policy: 'quota', config: { bogus: 1 } }] }, { 'if-match': tag }), 400)), ['/body/policies/0/config/bogus']);
      assert.deepEqual(pointersOf(expect(await f.act('olivia.owner', v, 'submit', { sunset: '2999-01-01' }), 400)), ['/body/sunset']);
      assert.equal(expect(await cp.call('ada.auditor', 'GET', v), 200).headers.get('etag'), tag, 'refused changes change nothing');
      assert.deepEqual((await cp.store.db.selectFrom('audit_events').select('action').where('action', 'like', 'version.%').execute()).map((e) => e.action), ['version.create']);
    });

    it('publishing a newer version of a major deprecates the published one; an older one is refused; other majors untouched', async (t) => {
      const f = await setup(t, engine);
      if (f === undefined) return;
      const { cp, act } = f;
      const path = (version: string) => `${API}/erp-orders/versions/${version}`;
      const ready = async (version: string) => {
        expect(await cp.call('olivia.owner', 'POST', `${API}/erp-orders/versions`, { version, contract: orders30 }), 201);
        expect(await act('olivia.owner', path(version), 'submit'), 200);
        expect(await act('rafael.reviewer', path(version), 'approve'), 200);
      };
      for (const version of ['1.2.0', '1.3.0', '1.2.5', '2.0.0']) await ready(version);
      expect(await act('olivia.owner', path('1.2.0'), 'publish'), 200);
      expect(await act('olivia.owner', path('2.0.0'), 'publish'), 200);
      expect(await act('olivia.owner', path('1.3.0'), 'publish', { comment: 'adds filters' }), 200);
      const older = expect(await act('olivia.owner', path('1.2.5'), 'publish'), 409, 'lifecycle.invalid_transition');
      assert.equal(older.json.publishedVersion, '1.3.0');

      const statuses = expect(await cp.call('ada.auditor', 'GET', `${API}/erp-orders/versions`), 200).json.items.map((x: { version: string; status: string }) => `${x.version} ${x.status}`);
      assert.deepEqual(statuses, ['1.2.0 deprecated', '1.2.5 approved', '1.3.0 published', '2.0.0 published']);
      const superseded = expect(await cp.call('ada.auditor', 'GET', `${path('1.2.0')}/transitions`), 200).json.items.at(-1);
      assert.deepEqual([superseded.from, superseded.to, superseded.actor, superseded.comment], ['published', 'deprecated', 'olivia.owner', 'superseded by 1.3.0']);
      const events = await cp.store.db.selectFrom('audit_events').select(['action', 'target', 'comment']).where('action', 'in', ['version.publish', 'version.deprecate']).orderBy('seq').execute();
      assert.deepEqual(events.map((e) => `${e.action} ${e.target} ${e.comment}`), [
        'version.publish apis/erp-orders/versions/1.2.0 null',
        'version.publish apis/erp-orders/versions/2.0.0 null',
        'version.deprecate apis/erp-orders/versions/1.2.0 superseded by 1.3.0',
        'version.publish apis/erp-orders/versions/1.3.0 adds filters',
      ]);
      assert.equal(f.enforcement.length, 3, 'one notice per publish');
      assert.match(f.enforcement[2]!, /1\.3\.0 published \(1\.2\.0 deprecated\)/);
    });

    it('concurrent writers: one approval per ETag wins; concurrent publishes leave one published version per major', async (t) => {
      const f = await setup(t, engine);
      if (f === undefined) return;
      const { cp, act } = f;
      const path = (version: string) => `${API}/erp-orders/versions/${version}`;
      for (const version of ['1.2.0', '1.3.0', '1.4.0']) {
        expect(await cp.call('olivia.owner', 'POST', `${API}/erp-orders/versions`, { version, contract: orders30 }), 201);
        expect(await act('olivia.owner', path(version), 'submit'), 200);
      }
      const tag = await f.etag(path('1.2.0'));
      const racing = await Promise.all([act('rafael.reviewer', path('1.2.0'), 'approve', undefined, tag), act('service:gatehouse-automation', path('1.2.0'), 'approve', undefined, tag)]);
      assert.deepEqual(racing.map((r) => r.status).sort(), [200, 412]);
      assert.equal((await cp.call('ada.auditor', 'GET', `${path('1.2.0')}/transitions`)).json.items.length, 2, 'submit and one approval');
      for (const version of ['1.3.0', '1.4.0']) expect(await act('rafael.reviewer', path(version), 'approve'), 200);
      expect(await act('olivia.owner', path('1.2.0'), 'publish'), 200);
      const publishes = await Promise.all(['1.3.0', '1.4.0'].map((version) => act('olivia.owner', path(version), 'publish')));
      assert.ok(publishes.some((r) => r.status === 200), publishes.map((r) => r.text).join('\n'));
      for (const r of publishes) assert.ok([200, 409, 412].includes(r.status), r.text);
      const published = (await cp.store.db.selectFrom('api_versions').select('version').where('status', '=', 'published').execute()).map((r) => r.version);
      assert.equal(published.length, 1, `one published version of major 1: ${published.join(', ')}`);
    });

    it('describes its endpoints in the admin OpenAPI document', () => {
      const doc = buildAdminOpenApi([teamsOpenApi, apisOpenApi, versionsOpenApi]) as { paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };
      for (const path of ['/apis', '/apis/{api}', '/apis/{api}/versions', '/apis/{api}/versions/{version}', '/apis/{api}/versions/{version}/transitions']) assert.ok(doc.paths[path], path);
      for (const action of ['submit', 'approve', 'reject', 'publish', 'deprecate', 'retire']) assert.ok(doc.paths[`/apis/{api}/versions/{version}/${action}`]?.post, action);
      for (const name of ['ApiInput', 'ApiPatch', 'VersionInput', 'VersionPatch']) assert.ok(doc.components.schemas[name], name);
    });
  });
}
