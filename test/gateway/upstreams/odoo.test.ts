/**
 * @module The Odoo adapters (JSON-2 and legacy JSON-RPC) through a real gateway in front of
 * the Odoo simulator: credential injection, pass-through of successes, error mapping to
 * problems without tracebacks, refusal of non-`execute_kw` calls, and planted secrets that
 * must never surface (upstreams.md §1.4, §1.6, §6).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ApiSpec } from '../../../contracts/index.js';
import { buildSnapshot, startTestGateway, type TestGateway } from '../../support/gateway-harness.js';
import { startOdooSimulator, type OdooSimulatorHandle } from '../../simulators/index.js';
import { assertNoSecrets, assertProblem, gatewayClient, gatewayTexts, headerOf, upstreamApi } from './helpers.js';

const ODOO_KEY = 'PLANTED-odoo-key-7f3a9';
const ODOO_RPC_KEY = 'PLANTED-odoo-rpc-key-2b8e';
const ODOO_WRONG_KEY = 'PLANTED-odoo-wrong-key-c41d';
const SECRETS = [ODOO_KEY, ODOO_RPC_KEY, ODOO_WRONG_KEY, 'caller-secret', 'caller-key', 'caller-session'];
const RPC_LOGIN = 'rpc-bot@shop.example';
const RPC_UID = 7;

interface RpcBody {
  jsonrpc: string;
  method: string;
  id?: unknown;
  params: { service: string; method: string; args: unknown[] };
}

/** An `object.execute_kw` call as a client sends it: credential placeholders in args 0–2. */
function executeKw(model: string, method: string, args: unknown[], kwargs: Record<string, unknown> = {}, id: unknown = 1): RpcBody {
  return { jsonrpc: '2.0', method: 'call', id, params: { service: 'object', method: 'execute_kw', args: ['x', 0, 'nope', model, method, args, kwargs] } };
}

describe('Odoo adapters through the gateway', () => {
  let odoo: OdooSimulatorHandle;
  let gw: TestGateway;
  const client = gatewayClient(() => gw);
  let apis: ApiSpec[];

  before(async () => {
    odoo = await startOdooSimulator({
      database: 'retail',
      apiKeys: [],
      users: [
        { uid: 2, login: 'json2-bot@shop.example', apiKey: ODOO_KEY },
        { uid: RPC_UID, login: RPC_LOGIN, apiKey: ODOO_RPC_KEY },
      ],
    });
    const json2 = (slug: string, env: string): ApiSpec =>
      upstreamApi(slug, 'odoo-json2', `${odoo.url}/json/2`, { database: 'retail', apiKey: { env } }, [
        { id: 'odoo.call', method: 'POST', path: '/{model}/{method}' },
      ]);
    const rpc = (slug: string, env: string, uid?: number): ApiSpec =>
      upstreamApi(slug, 'odoo-jsonrpc', odoo.url, { database: 'retail', login: RPC_LOGIN, apiKey: { env }, ...(uid === undefined ? {} : { uid }) }, [
        { id: 'odoo.rpc', method: 'POST', path: '/jsonrpc' },
      ]);
    apis = [
      json2('erp', 'ODOO_KEY'),
      json2('erp-badkey', 'ODOO_WRONG_KEY'),
      rpc('erp-rpc', 'ODOO_RPC_KEY'),
      rpc('erp-rpc-uid', 'ODOO_RPC_KEY', RPC_UID),
      rpc('erp-rpc-badkey', 'ODOO_WRONG_KEY', RPC_UID),
      rpc('erp-rpc-badlogin', 'ODOO_WRONG_KEY'),
    ];
    gw = await startTestGateway({
      snapshot: buildSnapshot({ apis }),
      secrets: { ODOO_KEY, ODOO_RPC_KEY, ODOO_WRONG_KEY },
    });
  });

  after(async () => {
    await gw?.close();
    await odoo?.close();
  });

  /** The same call straight to the simulator with the right credentials, for comparison. */
  async function direct(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string; contentType: string | null }> {
    const res = await fetch(`${odoo.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type') };
  }

  describe('JSON-2', () => {
    it('injects the bearer key and X-Odoo-Database, and strips the caller\'s Authorization, X-API-Key and Cookie', async () => {
      odoo.resetCalls();
      const payload = { domain: [['state', '=', 'draft']], fields: ['name', 'state'] };
      const answer = await client.send('POST', '/erp/v1/sale.order/search_read', {
        json: payload,
        headers: { 'x-api-key': 'caller-key', cookie: 'session_id=caller-session', 'x-odoo-database': 'someone-elses-db' },
      });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(odoo.calls.length, 1);
      const call = odoo.calls[0]!;
      assert.equal(call.path, '/json/2/sale.order/search_read');
      assert.equal(headerOf(call.headers, 'authorization'), `bearer ${ODOO_KEY}`);
      assert.equal(headerOf(call.headers, 'x-odoo-database'), 'retail');
      assert.equal(call.headers['x-api-key'], undefined);
      assert.equal(call.headers.cookie, undefined);
      assert.deepStrictEqual(JSON.parse(call.body), payload);
    });

    it('passes a read through unchanged (status, content type and bytes)', async () => {
      const payload = { domain: [['state', '=', 'sale']], fields: ['name', 'amount_total', 'partner_id'] };
      const answer = await client.send('POST', '/erp/v1/sale.order/search_read', { json: payload });
      const expected = await direct('/json/2/sale.order/search_read', payload, { authorization: `bearer ${ODOO_KEY}`, 'x-odoo-database': 'retail' });
      assert.equal(expected.status, 200);
      assert.equal(answer.status, expected.status);
      assert.equal(answer.headers.get('content-type'), expected.contentType);
      assert.equal(answer.text, expected.text);
      assert.deepStrictEqual(
        (answer.json as Array<{ name: string }>).map((order) => order.name),
        ['S00007', 'S00004', 'S00003', 'S00002', 'S00001'], // Odoo's default order: date_order desc
      );
    });

    it('passes a write through and the write lands in Odoo', async () => {
      const answer = await client.send('POST', '/erp/v1/res.partner/write', { json: { ids: [12], vals: { phone: '+1 503 555 0199' } } });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.text, 'true');
      assert.equal(odoo.records('res.partner').find((p) => p.id === 12)?.phone, '+1 503 555 0199');
    });

    it('401 (the gateway holds a wrong key) → 502 upstream.auth_failed without the key or Odoo\'s text', async () => {
      odoo.resetCalls();
      const answer = await client.send('POST', '/erp-badkey/v1/sale.order/search_read', { json: { fields: ['name'] } });
      const problem = assertProblem(answer, 502, 'upstream.auth_failed');
      assert.equal(problem.detail, 'The ERP refused the gateway credential.');
      assert.equal(headerOf(odoo.calls[0]!.headers, 'authorization'), `bearer ${ODOO_WRONG_KEY}`);
      assert.ok(!answer.text.includes(ODOO_WRONG_KEY));
      assert.doesNotMatch(answer.text, /apikey|bearer/i);
      assert.equal(answer.headers.get('www-authenticate'), null);
    });

    it('404 unknown model → 404 upstream.not_found', async () => {
      const answer = await client.send('POST', '/erp/v1/x_no.such.model/search_read', { json: {} });
      const problem = assertProblem(answer, 404, 'upstream.not_found');
      assert.match(problem.detail, /x_no\.such\.model/);
    });

    it('422 ValidationError → 422 upstream.validation_failed with Odoo\'s message', async () => {
      const answer = await client.send('POST', '/erp/v1/sale.order/write', { json: { ids: [5], vals: { partner_id: 9999 } } });
      const problem = assertProblem(answer, 422, 'upstream.validation_failed');
      assert.equal(
        problem.detail,
        "The operation cannot be completed: the record res.partner(9999,) referenced by 'partner_id' does not exist.",
      );
      assert.deepStrictEqual(problem.upstream, { system: 'odoo', error: 'odoo.exceptions.ValidationError' });
    });

    it('403 private method → 403 upstream.forbidden', async () => {
      const answer = await client.send('POST', '/erp/v1/sale.order/_action_cancel', { json: { ids: [5] } });
      const problem = assertProblem(answer, 403, 'upstream.forbidden');
      assert.equal(problem.detail, "Private methods (such as 'sale.order._action_cancel') cannot be called remotely.");
    });

    it('409 LockError → 409 upstream.conflict', async () => {
      odoo.lockRecords('sale.order', [5]);
      try {
        const answer = await client.send('POST', '/erp/v1/sale.order/action_confirm', { json: { ids: [5] } });
        assertProblem(answer, 409, 'upstream.conflict');
      } finally {
        odoo.unlockRecords();
      }
      assert.equal(odoo.records('sale.order').find((o) => o.id === 5)?.state, 'draft');
    });
  });

  describe('JSON-RPC', () => {
    it('rewrites execute_kw args 0–2 to db, uid and key; the uid comes from common.authenticate, once', async () => {
      odoo.resetCalls();
      const body = executeKw('sale.order', 'search_read', [[['state', '=', 'draft']]], { fields: ['name'] }, 41);
      const first = await client.send('POST', '/erp-rpc/v1/jsonrpc', { json: body, headers: { cookie: 'session_id=caller-session' } });
      assert.equal(first.status, 200, first.text);
      assert.deepStrictEqual(first.json, { jsonrpc: '2.0', id: 41, result: [{ id: 5, name: 'S00005' }] });

      assert.equal(odoo.calls.length, 2);
      const [login, call] = odoo.calls as [(typeof odoo.calls)[0], (typeof odoo.calls)[0]];
      assert.deepStrictEqual((JSON.parse(login.body) as RpcBody).params, {
        service: 'common',
        method: 'authenticate',
        args: ['retail', RPC_LOGIN, ODOO_RPC_KEY, {}],
      });
      const forwarded = JSON.parse(call.body) as RpcBody;
      assert.deepStrictEqual(forwarded, {
        ...body,
        params: { ...body.params, args: ['retail', RPC_UID, ODOO_RPC_KEY, 'sale.order', 'search_read', [[['state', '=', 'draft']]], { fields: ['name'] }] },
      });
      assert.equal(headerOf(call.headers, 'content-length'), String(Buffer.byteLength(call.body)));
      assert.equal(call.headers.authorization, undefined);
      assert.equal(call.headers.cookie, undefined);

      odoo.resetCalls();
      const second = await client.send('POST', '/erp-rpc/v1/jsonrpc', { json: executeKw('res.partner', 'read', [[10], ['name']]) });
      assert.equal(second.status, 200, second.text);
      assert.equal(odoo.calls.length, 1, 'the uid is cached: no second authenticate');
      assert.deepStrictEqual((JSON.parse(odoo.calls[0]!.body) as RpcBody).params.args.slice(0, 3), ['retail', RPC_UID, ODOO_RPC_KEY]);
    });

    it('with a configured uid it never calls authenticate', async () => {
      odoo.resetCalls();
      const answer = await client.send('POST', '/erp-rpc-uid/v1/jsonrpc', { json: executeKw('res.partner', 'search_count', [[['is_company', '=', true]]]) });
      assert.equal(answer.status, 200, answer.text);
      assert.deepStrictEqual(answer.json, { jsonrpc: '2.0', id: 1, result: 3 });
      assert.equal(odoo.calls.length, 1);
      const params = (JSON.parse(odoo.calls[0]!.body) as RpcBody).params;
      assert.equal(params.method, 'execute_kw');
      assert.deepStrictEqual(params.args.slice(0, 3), ['retail', RPC_UID, ODOO_RPC_KEY]);
      assert.equal(odoo.calls[0]!.headers.authorization, undefined);
    });

    it('passes a result through unchanged', async () => {
      const body = executeKw('account.move', 'read', [[41, 44], ['name', 'payment_state', 'amount_residual']], {}, 'req-7');
      const answer = await client.send('POST', '/erp-rpc-uid/v1/jsonrpc', { json: body });
      const expected = await direct('/jsonrpc', { ...body, params: { ...body.params, args: ['retail', RPC_UID, ODOO_RPC_KEY, ...body.params.args.slice(3)] } });
      assert.equal(answer.status, 200);
      assert.equal(answer.text, expected.text);
      assert.equal(answer.headers.get('content-type'), expected.contentType);
    });

    it('Odoo answers errors inside HTTP 200 with a traceback; the gateway answers a problem without it', async () => {
      const body = executeKw('sale.order', '_action_cancel', [[5]]);
      const raw = await direct('/jsonrpc', { ...body, params: { ...body.params, args: ['retail', RPC_UID, ODOO_RPC_KEY, ...body.params.args.slice(3)] } });
      assert.equal(raw.status, 200);
      assert.match(raw.text, /"debug":"Traceback/);
      const answer = await client.send('POST', '/erp-rpc-uid/v1/jsonrpc', { json: body });
      const problem = assertProblem(answer, 403, 'upstream.forbidden');
      assert.deepStrictEqual(problem.upstream, { system: 'odoo', error: 'odoo.exceptions.AccessError' });
    });

    const cases: Array<{ name: string; slug: string; body: RpcBody; status: number; code: 'upstream.forbidden' | 'upstream.not_found' | 'upstream.validation_failed' | 'upstream.auth_failed'; detail: RegExp }> = [
      { name: 'AccessError', slug: 'erp-rpc-uid', body: executeKw('res.partner', '_compute_display_name', [[10]]), status: 403, code: 'upstream.forbidden', detail: /Private methods/ },
      { name: 'MissingError', slug: 'erp-rpc-uid', body: executeKw('res.partner', 'read', [[9999], ['name']]), status: 404, code: 'upstream.not_found', detail: /^Record does not exist or has been deleted\./ },
      { name: 'ValidationError', slug: 'erp-rpc-uid', body: executeKw('sale.order', 'write', [[5], { partner_id: 9999 }]), status: 422, code: 'upstream.validation_failed', detail: /res\.partner\(9999,\) referenced by 'partner_id' does not exist/ },
      { name: 'UserError', slug: 'erp-rpc-uid', body: executeKw('sale.order', 'action_confirm', [[1]]), status: 422, code: 'upstream.validation_failed', detail: /^The following orders are not in a state requiring confirmation: S00001$/ },
      { name: 'AccessDenied (wrong key held by the gateway)', slug: 'erp-rpc-badkey', body: executeKw('sale.order', 'search_count', [[]]), status: 502, code: 'upstream.auth_failed', detail: /^The ERP refused the gateway credential\.$/ },
    ];
    for (const c of cases) {
      it(`${c.name} inside HTTP 200 → ${c.status} ${c.code}`, async () => {
        odoo.resetCalls();
        const answer = await client.send('POST', `/${c.slug}/v1/jsonrpc`, { json: c.body });
        const problem = assertProblem(answer, c.status, c.code);
        assert.match(problem.detail, c.detail);
        assert.equal(odoo.calls.length, 1, 'one upstream call');
      });
    }

    it('authenticate answering false (wrong key, uid looked up) → 502 upstream.auth_failed, no execute_kw sent', async () => {
      odoo.resetCalls();
      const answer = await client.send('POST', '/erp-rpc-badlogin/v1/jsonrpc', { json: executeKw('sale.order', 'search_count', [[]]) });
      const problem = assertProblem(answer, 502, 'upstream.auth_failed');
      assert.ok(!problem.detail.includes(ODOO_WRONG_KEY));
      assert.deepStrictEqual(
        odoo.calls.map((call) => (JSON.parse(call.body) as RpcBody).params.method),
        ['authenticate'],
      );
    });

    it('a client\'s own common.authenticate (and any non-execute_kw call) → 403 route.call_refused, nothing sent', async () => {
      odoo.resetCalls();
      const refused: RpcBody[] = [
        { jsonrpc: '2.0', method: 'call', id: 1, params: { service: 'common', method: 'authenticate', args: ['retail', RPC_LOGIN, 'guess', {}] } },
        { jsonrpc: '2.0', method: 'call', id: 2, params: { service: 'common', method: 'login', args: ['retail', RPC_LOGIN, 'guess'] } },
        { jsonrpc: '2.0', method: 'call', id: 3, params: { service: 'db', method: 'list', args: [] } },
        { jsonrpc: '2.0', method: 'call', id: 4, params: { service: 'object', method: 'execute_kw', args: ['x', 0, 'nope'] } },
      ];
      for (const body of refused) {
        const answer = await client.send('POST', '/erp-rpc-uid/v1/jsonrpc', { json: body });
        assertProblem(answer, 403, 'route.call_refused');
      }
      assert.equal(odoo.calls.length, 0);
    });

    it('a body that is not a JSON object → 400 request.malformed_body, nothing sent', async () => {
      odoo.resetCalls();
      const bodies: Array<{ body: string; contentType: string }> = [
        { body: '{"jsonrpc": "2.0", "params": ', contentType: 'application/json' },
        { body: 'service=common&method=authenticate', contentType: 'text/plain' },
        { body: '[1, 2, 3]', contentType: 'application/json' },
      ];
      for (const { body, contentType } of bodies) {
        const answer = await client.send('POST', '/erp-rpc-uid/v1/jsonrpc', { body, headers: { 'content-type': contentType } });
        assertProblem(answer, 400, 'request.malformed_body');
      }
      assert.equal(odoo.calls.length, 0);
    });
  });

  describe('secrets', () => {
    it('a secret reference that is not set rejects the snapshot; the log names the variable, not a value', async () => {
      const hash = gw.gateway.currentHash();
      const next = buildSnapshot({
        apis: [...apis, upstreamApi('erp-new', 'odoo-json2', `${odoo.url}/json/2`, { database: 'retail', apiKey: { env: 'ODOO_UNSET_KEY' } }, [{ id: 'odoo.call', method: 'POST', path: '/{model}/{method}' }])],
        generatedAt: '2026-11-02T00:00:00.000Z',
      });
      const before = gw.logLines().length;
      await gw.source.push(JSON.stringify(next));
      assert.equal(gw.gateway.ready(), true);
      assert.equal(gw.gateway.currentHash(), hash, 'the previous snapshot keeps serving');
      const rejected = gw.logLines().slice(before).filter((line) => line.includes('snapshot rejected'));
      assert.equal(rejected.length, 1);
      assert.match(rejected[0]!, /ODOO_UNSET_KEY/);
      assert.match(rejected[0]!, /is not set/);
      assertNoSecrets(rejected, SECRETS, 'the rejection log line');

      const still = await client.send('POST', '/erp/v1/res.partner/search_count', { json: { domain: [] } });
      assert.equal(still.status, 200, still.text);
      const unknown = await client.send('POST', '/erp-new/v1/res.partner/search_count', { json: { domain: [] } });
      assertProblem(unknown, 404, 'route.not_found');
    });

    it('a gateway whose first snapshot references an unset secret does not start', async () => {
      await assert.rejects(
        startTestGateway({ snapshot: buildSnapshot({ apis }), secrets: { ODOO_KEY, ODOO_WRONG_KEY } }),
        (error: Error) => {
          // The log line is JSON, so the quotes around the name arrive escaped.
          assert.match(error.message, /secret \\"ODOO_RPC_KEY\\" is not set/);
          assertNoSecrets([error.message], SECRETS, 'the startup error');
          return true;
        },
      );
    });

    it('no planted secret or traceback in any answer, log line or access record', async () => {
      const answered = client.transcript().length / 2;
      await gw.waitForRecords(answered);
      const { answers, logs, access } = gatewayTexts(gw, client);
      assert.ok(answered >= 25, `only ${answered} answers captured`);
      assertNoSecrets(answers, SECRETS, 'a gateway answer');
      assertNoSecrets(logs, SECRETS, 'the gateway log');
      assertNoSecrets(access, SECRETS, 'the access log');
      for (const text of answers) assert.doesNotMatch(text, /Traceback|"debug"/);
    });
  });
});
