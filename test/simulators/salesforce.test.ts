/** @module Wire-level tests of the Salesforce simulator: OAuth flows, session expiry, sObject CRUD, SOQL, composite and API limits. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { salesforceId, startSalesforceSimulator, toCaseSafeId } from './salesforce.js';
import type { SalesforceSimulatorHandle } from './salesforce.js';

type SfErrors = Array<{ message: string; errorCode: string; fields?: string[] }>;

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString();

function jwt(claims: Record<string, unknown>, key = privateKey): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc({ alg: 'RS256' })}.${enc(claims)}`;
  return `${input}.${sign('RSA-SHA256', Buffer.from(input), key).toString('base64url')}`;
}

describe('Salesforce simulator', () => {
  let clock = Date.parse('2025-04-01T10:00:00Z');
  let sf: SalesforceSimulatorHandle;
  let token: string;
  const V = '/services/data/v62.0';

  const tokenRequest = async (form: Record<string, string>) => {
    const res = await fetch(`${sf.url}/services/oauth2/token`, { method: 'POST', body: new URLSearchParams(form) });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };
  const api = async (method: string, path: string, body?: unknown, bearer = token) => {
    const res = await fetch(`${sf.url}${V}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text === '' ? undefined : JSON.parse(text)) as any };
  };
  const soql = (q: string) => api('GET', `/query?q=${encodeURIComponent(q)}`);

  before(async () => {
    sf = await startSalesforceSimulator({
      clients: [
        { clientId: 'gatehouse-cc', clientSecret: 'cc-secret' },
        { clientId: 'gatehouse-jwt', jwtPublicKeyPem: PEM, username: 'integration@retail.example' },
      ],
      tokenTtlMs: 60_000,
      staticTokens: ['static-token-1'],
      now: () => new Date(clock),
    });
    token = (await tokenRequest({ grant_type: 'client_credentials', client_id: 'gatehouse-cc', client_secret: 'cc-secret' })).body.access_token!;
  });
  after(() => sf.close());

  describe('OAuth token endpoint', () => {
    it('client_credentials returns the documented shape with instance_url = simulator url', async () => {
      const { status, body } = await tokenRequest({ grant_type: 'client_credentials', client_id: 'gatehouse-cc', client_secret: 'cc-secret' });
      assert.equal(status, 200);
      assert.deepEqual(Object.keys(body), ['access_token', 'signature', 'token_format', 'scope', 'instance_url', 'id', 'token_type', 'issued_at']);
      assert.equal(body.instance_url, sf.url);
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.token_format, 'opaque');
      assert.equal(body.issued_at, String(clock));
      assert.match(body.id!, /^https:\/\/login\.salesforce\.com\/id\/00D\w{15}\/005\w{15}$/);
      assert.ok(!('expires_in' in body));
    });

    it('client_credentials errors: invalid_client_id, invalid_client, unsupported_grant_type', async () => {
      const unknown = await tokenRequest({ grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'x' });
      assert.deepEqual([unknown.status, unknown.body.error], [400, 'invalid_client_id']);
      const wrong = await tokenRequest({ grant_type: 'client_credentials', client_id: 'gatehouse-cc', client_secret: 'wrong' });
      assert.deepEqual([wrong.status, wrong.body], [400, { error: 'invalid_client', error_description: 'invalid client credentials' }]);
      const grant = await tokenRequest({ grant_type: 'password', username: 'u', password: 'p' });
      assert.deepEqual([grant.status, grant.body.error], [400, 'unsupported_grant_type']);
    });

    it('jwt-bearer verifies RS256 against the client PEM and checks iss, aud, exp and sub', async () => {
      const exp = Math.floor(clock / 1000) + 120;
      const claims = { iss: 'gatehouse-jwt', sub: 'integration@retail.example', aud: 'https://login.salesforce.com', exp };
      const grant_type = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
      const ok = await tokenRequest({ grant_type, assertion: jwt(claims) });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.instance_url, sf.url);
      assert.ok(ok.body.access_token);
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      const badSig = await tokenRequest({ grant_type, assertion: jwt(claims, other) });
      assert.deepEqual(badSig.body, { error: 'invalid_grant', error_description: 'invalid assertion' });
      const badAud = await tokenRequest({ grant_type, assertion: jwt({ ...claims, aud: 'https://evil.example' }) });
      assert.equal(badAud.body.error, 'invalid_grant');
      const expired = await tokenRequest({ grant_type, assertion: jwt({ ...claims, exp: exp - 600 }) });
      assert.equal(expired.body.error, 'invalid_grant');
      const tooLong = await tokenRequest({ grant_type, assertion: jwt({ ...claims, exp: exp + 3600 }) });
      assert.equal(tooLong.body.error, 'invalid_grant');
      const badSub = await tokenRequest({ grant_type, assertion: jwt({ ...claims, sub: 'someone@else' }) });
      assert.equal(badSub.body.error_description, "user hasn't approved this consumer");
      const badIss = await tokenRequest({ grant_type, assertion: jwt({ ...claims, iss: 'unknown' }) });
      assert.equal(badIss.body.error, 'invalid_client_id');
    });

    it('expired or unknown tokens get 401 INVALID_SESSION_ID; static tokens stay valid', async () => {
      const fresh = (await tokenRequest({ grant_type: 'client_credentials', client_id: 'gatehouse-cc', client_secret: 'cc-secret' })).body.access_token!;
      assert.equal((await api('GET', '/limits', undefined, fresh)).status, 200);
      clock += 61_000;
      const expired = await api('GET', '/limits', undefined, fresh);
      assert.equal(expired.status, 401);
      assert.deepEqual(expired.body, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
      assert.match(expired.headers.get('sforce-limit-info') ?? '', /^api-usage=\d+\/15000$/);
      assert.equal((await api('GET', '/limits', undefined, 'garbage')).status, 401);
      assert.equal((await api('GET', '/limits', undefined, 'static-token-1')).status, 200);
      token = (await tokenRequest({ grant_type: 'client_credentials', client_id: 'gatehouse-cc', client_secret: 'cc-secret' })).body.access_token!;
      sf.expireTokens();
      assert.equal((await api('GET', '/limits')).status, 401);
      token = (await tokenRequest({ grant_type: 'client_credentials', client_id: 'gatehouse-cc', client_secret: 'cc-secret' })).body.access_token!;
    });
  });

  describe('REST', () => {
    it('lists versions without auth and without counting', async () => {
      const before = sf.apiUsage().used;
      const res = await fetch(`${sf.url}/services/data/`);
      const versions = (await res.json()) as Array<{ version: string; url: string; label: string }>;
      assert.deepEqual(versions.at(-1), { label: "Winter '25", url: '/services/data/v62.0', version: '62.0' });
      assert.equal(res.headers.get('sforce-limit-info'), null);
      assert.equal(sf.apiUsage().used, before);
    });

    it('every versioned response carries Sforce-Limit-Info counting up', async () => {
      const a = await api('GET', '/limits');
      const b = await api('GET', '/limits');
      const used = (h: Headers) => Number(/api-usage=(\d+)\//.exec(h.get('sforce-limit-info') ?? '')![1]);
      assert.equal(used(b.headers), used(a.headers) + 1);
      assert.equal(b.body.DailyApiRequests.Max, 15000);
      assert.equal(b.body.DailyApiRequests.Remaining, 15000 - used(b.headers));
    });

    it('sObject CRUD: 201 + Location, GET with attributes and ?fields, PATCH 204, DELETE 204, then 404', async () => {
      const created = await api('POST', '/sobjects/Account/', { Name: 'Express Logistics', ERP_Customer_Id__c: 'C-2001' });
      assert.equal(created.status, 201);
      assert.equal(created.body.success, true);
      assert.deepEqual(created.body.errors, []);
      assert.match(created.body.id, /^001\w{15}$/);
      assert.equal(created.headers.get('location'), `${V}/sobjects/Account/${created.body.id}`);
      const got = await api('GET', `/sobjects/Account/${created.body.id}?fields=Name,ERP_Customer_Id__c`);
      assert.deepEqual(got.body, {
        attributes: { type: 'Account', url: `${V}/sobjects/Account/${created.body.id}` },
        Id: created.body.id,
        Name: 'Express Logistics',
        ERP_Customer_Id__c: 'C-2001',
      });
      const full = await api('GET', `/sobjects/Account/${created.body.id.slice(0, 15)}`);
      assert.equal(full.body.Phone, null, 'unset fields are null; 15-char ids resolve');
      const patched = await api('PATCH', `/sobjects/Account/${created.body.id}`, { Phone: '+1 555 0100' });
      assert.deepEqual([patched.status, patched.body], [204, undefined]);
      assert.equal((await api('GET', `/sobjects/Account/${created.body.id}?fields=Phone`)).body.Phone, '+1 555 0100');
      assert.equal((await api('DELETE', `/sobjects/Account/${created.body.id}`)).status, 204);
      const gone = await api('GET', `/sobjects/Account/${created.body.id}`);
      assert.equal(gone.status, 404);
      assert.equal((gone.body as SfErrors)[0]!.errorCode, 'ENTITY_IS_DELETED');
      const never = await api('GET', `/sobjects/Account/${salesforceId('001', 9999)}`);
      assert.deepEqual([never.status, never.body], [404, [{ message: 'The requested resource does not exist', errorCode: 'NOT_FOUND' }]]);
    });

    it('400 REQUIRED_FIELD_MISSING with fields, INVALID_FIELD for unknown fields and for Id in the body', async () => {
      const missing = await api('POST', '/sobjects/Order/', { Status: 'Draft' });
      assert.equal(missing.status, 400);
      assert.deepEqual(missing.body, [{ message: 'Required fields are missing: [AccountId, EffectiveDate]', errorCode: 'REQUIRED_FIELD_MISSING', fields: ['AccountId', 'EffectiveDate'] }]);
      const contact = await api('POST', '/sobjects/Contact/', { FirstName: 'No' });
      assert.deepEqual((contact.body as SfErrors)[0]!.fields, ['LastName']);
      const unknown = await api('POST', '/sobjects/Case/', { Subject: 'x', Mood: 'angry' });
      assert.deepEqual([unknown.status, (unknown.body as SfErrors)[0]!.errorCode], [400, 'INVALID_FIELD']);
      const withId = await api('POST', '/sobjects/Account/', { Id: salesforceId('001', 1), Name: 'x' });
      assert.equal((withId.body as SfErrors)[0]!.message, 'The Id field should not be specified in the sobject data.');
      const picklist = await api('POST', '/sobjects/Order/', { AccountId: salesforceId('001', 1), EffectiveDate: '2025-04-01', Status: 'Shipped' });
      assert.equal((picklist.body as SfErrors)[0]!.errorCode, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST');
      const readOnly = await api('PATCH', `/sobjects/Order/${salesforceId('801', 1)}`, { OrderNumber: '1' });
      assert.equal((readOnly.body as SfErrors)[0]!.errorCode, 'INVALID_FIELD_FOR_INSERT_UPDATE');
    });

    it('ids are 18 characters with a valid case-safe checksum and key prefixes per type', () => {
      assert.equal(toCaseSafeId('001D000000IqhSL'), '001D000000IqhSLIAZ', 'checksum from the Salesforce docs example');
      assert.match(salesforceId('003', 1), /^003\w{15}$/);
      assert.deepEqual(sf.records('Order').map((o) => o.Id.slice(0, 3)), ['801', '801', '801', '801', '801']);
      assert.ok(sf.records('Case').every((c) => c.Id.startsWith('500')));
    });

    it('external-id upsert: 201 created:true, then 200 created:false', async () => {
      const first = await api('PATCH', '/sobjects/Account/ERP_Customer_Id__c/C-3001', { Name: 'Upsert Co' });
      assert.deepEqual([first.status, first.body.created], [201, true]);
      const second = await api('PATCH', '/sobjects/Account/ERP_Customer_Id__c/C-3001', { Phone: '1' });
      assert.deepEqual([second.status, second.body.created, second.body.id], [200, false, first.body.id]);
    });

    it('SOQL: WHERE =, !=, IN, LIKE with AND, relationship fields, ORDER BY, LIMIT', async () => {
      const res = await soql("SELECT Id, Name, ERP_Customer_Id__c FROM Account WHERE ERP_Customer_Id__c IN ('C-1001','C-1003') AND Name != 'x' ORDER BY Name DESC LIMIT 5");
      assert.equal(res.status, 200);
      assert.equal(res.body.totalSize, 2);
      assert.equal(res.body.done, true);
      assert.deepEqual(res.body.records.map((r: { Name: string }) => r.Name), ['Northwind Cycles', 'Harbor Outfitters']);
      assert.deepEqual(res.body.records[1].attributes, { type: 'Account', url: `${V}/sobjects/Account/${salesforceId('001', 1)}` });
      const orders = await soql("SELECT OrderReferenceNumber, Status, Account.ERP_Customer_Id__c FROM Order WHERE Account.Name LIKE 'harbor%' ORDER BY OrderReferenceNumber");
      assert.deepEqual(orders.body.records.map((r: any) => [r.OrderReferenceNumber, r.Status, r.Account.ERP_Customer_Id__c]), [
        ['S00001', 'Activated', 'C-1001'],
        ['S00005', 'Draft', 'C-1001'],
      ]);
      const count = await soql("SELECT COUNT() FROM Case WHERE Status = 'Closed'");
      assert.deepEqual([count.body.totalSize, count.body.records], [1, []]);
    });

    it('SOQL errors: MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE', async () => {
      const malformed = await soql('SELECT FROM Account');
      assert.deepEqual([malformed.status, (malformed.body as SfErrors)[0]!.errorCode], [400, 'MALFORMED_QUERY']);
      const mixed = await soql("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'");
      assert.equal((mixed.body as SfErrors)[0]!.errorCode, 'MALFORMED_QUERY');
      const field = await soql('SELECT Shoe__c FROM Account');
      assert.equal((field.body as SfErrors)[0]!.errorCode, 'INVALID_FIELD');
      const type = await soql('SELECT Id FROM Spaceship__c');
      assert.equal((type.body as SfErrors)[0]!.errorCode, 'INVALID_TYPE');
    });

    it('composite substitutes @{ref.id} and answers HTTP 200', async () => {
      const res = await api('POST', '/composite', {
        allOrNone: true,
        compositeRequest: [
          { method: 'POST', url: `${V}/sobjects/Account`, referenceId: 'acc', body: { Name: 'Composite Co' } },
          { method: 'POST', url: `${V}/sobjects/Contact`, referenceId: 'con', body: { LastName: 'Y', AccountId: '@{acc.id}' } },
          { method: 'GET', url: `${V}/sobjects/Contact/@{con.id}?fields=AccountId`, referenceId: 'get' },
        ],
      });
      assert.equal(res.status, 200);
      const [acc, con, get] = res.body.compositeResponse;
      assert.deepEqual([acc.httpStatusCode, con.httpStatusCode, get.httpStatusCode], [201, 201, 200]);
      assert.equal(acc.httpHeaders.Location, `${V}/sobjects/Account/${acc.body.id}`);
      assert.equal(get.body.AccountId, acc.body.id);
      assert.equal(get.referenceId, 'get');
    });

    it('composite allOrNone rolls back and marks the others PROCESSING_HALTED (still HTTP 200)', async () => {
      const before = sf.records('Account').length;
      const res = await api('POST', '/composite', {
        allOrNone: true,
        compositeRequest: [
          { method: 'POST', url: `${V}/sobjects/Account`, referenceId: 'acc', body: { Name: 'Rolled Back Co' } },
          { method: 'POST', url: `${V}/sobjects/Contact`, referenceId: 'con', body: { AccountId: '@{acc.id}' } },
          { method: 'POST', url: `${V}/sobjects/Case`, referenceId: 'case', body: { Subject: 'never' } },
        ],
      });
      assert.equal(res.status, 200);
      const [acc, con, kase] = res.body.compositeResponse;
      const halted = [{ errorCode: 'PROCESSING_HALTED', message: 'The transaction was rolled back since another operation in the same transaction failed.' }];
      assert.deepEqual([acc.httpStatusCode, acc.body], [400, halted]);
      assert.equal(con.body[0].errorCode, 'REQUIRED_FIELD_MISSING');
      assert.deepEqual([kase.httpStatusCode, kase.body], [400, halted]);
      assert.equal(sf.records('Account').length, before, 'the account insert was rolled back');
    });

    it('composite without allOrNone keeps successes and halts only dependants', async () => {
      const res = await api('POST', '/composite', {
        compositeRequest: [
          { method: 'POST', url: `${V}/sobjects/Account`, referenceId: 'bad', body: {} },
          { method: 'POST', url: `${V}/sobjects/Contact`, referenceId: 'dep', body: { LastName: 'Z', AccountId: '@{bad.id}' } },
          { method: 'POST', url: `${V}/sobjects/Case`, referenceId: 'ok', body: { Subject: 'kept' } },
        ],
      });
      const [bad, dep, ok] = res.body.compositeResponse;
      assert.equal(bad.body[0].errorCode, 'REQUIRED_FIELD_MISSING');
      assert.equal(dep.body[0].errorCode, 'PROCESSING_HALTED');
      assert.equal(ok.httpStatusCode, 201);
    });
  });

  it('pages query results through nextRecordsUrl when a batch is full', async () => {
    const paged = await startSalesforceSimulator({ clients: [], staticTokens: ['t'], queryBatchSize: 2 });
    try {
      const get = async (path: string) => (await fetch(`${paged.url}${path}`, { headers: { authorization: 'Bearer t' } })).json() as Promise<Record<string, any>>;
      const first = await get(`${V}/query?q=${encodeURIComponent('SELECT Name FROM Account ORDER BY Name')}`);
      assert.deepEqual([first.totalSize, first.done, first.records.length], [5, false, 2]);
      assert.match(first.nextRecordsUrl, /^\/services\/data\/v62\.0\/query\/01g\w+-2$/);
      const second = await get(first.nextRecordsUrl);
      const third = await get(second.nextRecordsUrl);
      assert.equal(third.done, true);
      assert.equal(third.nextRecordsUrl, undefined);
      const names = [...first.records, ...second.records, ...third.records].map((r: { Name: string }) => r.Name);
      assert.deepEqual(names, ['Bluebird Boutique', 'Harbor Outfitters', 'Lumen Home Goods', 'Northwind Cycles', 'Priya Shah']);
    } finally {
      await paged.close();
    }
  });

  it('403 REQUEST_LIMIT_EXCEEDED once the daily allocation is used', async () => {
    const limited = await startSalesforceSimulator({ clients: [], staticTokens: ['t'], apiLimit: 3 });
    try {
      const call = () => fetch(`${limited.url}${V}/limits`, { headers: { authorization: 'Bearer t' } });
      for (let i = 1; i <= 3; i += 1) {
        const res = await call();
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('sforce-limit-info'), `api-usage=${i}/3`);
      }
      const over = await call();
      assert.equal(over.status, 403);
      assert.deepEqual(await over.json(), [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
      assert.equal(over.headers.get('sforce-limit-info'), 'api-usage=3/3');
      assert.equal(over.headers.get('retry-after'), null, 'Salesforce sends no Retry-After');
    } finally {
      await limited.close();
    }
  });
});
