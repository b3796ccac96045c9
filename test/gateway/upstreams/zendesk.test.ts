/**
 * @module The Zendesk adapter through a real gateway in front of the Zendesk simulator:
 * `email/token` Basic credential injection, pass-through of successes, 429 → 503 with the
 * upstream's Retry-After, RecordInvalid/RecordNotFound/401 mapped to problems, and planted
 * secrets that never surface (upstreams.md §3.1, §6).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ApiSpec, OperationSpec } from '../../../contracts/index.js';
import { buildSnapshot, startTestGateway, type TestGateway } from '../../support/gateway-harness.js';
import { startZendeskSimulator, type ZendeskSimulatorHandle } from '../../simulators/index.js';
import { assertNoSecrets, assertProblem, gatewayClient, gatewayTexts, headerOf, upstreamApi } from './helpers.js';

const EMAIL = 'bot@shop.example';
const ZD_TOKEN = 'PLANTED-zd-token-3e8b1';
const ZD_WRONG_TOKEN = 'PLANTED-zd-wrong-token-a6f0';
const basic = (token: string): string => `Basic ${Buffer.from(`${EMAIL}/token:${token}`).toString('base64')}`;
/** 15 s into a minute: the simulator's per-minute window reopens in 45 s. */
const FROZEN_NOW = new Date('2026-11-26T10:00:15.000Z');

const OPERATIONS: OperationSpec[] = [
  { id: 'tickets.list', method: 'GET', path: '/tickets.json' },
  { id: 'tickets.create', method: 'POST', path: '/tickets.json' },
  { id: 'tickets.show', method: 'GET', path: '/tickets/{id}' },
  { id: 'tickets.update', method: 'PUT', path: '/tickets/{id}' },
];

describe('Zendesk adapter through the gateway', () => {
  let zd: ZendeskSimulatorHandle;
  let zdLimited: ZendeskSimulatorHandle;
  let gw: TestGateway;
  let apis: ApiSpec[];
  const client = gatewayClient(() => gw);
  const SECRETS = [
    ZD_TOKEN,
    ZD_WRONG_TOKEN,
    // The injected header value itself, and the caller's credentials.
    Buffer.from(`${EMAIL}/token:${ZD_TOKEN}`).toString('base64'),
    'caller-secret',
    'caller-key',
  ];

  before(async () => {
    zd = await startZendeskSimulator({ email: EMAIL, apiToken: ZD_TOKEN });
    zdLimited = await startZendeskSimulator({ email: EMAIL, apiToken: ZD_TOKEN, rateLimitPerMinute: 1, now: () => FROZEN_NOW });
    const api = (slug: string, base: string, env: string): ApiSpec =>
      upstreamApi(slug, 'zendesk', `${base}/api/v2`, { email: EMAIL, apiToken: { env } }, OPERATIONS);
    apis = [api('desk', zd.url, 'ZD_TOKEN'), api('desk-badtoken', zd.url, 'ZD_WRONG_TOKEN'), api('desk-limited', zdLimited.url, 'ZD_TOKEN')];
    gw = await startTestGateway({ snapshot: buildSnapshot({ apis }), secrets: { ZD_TOKEN, ZD_WRONG_TOKEN } });
  });

  after(async () => {
    await gw?.close();
    await zd?.close();
    await zdLimited?.close();
  });

  it('injects Basic base64(email/token:apiToken) and strips the caller\'s credentials', async () => {
    zd.resetCalls();
    const answer = await client.send('GET', '/desk/v1/tickets/1001.json', { headers: { 'x-api-key': 'caller-key', cookie: '_zendesk_session=caller-secret' } });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(zd.calls.length, 1);
    const call = zd.calls[0]!;
    assert.equal(call.path, '/api/v2/tickets/1001.json');
    assert.equal(headerOf(call.headers, 'authorization'), basic(ZD_TOKEN));
    assert.equal(call.headers['x-api-key'], undefined);
    assert.equal(call.headers.cookie, undefined);
  });

  it('passes a ticket through unchanged', async () => {
    const answer = await client.send('GET', '/desk/v1/tickets/1002.json');
    const expected = await fetch(`${zd.url}/api/v2/tickets/1002.json`, { headers: { authorization: basic(ZD_TOKEN) } });
    assert.equal(answer.status, 200);
    assert.equal(answer.text, await expected.text());
    assert.equal(answer.headers.get('content-type'), expected.headers.get('content-type'));
    assert.equal(answer.headers.get('x-rate-limit'), '700');
  });

  it('passes create (201 + Location) and update (200) through', async () => {
    const created = await client.send('POST', '/desk/v1/tickets.json', {
      json: { ticket: { subject: 'Lamp arrived dented', comment: { body: 'The brass lamp from S00007 is dented.' }, priority: 'high', requester: { email: 'priya.shah@mail.example' } } },
    });
    assert.equal(created.status, 201, created.text);
    const ticket = (created.json as { ticket: { id: number; subject: string; priority: string; status: string } }).ticket;
    assert.deepStrictEqual([ticket.id, ticket.subject, ticket.priority, ticket.status], [1006, 'Lamp arrived dented', 'high', 'new']);
    // The upstream's absolute Location is mapped onto the gateway path.
    assert.equal(created.headers.get('location'), '/desk/v1/tickets/1006.json');

    const updated = await client.send('PUT', '/desk/v1/tickets/1006.json', { json: { ticket: { status: 'open' } } });
    assert.equal(updated.status, 200, updated.text);
    assert.equal((updated.json as { ticket: { status: string } }).ticket.status, 'open');
    assert.equal(zd.tickets().find((t) => t.id === 1006)?.status, 'open');
  });

  it('422 RecordInvalid (update of closed ticket 1004) → 422 upstream.validation_failed with the details', async () => {
    const answer = await client.send('PUT', '/desk/v1/tickets/1004.json', { json: { ticket: { status: 'open' } } });
    const problem = assertProblem(answer, 422, 'upstream.validation_failed');
    assert.equal(problem.detail, 'Record validation errors');
    assert.deepStrictEqual(problem.upstream, {
      system: 'zendesk',
      error: 'RecordInvalid',
      details: { status: [{ description: 'Status: closed prevents ticket update', error: 'ClosedPrevents' }] },
    });
    assert.equal(zd.tickets().find((t) => t.id === 1004)?.status, 'closed');
  });

  it('404 RecordNotFound → 404 upstream.not_found', async () => {
    const answer = await client.send('GET', '/desk/v1/tickets/99999.json');
    const problem = assertProblem(answer, 404, 'upstream.not_found');
    assert.deepStrictEqual(problem.upstream, { system: 'zendesk', error: 'RecordNotFound' });
  });

  it('401 (the gateway holds a wrong token) → 502 upstream.auth_failed', async () => {
    zd.resetCalls();
    const answer = await client.send('GET', '/desk-badtoken/v1/tickets/1001.json');
    const problem = assertProblem(answer, 502, 'upstream.auth_failed');
    assert.equal(problem.detail, 'Zendesk refused the gateway credential.');
    assert.equal(headerOf(zd.calls[0]!.headers, 'authorization'), basic(ZD_WRONG_TOKEN));
    assert.ok(!answer.text.includes(ZD_WRONG_TOKEN));
    assert.doesNotMatch(answer.text, /authenticate you/);
  });

  it('429 → 503 upstream.rate_limited carrying the upstream\'s Retry-After', async () => {
    const first = await client.send('GET', '/desk-limited/v1/tickets/1001.json');
    assert.equal(first.status, 200, first.text);
    const limited = await client.send('GET', '/desk-limited/v1/tickets/1001.json');
    const problem = assertProblem(limited, 503, 'upstream.rate_limited');
    assert.equal(limited.headers.get('retry-after'), '45');
    assert.deepStrictEqual(problem.upstream, { system: 'zendesk' });
    assert.doesNotMatch(limited.text, /Number of allowed API requests/);
  });

  it('a secret reference that is not set rejects the snapshot, naming the variable only', async () => {
    const hash = gw.gateway.currentHash();
    const before = gw.logLines().length;
    const next = buildSnapshot({
      apis: [...apis, upstreamApi('desk-new', 'zendesk', `${zd.url}/api/v2`, { email: EMAIL, apiToken: { env: 'ZD_UNSET_TOKEN' } }, OPERATIONS)],
      generatedAt: '2026-11-04T00:00:00.000Z',
    });
    await gw.source.push(JSON.stringify(next));
    assert.equal(gw.gateway.currentHash(), hash);
    const rejected = gw.logLines().slice(before).filter((line) => line.includes('snapshot rejected'));
    assert.equal(rejected.length, 1);
    assert.match(rejected[0]!, /apis\[desk-new\]\.versions\[1\.0\.0\]\.upstream\.settings\.apiToken: secret \\"ZD_UNSET_TOKEN\\" is not set/);
    assertNoSecrets(rejected, SECRETS, 'the rejection log line');
    assertProblem(await client.send('GET', '/desk-new/v1/tickets/1001.json'), 404, 'route.not_found');
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
