/**
 * @module The generic `http` adapter through a real gateway in front of a recording upstream:
 * the configured header credential replaces whatever the caller sent, the caller's own
 * credentials are stripped, and answers (errors included) pass through untouched.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ApiSpec, OperationSpec } from '../../../contracts/index.js';
import { buildSnapshot, startTestGateway, type TestGateway } from '../../support/gateway-harness.js';
import { echo, startRecordingUpstream, type RecordingUpstream } from '../../support/upstream.js';
import { assertNoSecrets, assertProblem, CALLER_AUTHORIZATION, gatewayClient, gatewayTexts, upstreamApi } from './helpers.js';

const SVC_KEY = 'PLANTED-http-key-4c7d2';
const SVC_TOKEN = 'PLANTED-http-token-e19b8';
const SECRETS = [SVC_KEY, SVC_TOKEN, 'caller-secret', 'caller-key', 'caller-session', 'forged-key'];

const OPERATIONS: OperationSpec[] = [
  { id: 'orders.get', method: 'GET', path: '/orders/{id}' },
  { id: 'orders.create', method: 'POST', path: '/orders' },
];

describe('http adapter through the gateway', () => {
  let upstream: RecordingUpstream;
  let gw: TestGateway;
  let apis: ApiSpec[];
  const client = gatewayClient(() => gw);

  before(async () => {
    upstream = await startRecordingUpstream(0);
    apis = [
      upstreamApi('svc', 'http', `${upstream.url}/api`, { credentialHeader: 'X-Service-Key', credentialPrefix: 'Key ', credential: { env: 'SVC_KEY' } }, OPERATIONS),
      upstreamApi('svc-bearer', 'http', `${upstream.url}/api`, { credentialHeader: 'Authorization', credentialPrefix: 'Bearer ', credential: { env: 'SVC_TOKEN' } }, OPERATIONS),
      upstreamApi('svc-open', 'http', `${upstream.url}/api`, {}, OPERATIONS),
    ];
    gw = await startTestGateway({ snapshot: buildSnapshot({ apis }), secrets: { SVC_KEY, SVC_TOKEN } });
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  const lastSeen = () => upstream.seen.at(-1)!;

  it('sets the configured header to prefix + secret, overriding the caller\'s, and strips the caller\'s credentials', async () => {
    const answer = await client.send('GET', '/svc/v1/orders/42?expand=lines', {
      headers: { 'x-service-key': 'forged-key', 'x-api-key': 'caller-key', cookie: 'sid=caller-session', 'x-correlation': 'c-1' },
    });
    assert.equal(answer.status, 200, answer.text);
    const seen = lastSeen();
    assert.equal(seen.url, '/api/orders/42?expand=lines');
    assert.equal(seen.headers['x-service-key'], `Key ${SVC_KEY}`);
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers['x-api-key'], undefined);
    assert.equal(seen.headers.cookie, undefined);
    assert.equal(seen.headers['x-correlation'], 'c-1', 'other headers pass');
    assert.equal(seen.rawHeaders.filter((name) => name.toLowerCase() === 'x-service-key').length, 1);
  });

  it('an Authorization credential replaces the caller\'s Bearer token', async () => {
    const answer = await client.send('GET', '/svc-bearer/v1/orders/7');
    assert.equal(answer.status, 200, answer.text);
    assert.equal(lastSeen().headers.authorization, `Bearer ${SVC_TOKEN}`);
    assert.notEqual(lastSeen().headers.authorization, CALLER_AUTHORIZATION);
  });

  it('without a configured credential the caller\'s credentials are still stripped', async () => {
    const answer = await client.send('GET', '/svc-open/v1/orders/7', { headers: { 'x-api-key': 'caller-key' } });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(lastSeen().headers.authorization, undefined);
    assert.equal(lastSeen().headers['x-api-key'], undefined);
  });

  it('forwards the body unchanged and passes the answer through unchanged', async () => {
    const payload = '{"customer":"C-1001","lines":[{"sku":"FURN-0001","qty":2}]}';
    const answer = await client.send('POST', '/svc/v1/orders', { body: payload, headers: { 'content-type': 'application/json' } });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(lastSeen().body, payload);
    assert.deepStrictEqual(answer.json, { method: 'POST', url: '/api/orders', body: payload });
  });

  it('passes the upstream\'s own errors through untouched (status, type, body, headers)', async () => {
    const body = JSON.stringify({ error: 'order_not_found', message: 'No order 404-1' });
    upstream.behave((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-upstream-trace': 'u-9' });
      res.end(body);
    });
    try {
      const answer = await client.send('GET', '/svc/v1/orders/404-1');
      assert.equal(answer.status, 404);
      assert.equal(answer.headers.get('content-type'), 'application/json');
      assert.equal(answer.headers.get('x-upstream-trace'), 'u-9');
      assert.equal(answer.text, body);
      assert.match(answer.headers.get('x-request-id') ?? '', /^[0-9a-f]{16}$/);
    } finally {
      upstream.behave(echo);
    }
  });

  it('a secret reference that is not set rejects the snapshot, naming the variable only', async () => {
    const hash = gw.gateway.currentHash();
    const before = gw.logLines().length;
    const next = buildSnapshot({
      apis: [...apis, upstreamApi('svc-new', 'http', `${upstream.url}/api`, { credentialHeader: 'X-Service-Key', credential: { env: 'SVC_UNSET_KEY' } }, OPERATIONS)],
      generatedAt: '2026-11-05T00:00:00.000Z',
    });
    await gw.source.push(JSON.stringify(next));
    assert.equal(gw.gateway.currentHash(), hash);
    const rejected = gw.logLines().slice(before).filter((line) => line.includes('snapshot rejected'));
    assert.equal(rejected.length, 1);
    assert.match(rejected[0]!, /settings\.credential: secret \\"SVC_UNSET_KEY\\" is not set/);
    assertNoSecrets(rejected, SECRETS, 'the rejection log line');
    assertProblem(await client.send('GET', '/svc-new/v1/orders/1'), 404, 'route.not_found');
  });

  it('no planted secret in any answer, log line or access record', async () => {
    const answered = client.transcript().length / 2;
    await gw.waitForRecords(answered);
    const { answers, logs, access } = gatewayTexts(gw, client);
    assertNoSecrets(answers, SECRETS, 'a gateway answer');
    assertNoSecrets(logs, SECRETS, 'the gateway log');
    assertNoSecrets(access, SECRETS, 'the access log');
  });
});
