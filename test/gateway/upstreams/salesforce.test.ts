/**
 * @module The Salesforce adapter through a real gateway in front of the Salesforce simulator:
 * bearer token injection, pass-through of successes, error arrays mapped to problems,
 * `REQUEST_LIMIT_EXCEEDED` as 503 with Retry-After, and planted secrets that never surface
 * (upstreams.md §2.4, §2.5, §6).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ApiSpec, OperationSpec } from '../../../contracts/index.js';
import { buildSnapshot, startTestGateway, type TestGateway } from '../../support/gateway-harness.js';
import { salesforceId, startSalesforceSimulator, type SalesforceSimulatorHandle } from '../../simulators/index.js';
import { assertNoSecrets, assertProblem, gatewayClient, gatewayTexts, headerOf, upstreamApi } from './helpers.js';

const SF_TOKEN = 'PLANTED-sf-token-91c2e';
const SF_UNKNOWN_TOKEN = 'PLANTED-sf-unknown-token-5d07';
const ACCOUNT_1 = salesforceId('001', 1);
const API_PATH = '/services/data/v62.0';

const OPERATIONS: OperationSpec[] = [
  { id: 'sobject.create', method: 'POST', path: '/sobjects/{type}' },
  { id: 'sobject.get', method: 'GET', path: '/sobjects/{type}/{id}' },
  { id: 'sobject.update', method: 'PATCH', path: '/sobjects/{type}/{id}' },
  { id: 'sobject.delete', method: 'DELETE', path: '/sobjects/{type}/{id}' },
  { id: 'sobject.upsert', method: 'PATCH', path: '/sobjects/{type}/{field}/{value}' },
  { id: 'query', method: 'GET', path: '/query' },
  { id: 'composite', method: 'POST', path: '/composite' },
];

describe('Salesforce adapter through the gateway', () => {
  let sf: SalesforceSimulatorHandle;
  let sfLimited: SalesforceSimulatorHandle;
  let gw: TestGateway;
  let mintedToken: string;
  let apis: ApiSpec[];
  const client = gatewayClient(() => gw);
  const secrets = (): string[] => [SF_TOKEN, SF_UNKNOWN_TOKEN, mintedToken, 'caller-secret', 'caller-key'];

  before(async () => {
    sf = await startSalesforceSimulator({ clients: [{ clientId: 'gatehouse', clientSecret: 'PLANTED-sf-client-secret-0e4f' }], staticTokens: [SF_TOKEN] });
    sfLimited = await startSalesforceSimulator({ clients: [], staticTokens: [SF_TOKEN], apiLimit: 1 });
    // A minted token the simulator can later expire (static tokens never expire).
    const minted = await fetch(`${sf.url}/services/oauth2/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'gatehouse', client_secret: 'PLANTED-sf-client-secret-0e4f' }),
    });
    mintedToken = ((await minted.json()) as { access_token: string }).access_token;
    const api = (slug: string, base: string, env: string): ApiSpec =>
      upstreamApi(slug, 'salesforce', `${base}${API_PATH}`, { accessToken: { env }, limitRetryAfterSeconds: 120 }, OPERATIONS);
    apis = [
      api('crm', sf.url, 'SF_TOKEN'),
      api('crm-minted', sf.url, 'SF_MINTED_TOKEN'),
      api('crm-unknown', sf.url, 'SF_UNKNOWN_TOKEN'),
      api('crm-limited', sfLimited.url, 'SF_TOKEN'),
    ];
    gw = await startTestGateway({
      snapshot: buildSnapshot({ apis }),
      secrets: { SF_TOKEN, SF_UNKNOWN_TOKEN, SF_MINTED_TOKEN: mintedToken },
    });
  });

  after(async () => {
    await gw?.close();
    await sf?.close();
    await sfLimited?.close();
  });

  async function direct(path: string): Promise<{ status: number; text: string; contentType: string | null }> {
    const res = await fetch(`${sf.url}${API_PATH}${path}`, { headers: { authorization: `Bearer ${SF_TOKEN}` } });
    return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type') };
  }

  it('injects Authorization: Bearer <token> and strips the caller\'s credentials', async () => {
    sf.resetCalls();
    const answer = await client.send('GET', `/crm/v1/sobjects/Account/${ACCOUNT_1}?fields=Name`, {
      headers: { 'x-api-key': 'caller-key', cookie: 'sid=caller-secret' },
    });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(sf.calls.length, 1);
    const call = sf.calls[0]!;
    assert.equal(call.path, `${API_PATH}/sobjects/Account/${ACCOUNT_1}?fields=Name`);
    assert.equal(headerOf(call.headers, 'authorization'), `Bearer ${SF_TOKEN}`);
    assert.equal(call.headers['x-api-key'], undefined);
    assert.equal(call.headers.cookie, undefined);
  });

  it('passes a SOQL query result through unchanged', async () => {
    const query = `/query?q=${encodeURIComponent('SELECT Id, Name, ERP_Customer_Id__c FROM Account ORDER BY Name')}`;
    const answer = await client.send('GET', `/crm/v1${query}`);
    const expected = await direct(query);
    assert.equal(answer.status, 200);
    assert.equal(answer.text, expected.text);
    assert.equal(answer.headers.get('content-type'), expected.contentType);
    assert.match(answer.headers.get('sforce-limit-info') ?? '', /^api-usage=\d+\/15000$/);
    assert.equal((answer.json as { totalSize: number }).totalSize, 5);
  });

  it('passes create (201 + Location), update (204) and delete (204) through', async () => {
    const created = await client.send('POST', '/crm/v1/sobjects/Account', { json: { Name: 'Gatehouse Test Shop', Industry: 'Retail' } });
    assert.equal(created.status, 201, created.text);
    const id = (created.json as { id: string }).id;
    assert.deepStrictEqual(created.json, { id, success: true, errors: [] });
    // The upstream's Location is mapped onto the gateway path (the upstream address stays hidden).
    assert.equal(created.headers.get('location'), `/crm/v1/sobjects/Account/${id}`);

    const updated = await client.send('PATCH', `/crm/v1/sobjects/Account/${id}`, { json: { Phone: '+32 9 555 00 00' } });
    assert.equal(updated.status, 204);
    assert.equal(updated.text, '');
    assert.equal(sf.records('Account').find((a) => a.Id === id)?.Phone, '+32 9 555 00 00');

    const deleted = await client.send('DELETE', `/crm/v1/sobjects/Account/${id}`);
    assert.equal(deleted.status, 204);
    const gone = await client.send('GET', `/crm/v1/sobjects/Account/${id}`);
    const problem = assertProblem(gone, 404, 'upstream.not_found');
    assert.deepStrictEqual(problem.upstream, { system: 'salesforce', errors: [{ errorCode: 'ENTITY_IS_DELETED', message: 'entity is deleted' }] });
  });

  it('passes a composite answer through', async () => {
    const answer = await client.send('POST', '/crm/v1/composite', {
      json: {
        compositeRequest: [
          { method: 'GET', url: `${API_PATH}/sobjects/Account/${ACCOUNT_1}?fields=Name`, referenceId: 'acc' },
          { method: 'GET', url: `${API_PATH}/query?q=SELECT+Id+FROM+Contact+WHERE+AccountId='@{acc.Id}'`, referenceId: 'contacts' },
        ],
      },
    });
    assert.equal(answer.status, 200, answer.text);
    const parts = (answer.json as { compositeResponse: Array<{ httpStatusCode: number; referenceId: string }> }).compositeResponse;
    assert.deepStrictEqual(parts.map((p) => [p.referenceId, p.httpStatusCode]), [['acc', 200], ['contacts', 200]]);
  });

  it('an all-or-none composite that rolled back → 422 naming the failing part; nothing was written', async () => {
    const answer = await client.send('POST', '/crm/v1/composite', {
      json: {
        allOrNone: true,
        compositeRequest: [
          { method: 'POST', url: `${API_PATH}/sobjects/Account`, referenceId: 'acc', body: { Name: 'Rolled Back Ltd' } },
          { method: 'POST', url: `${API_PATH}/sobjects/Contact`, referenceId: 'con', body: { FirstName: 'No last name', AccountId: '@{acc.id}' } },
        ],
      },
    });
    const problem = assertProblem(answer, 422, 'upstream.validation_failed');
    assert.equal(problem.detail, 'Required fields are missing: [LastName]');
    const composite = (problem.upstream as { composite: Array<{ referenceId: string; httpStatusCode: number; errors: Array<{ errorCode: string }> }> }).composite;
    assert.deepStrictEqual(composite.map((p) => [p.referenceId, p.httpStatusCode, p.errors[0]?.errorCode]), [
      ['acc', 400, 'PROCESSING_HALTED'],
      ['con', 400, 'REQUIRED_FIELD_MISSING'],
    ]);
    const query = await client.send('GET', `/crm/v1/query?q=${encodeURIComponent("SELECT Id FROM Account WHERE Name = 'Rolled Back Ltd'")}`);
    assert.equal((query.json as { totalSize: number }).totalSize, 0);
  });

  it('400 REQUIRED_FIELD_MISSING → 422 upstream.validation_failed listing the upstream errors', async () => {
    const answer = await client.send('POST', '/crm/v1/sobjects/Contact', { json: { FirstName: 'Nameless' } });
    const problem = assertProblem(answer, 422, 'upstream.validation_failed');
    assert.equal(problem.detail, 'Required fields are missing: [LastName]');
    assert.deepStrictEqual(problem.upstream, {
      system: 'salesforce',
      errors: [{ errorCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [LastName]', fields: ['LastName'] }],
    });
  });

  it('404 NOT_FOUND → 404 upstream.not_found', async () => {
    const answer = await client.send('GET', `/crm/v1/sobjects/Account/${salesforceId('001', 999)}`);
    const problem = assertProblem(answer, 404, 'upstream.not_found');
    assert.deepStrictEqual(problem.upstream, {
      system: 'salesforce',
      errors: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }],
    });
  });

  it('300 (external id matches several records) → 409 upstream.conflict', async () => {
    for (const name of ['Twin Shop A', 'Twin Shop B']) {
      const created = await client.send('POST', '/crm/v1/sobjects/Account', { json: { Name: name, ERP_Customer_Id__c: 'C-TWIN' } });
      assert.equal(created.status, 201, created.text);
    }
    const answer = await client.send('PATCH', '/crm/v1/sobjects/Account/ERP_Customer_Id__c/C-TWIN', { json: { Phone: '1' } });
    assertProblem(answer, 409, 'upstream.conflict');
  });

  it('an unknown token → 502 upstream.auth_failed, without the token', async () => {
    sf.resetCalls();
    const answer = await client.send('GET', `/crm-unknown/v1/sobjects/Account/${ACCOUNT_1}`);
    const problem = assertProblem(answer, 502, 'upstream.auth_failed');
    assert.equal(problem.detail, 'Salesforce refused the gateway credential.');
    assert.equal(headerOf(sf.calls[0]!.headers, 'authorization'), `Bearer ${SF_UNKNOWN_TOKEN}`);
    assert.ok(!answer.text.includes(SF_UNKNOWN_TOKEN));
    assert.doesNotMatch(answer.text, /INVALID_SESSION_ID|Session expired/);
  });

  it('an expired token → 502 upstream.auth_failed', async () => {
    const fresh = await client.send('GET', `/crm-minted/v1/sobjects/Account/${ACCOUNT_1}`);
    assert.equal(fresh.status, 200, fresh.text);
    sf.expireTokens();
    const expired = await client.send('GET', `/crm-minted/v1/sobjects/Account/${ACCOUNT_1}`);
    assertProblem(expired, 502, 'upstream.auth_failed');
  });

  it('past the API allocation (403 REQUEST_LIMIT_EXCEEDED) → 503 upstream.rate_limited with Retry-After', async () => {
    const first = await client.send('GET', `/crm-limited/v1/sobjects/Account/${ACCOUNT_1}`);
    assert.equal(first.status, 200, first.text);
    const limited = await client.send('GET', `/crm-limited/v1/sobjects/Account/${ACCOUNT_1}`);
    const problem = assertProblem(limited, 503, 'upstream.rate_limited');
    assert.equal(limited.headers.get('retry-after'), '120');
    assert.deepStrictEqual(problem.upstream, {
      system: 'salesforce',
      errors: [{ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'TotalRequests Limit exceeded.' }],
    });
    assert.deepStrictEqual(sfLimited.apiUsage(), { used: 1, max: 1 });
  });

  it('an empty secret counts as unset: the snapshot is rejected, naming the variable only', async () => {
    const hash = gw.gateway.currentHash();
    const before = gw.logLines().length;
    const next = buildSnapshot({
      apis: [...apis, upstreamApi('crm-new', 'salesforce', `${sf.url}${API_PATH}`, { accessToken: { env: 'SF_NEVER_SET' }, limitRetryAfterSeconds: 60 }, OPERATIONS)],
      generatedAt: '2026-11-03T00:00:00.000Z',
    });
    await gw.source.push(JSON.stringify(next));
    assert.equal(gw.gateway.currentHash(), hash);
    const rejected = gw.logLines().slice(before).filter((line) => line.includes('snapshot rejected'));
    assert.equal(rejected.length, 1);
    assert.match(rejected[0]!, /SF_NEVER_SET\\" is not set/);
    assertNoSecrets(rejected, secrets(), 'the rejection log line');
    const still = await client.send('GET', `/crm/v1/sobjects/Account/${ACCOUNT_1}`);
    assert.equal(still.status, 200);

    await assert.rejects(
      startTestGateway({ snapshot: buildSnapshot({ apis }), secrets: { SF_TOKEN, SF_UNKNOWN_TOKEN, SF_MINTED_TOKEN: '' } }),
      (error: Error) => {
        assert.match(error.message, /SF_MINTED_TOKEN\\" is not set/);
        assertNoSecrets([error.message], secrets(), 'the startup error');
        return true;
      },
    );
  });

  it('no planted secret in any answer, log line or access record', async () => {
    const answered = client.transcript().length / 2;
    await gw.waitForRecords(answered);
    const { answers, logs, access } = gatewayTexts(gw, client);
    assertNoSecrets(answers, secrets(), 'a gateway answer');
    assertNoSecrets(logs, secrets(), 'the gateway log');
    assertNoSecrets(access, secrets(), 'the access log');
  });
});
