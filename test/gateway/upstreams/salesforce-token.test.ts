/**
 * @module The gateway mints its own Salesforce token against the simulator's token endpoint
 * (client credentials and JWT bearer), caches it, renews it once on 401 `INVALID_SESSION_ID`
 * and replays only idempotent calls; secrets never surface (upstreams.md §2.2, §6).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ApiSpec, OperationSpec } from '../../../contracts/index.js';
import { buildSnapshot, startTestGateway, type TestGateway } from '../../support/gateway-harness.js';
import { salesforceId, startSalesforceSimulator, type SalesforceSimulatorHandle } from '../../simulators/index.js';
import { assertNoSecrets, assertProblem, gatewayClient, gatewayTexts, headerOf, upstreamApi } from './helpers.js';

const CLIENT_SECRET = 'PLANTED-sf-consumer-secret-7a1d';
const ACCOUNT_1 = salesforceId('001', 1);
const API_PATH = '/services/data/v62.0';
const TOKEN_PATH = '/services/oauth2/token';

const OPERATIONS: OperationSpec[] = [
  { id: 'sobject.create', method: 'POST', path: '/sobjects/{type}' },
  { id: 'sobject.get', method: 'GET', path: '/sobjects/{type}/{id}' },
  { id: 'sobject.delete', method: 'DELETE', path: '/sobjects/{type}/{id}' },
];

describe('Salesforce token minting by the gateway', () => {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  let sf: SalesforceSimulatorHandle;
  let gw: TestGateway;
  const client = gatewayClient(() => gw);
  const minted = new Set<string>();

  const tokenCalls = (): number => sf.calls.filter((call) => call.path === TOKEN_PATH).length;
  const apiCalls = () => sf.calls.filter((call) => call.path.startsWith(API_PATH));
  const bearerOf = (index: number): string => headerOf(apiCalls()[index]!.headers, 'authorization')!.replace(/^Bearer /, '');

  before(async () => {
    sf = await startSalesforceSimulator({
      clients: [
        { clientId: 'gatehouse-cc', clientSecret: CLIENT_SECRET },
        { clientId: 'gatehouse-jwt', jwtPublicKeyPem: publicPem, username: 'integration@retail.example' },
      ],
    });
    // No renewal cooldown: these tests expire tokens moments after minting them.
    const api = (slug: string, oauth: Record<string, unknown>): ApiSpec =>
      upstreamApi(slug, 'salesforce', `${sf.url}${API_PATH}`, { oauth: { renewCooldownSeconds: 0, ...oauth }, limitRetryAfterSeconds: 60 }, OPERATIONS);
    gw = await startTestGateway({
      snapshot: buildSnapshot({
        apis: [
          api('crm', { grant: 'client_credentials', clientId: 'gatehouse-cc', clientSecret: { env: 'SF_CLIENT_SECRET' } }),
          api('crm-jwt', {
            grant: 'jwt_bearer',
            clientId: 'gatehouse-jwt',
            username: 'integration@retail.example',
            privateKey: { env: 'SF_PRIVATE_KEY' },
          }),
          api('crm-wrong', { grant: 'client_credentials', clientId: 'gatehouse-cc', clientSecret: { env: 'SF_WRONG_SECRET' } }),
          api('crm-down', { grant: 'client_credentials', clientId: 'gatehouse-cc', clientSecret: { env: 'SF_CLIENT_SECRET' }, tokenUrl: 'http://127.0.0.1:9/services/oauth2/token' }),
        ],
      }),
      secrets: { SF_CLIENT_SECRET: CLIENT_SECRET, SF_PRIVATE_KEY: privatePem, SF_WRONG_SECRET: 'PLANTED-wrong-secret-55c0' },
    });
  });

  after(async () => {
    await gw?.close();
    await sf?.close();
  });

  it('client credentials: one token minted for concurrent first calls, then reused', async () => {
    sf.resetCalls();
    const answers = await Promise.all(Array.from({ length: 8 }, () => client.send('GET', `/crm/v1/sobjects/Account/${ACCOUNT_1}`)));
    for (const answer of answers) assert.equal(answer.status, 200, answer.text);
    assert.equal(tokenCalls(), 1);
    const form = new URLSearchParams(sf.calls.find((call) => call.path === TOKEN_PATH)!.body);
    assert.equal(form.get('grant_type'), 'client_credentials');
    assert.equal(form.get('client_id'), 'gatehouse-cc');
    const tokens = new Set(apiCalls().map((_, i) => bearerOf(i)));
    assert.equal(tokens.size, 1);
    const [token] = tokens;
    assert.notEqual(token, 'caller-secret');
    minted.add(token!);
    const again = await client.send('GET', `/crm/v1/sobjects/Account/${ACCOUNT_1}`);
    assert.equal(again.status, 200);
    assert.equal(tokenCalls(), 1, 'the cached token is reused');
  });

  it('JWT bearer: an RS256 assertion for the pre-authorised user is exchanged for a token', async () => {
    sf.resetCalls();
    const answer = await client.send('GET', `/crm-jwt/v1/sobjects/Account/${ACCOUNT_1}`);
    assert.equal(answer.status, 200, answer.text);
    const form = new URLSearchParams(sf.calls.find((call) => call.path === TOKEN_PATH)!.body);
    assert.equal(form.get('grant_type'), 'urn:ietf:params:oauth:grant-type:jwt-bearer');
    const claims = JSON.parse(Buffer.from(form.get('assertion')!.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    assert.equal(claims.iss, 'gatehouse-jwt');
    assert.equal(claims.sub, 'integration@retail.example');
    assert.equal(claims.aud, 'https://login.salesforce.com');
    minted.add(bearerOf(0));
  });

  it('INVALID_SESSION_ID on a read: renewed once and replayed; the caller sees only the answer', async () => {
    sf.expireTokens();
    sf.resetCalls();
    const answer = await client.send('GET', `/crm/v1/sobjects/Account/${ACCOUNT_1}`);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(
      sf.calls.map((call) => `${call.method} ${call.path.startsWith(TOKEN_PATH) ? 'token' : 'api'}`),
      ['GET api', 'POST token', 'GET api'],
    );
    assert.notEqual(bearerOf(0), bearerOf(1));
    minted.add(bearerOf(1));
  });

  it('INVALID_SESSION_ID on a create: not replayed (502), the token is renewed and the retry creates exactly one record', async () => {
    sf.expireTokens();
    sf.resetCalls();
    const before = sf.records('Account').length;
    const refused = await client.send('POST', '/crm/v1/sobjects/Account', { json: { Name: 'Replay Test Ltd' } });
    assertProblem(refused, 502, 'upstream.auth_failed');
    assert.equal(apiCalls().length, 1, 'the create went upstream once');
    assert.equal(tokenCalls(), 1, 'the token was renewed anyway');
    const retried = await client.send('POST', '/crm/v1/sobjects/Account', { json: { Name: 'Replay Test Ltd' } });
    assert.equal(retried.status, 201, retried.text);
    assert.equal(tokenCalls(), 1);
    assert.equal(sf.records('Account').length, before + 1);
    minted.add(bearerOf(1));
  });

  it('a delete is idempotent: replayed after renewal', async () => {
    const created = await client.send('POST', '/crm/v1/sobjects/Account', { json: { Name: 'To Delete' } });
    assert.equal(created.status, 201, created.text);
    const id = (created.json as { id: string }).id;
    sf.expireTokens();
    sf.resetCalls();
    const deleted = await client.send('DELETE', `/crm/v1/sobjects/Account/${id}`);
    assert.equal(deleted.status, 204, deleted.text);
    assert.equal(apiCalls().length, 2);
    minted.add(bearerOf(1));
  });

  it('renewal happens once per request, and not at all within the cooldown of a fresh mint', async () => {
    // Every token this simulator mints is dead on arrival.
    const dead = await startSalesforceSimulator({ clients: [{ clientId: 'gatehouse-cc', clientSecret: CLIENT_SECRET }], tokenTtlMs: -1 });
    const deadApi = (slug: string, cooldown: number | undefined): ApiSpec =>
      upstreamApi(
        slug,
        'salesforce',
        `${dead.url}${API_PATH}`,
        { oauth: { grant: 'client_credentials', clientId: 'gatehouse-cc', clientSecret: { env: 'S' }, ...(cooldown === undefined ? {} : { renewCooldownSeconds: cooldown }) }, limitRetryAfterSeconds: 60 },
        OPERATIONS,
      );
    const other = await startTestGateway({ snapshot: buildSnapshot({ apis: [deadApi('nocool', 0), deadApi('default', undefined)] }), secrets: { S: CLIENT_SECRET } });
    const sequence = (): string[] => dead.calls.map((call) => `${call.method} ${call.path.startsWith(TOKEN_PATH) ? 'token' : 'api'}`);
    try {
      const once = await fetch(`${other.url}/nocool/v1/sobjects/Account/${ACCOUNT_1}`);
      assert.equal(once.status, 502);
      // Mint, refused, renew, replay refused, renew for the next caller: no loop.
      assert.deepEqual(sequence(), ['POST token', 'GET api', 'POST token', 'GET api', 'POST token']);
      dead.resetCalls();
      const cooled = await fetch(`${other.url}/default/v1/sobjects/Account/${ACCOUNT_1}`);
      assert.equal(cooled.status, 502);
      assert.deepEqual(sequence(), ['POST token', 'GET api'], 'no second mint within the cooldown, and no pointless replay');
      assert.ok(other.logLines().some((line) => line.includes('not renewing during the cooldown')));
    } finally {
      await other.close();
      await dead.close();
    }
  });

  it('a refused client secret → 502 upstream.auth_failed; no API call is made', async () => {
    sf.resetCalls();
    const answer = await client.send('GET', `/crm-wrong/v1/sobjects/Account/${ACCOUNT_1}`);
    const problem = assertProblem(answer, 502, 'upstream.auth_failed');
    assert.equal(problem.detail, 'Salesforce refused the gateway credential.');
    assert.equal(apiCalls().length, 0);
    assert.ok(gw.logLines().some((line) => line.includes('salesforce token refused') && line.includes('invalid_client')));
  });

  it('an unreachable token endpoint → 502 upstream.unavailable', async () => {
    const answer = await client.send('GET', `/crm-down/v1/sobjects/Account/${ACCOUNT_1}`);
    assertProblem(answer, 502, 'upstream.unavailable');
  });

  it('a private key that is not PEM rejects the snapshot, naming only the variable', async () => {
    await assert.rejects(
      startTestGateway({
        snapshot: buildSnapshot({
          apis: [upstreamApi('crm', 'salesforce', `${sf.url}${API_PATH}`, { oauth: { grant: 'jwt_bearer', clientId: 'x', username: 'u', privateKey: { env: 'K' } }, limitRetryAfterSeconds: 60 }, OPERATIONS)],
        }),
        secrets: { K: 'PLANTED-not-a-key-4411' },
      }),
      (error: Error) => {
        assert.match(error.message, /apis\[crm\]\.versions\[1\.0\.0\]\.upstream\.settings.oauth.privateKey: secret \\"K\\" is not a PEM private key/);
        assert.ok(!error.message.includes('PLANTED-not-a-key-4411'));
        return true;
      },
    );
  });

  it('no consumer secret, private key or minted token in any answer, log line or access record', async () => {
    const answered = client.transcript().length / 2;
    await gw.waitForRecords(answered);
    const { answers, logs, access } = gatewayTexts(gw, client);
    const secrets = [CLIENT_SECRET, 'PLANTED-wrong-secret-55c0', privatePem.split('\n')[1]!, ...minted];
    assert.ok(minted.size >= 4);
    assertNoSecrets(answers, secrets, 'the answers');
    assertNoSecrets(logs, secrets, 'the log');
    assertNoSecrets(access, secrets, 'the access records');
  });
});
