/**
 * `contract-validation` through a real gateway in front of a recording upstream, over the
 * retail orders contract written in OpenAPI 3.0 and in 3.1 (test/policies/contracts/): valid
 * requests pass; nullable / type-array nulls, oneOf, formats, arrays of objects, required
 * headers, query and path parameters, wrong body types and media types are refused with
 * pointers into the request and zero upstream calls; `detect` lets them through, logged and
 * counted; sampled answers that drift from the contract are counted and relayed unchanged; a
 * contract with a ReDoS-prone pattern, an unrouted operation or a remote `$ref` never compiles.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ApiSpec, OperationSpec, PolicyBinding } from '../../contracts/index.js';
import { convertSchema, type ConvertContext } from '../../policies/contract-validation/convert.js';
import { buildSnapshot, httpApi, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { echo, startRecordingUpstream, type RecordingUpstream } from '../support/upstream.js';

type Json = Record<string, unknown>;

const contracts = {
  '3.0': JSON.parse(readFileSync(new URL('./contracts/orders-3.0.json', import.meta.url), 'utf8')) as Json,
  '3.1': JSON.parse(readFileSync(new URL('./contracts/orders-3.1.json', import.meta.url), 'utf8')) as Json,
};

const OPERATIONS: OperationSpec[] = [
  { id: 'listOrders', method: 'GET', path: '/orders' },
  { id: 'createOrder', method: 'POST', path: '/orders' },
  { id: 'getOrder', method: 'GET', path: '/orders/{orderId}' },
  { id: 'updateOrder', method: 'PATCH', path: '/orders/{orderId}' },
  { id: 'health', method: 'GET', path: '/health' },
];

const STORE = { 'x-store-id': 'DE-042' };
const ORDER_ID = '9b2f6c1e-4d3a-4f7b-8e21-0c5d9a7b3e14';

function validOrder(): Json {
  return {
    externalId: 'c56a4180-65aa-42ec-a945-5fd21dec0538',
    customerEmail: 'ana.lopez@example.com',
    requestedDelivery: '2026-12-01T09:00:00Z',
    lines: [
      { sku: 'SHOE-42', quantity: 1, unitPrice: 89.9 },
      { sku: 'SOCK-3P', quantity: 2, unitPrice: 9.5, note: 'gift wrap' },
      { sku: 'LACES', quantity: 3 },
    ],
    payment: { method: 'card', token: 'tok_4f9a8b7c6d' },
    tags: ['web', 'promo-nov'],
  };
}

function versionOf(slug: string, contract: Json, config: Json, extra: Partial<ApiSpec['versions'][number]> = {}, baseUrl = 'http://127.0.0.1:1'): ApiSpec {
  const policies: PolicyBinding[] = [{ policy: 'contract-validation', config }];
  return httpApi(slug, baseUrl, OPERATIONS, { contract, policies, ...extra });
}

interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: { pointer: string; detail: string }[];
}

/** The value of one Prometheus sample on the status port (0 when absent). */
async function metric(gw: TestGateway, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${gw.statusUrl}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    const found = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

describe('contract-validation', () => {
  let upstream: RecordingUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startRecordingUpstream();
    const apis: ApiSpec[] = [];
    for (const [dialect, contract] of Object.entries(contracts)) {
      const tag = dialect.replace('.', '');
      apis.push(versionOf(`orders${tag}`, contract, {}, {}, upstream.url));
      apis.push(versionOf(`detect${tag}`, contract, { mode: 'detect', logIntervalSeconds: 0, responses: { sampleRate: 1 } }, {}, upstream.url));
    }
    apis.push(versionOf('capped', contracts['3.0'], { maxErrors: 2 }, {}, upstream.url));
    gw = await startTestGateway({ snapshot: buildSnapshot({ apis }) });
  });

  after(async () => {
    await gw.close();
    await upstream.close();
  });

  beforeEach(() => {
    upstream.seen.length = 0;
    upstream.behave(echo);
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${gw.url}${path}`, {
      method: 'POST',
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...STORE, ...headers },
    });

  async function refused(response: Response, pointer: string, detail?: RegExp): Promise<Problem> {
    const text = await response.text();
    assert.equal(response.status, 400, text);
    assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const problem = JSON.parse(text) as Problem;
    assert.equal(problem.code, 'contract.request_invalid');
    const match = problem.errors?.find((e) => e.pointer === pointer);
    assert.ok(match, `no error at ${pointer} in ${JSON.stringify(problem.errors)}`);
    if (detail !== undefined) assert.match(match.detail, detail);
    assert.equal(upstream.seen.length, 0, 'the upstream is never called');
    return problem;
  }

  for (const dialect of ['3.0', '3.1'] as const) {
    const api = `/orders${dialect.replace('.', '')}/v1`;

    describe(`OpenAPI ${dialect}`, () => {
      it('passes a valid order (readOnly id not required) to the upstream unchanged', async () => {
        const order = validOrder();
        const response = await post(`${api}/orders`, order);
        assert.equal(response.status, 200, await response.clone().text());
        assert.equal(upstream.seen.length, 1);
        assert.deepEqual(JSON.parse(upstream.seen[0]!.body), order);
      });

      it('accepts null where the contract makes a property nullable, and only there', async () => {
        const order = validOrder();
        order.requestedDelivery = null;
        (order.lines as Json[])[0]!.note = null;
        assert.equal((await post(`${api}/orders`, order)).status, 200);
        upstream.seen.length = 0;
        await refused(await post(`${api}/orders`, { ...validOrder(), customerEmail: null }), '/body/customerEmail', /must be string/);
      });

      it('takes exactly one of oneOf: invoice or card payment, not a card without its token', async () => {
        assert.equal((await post(`${api}/orders`, { ...validOrder(), payment: { method: 'invoice', vatId: 'DE123456789' } })).status, 200);
        upstream.seen.length = 0;
        const problem = await refused(await post(`${api}/orders`, { ...validOrder(), payment: { method: 'card' } }), '/body/payment', /oneOf/);
        assert.ok(problem.errors!.some((e) => e.pointer === '/body/payment/token' && e.detail === 'is required'));
      });

      it('checks formats: email, uuid, date-time', async () => {
        await refused(await post(`${api}/orders`, { ...validOrder(), customerEmail: 'ana.lopez' }), '/body/customerEmail', /format "email"/);
        await refused(await post(`${api}/orders`, { ...validOrder(), externalId: 'not-a-uuid' }), '/body/externalId', /format "uuid"/);
        await refused(await post(`${api}/orders`, { ...validOrder(), requestedDelivery: '01/12/2026 09:00' }), '/body/requestedDelivery', /format "date-time"/);
      });

      it('points into arrays of objects: a bad third line is /body/lines/2/quantity', async () => {
        const order = validOrder();
        (order.lines as Json[])[2]!.quantity = '3';
        const problem = await refused(await post(`${api}/orders`, order), '/body/lines/2/quantity', /must be integer/);
        assert.match(problem.detail, /\/body\/lines\/2\/quantity/);
        const extra = validOrder();
        (extra.lines as Json[])[1]!.discount = 5;
        await refused(await post(`${api}/orders`, extra), '/body/lines/1/discount', /not allowed/);
      });

      it('applies exclusive minimums (boolean in 3.0, numeric in 3.1)', async () => {
        const order = validOrder();
        (order.lines as Json[])[0]!.unitPrice = 0;
        await refused(await post(`${api}/orders`, order), '/body/lines/0/unitPrice', /must be > 0/);
      });

      it('refuses a missing required header, and a bad one without echoing its value', async () => {
        const missing = await fetch(`${gw.url}${api}/orders`, { method: 'POST', body: JSON.stringify(validOrder()), headers: { 'content-type': 'application/json' } });
        await refused(missing, '/headers/x-store-id', /^is required$/);
        const secret = 'PLANTED-header-secret-91f3';
        const bad = await post(`${api}/orders`, validOrder(), { 'X-Store-Id': secret });
        const problem = await refused(bad.clone(), '/headers/x-store-id', /must match pattern/);
        assert.ok(!JSON.stringify(problem).includes(secret));
        assert.ok(!gw.logLines().some((line) => line.includes(secret)));
      });

      it('coerces and checks query parameters: integers, repeated arrays, comma lists', async () => {
        const ok = await fetch(`${gw.url}${api}/orders?limit=10&status=open&status=shipped&fields=id,status&since=2026-11-01T00:00:00Z`, { headers: STORE });
        assert.equal(ok.status, 200);
        assert.equal(upstream.seen[0]!.url, '/orders?limit=10&status=open&status=shipped&fields=id,status&since=2026-11-01T00:00:00Z', 'forwarded as sent');
        upstream.seen.length = 0;
        await refused(await fetch(`${gw.url}${api}/orders?limit=ten`, { headers: STORE }), '/query/limit', /must be integer/);
        await refused(await fetch(`${gw.url}${api}/orders?limit=500`, { headers: STORE }), '/query/limit', /must be <= 100/);
        await refused(await fetch(`${gw.url}${api}/orders?status=open&status=lost`, { headers: STORE }), '/query/status/1');
        await refused(await fetch(`${gw.url}${api}/orders?fields=id,price`, { headers: STORE }), '/query/fields/1');
        await refused(await fetch(`${gw.url}${api}/orders?limit=%E0%A4%A`, { headers: STORE }), '/query/limit', /percent-encoding/);
      });

      it('checks path parameters against the operation template', async () => {
        assert.equal((await fetch(`${gw.url}${api}/orders/${ORDER_ID}`)).status, 200);
        upstream.seen.length = 0;
        await refused(await fetch(`${gw.url}${api}/orders/12345`), '/path/orderId', /format "uuid"/);
      });

      it('refuses a body of the wrong JSON type, and a missing required body', async () => {
        await refused(await post(`${api}/orders`, [validOrder()]), '/body', /must be object/);
        await refused(await post(`${api}/orders`, '"an order"'), '/body', /must be object/);
        await refused(await post(`${api}/orders`, ''), '/body', /^is required$/);
      });

      it('answers 415 for a media type the operation does not take, naming the accepted ones', async () => {
        const text = await post(`${api}/orders`, JSON.stringify(validOrder()), { 'content-type': 'text/plain' });
        assert.equal(text.status, 415);
        const problem = (await text.json()) as Problem;
        assert.equal(problem.code, 'request.unsupported_media_type');
        assert.match(problem.detail, /application\/json/);
        assert.equal(text.headers.get('accept'), 'application/json');
        const patchAsJson = await fetch(`${gw.url}${api}/orders/${ORDER_ID}`, { method: 'PATCH', body: '{"note":null}', headers: { 'content-type': 'application/json' } });
        assert.equal(patchAsJson.status, 415);
        assert.equal(upstream.seen.length, 0);
        const patch = await fetch(`${gw.url}${api}/orders/${ORDER_ID}`, {
          method: 'PATCH',
          body: '{"note":null}',
          headers: { 'content-type': 'application/merge-patch+json; charset=utf-8' },
        });
        assert.equal(patch.status, 200);
        assert.equal(upstream.seen.length, 1);
      });
    });
  }

  it('OpenAPI 3.1: reads deepObject query parameters', async () => {
    assert.equal((await fetch(`${gw.url}/orders31/v1/orders?total[min]=10&total[max]=99.5`, { headers: STORE })).status, 200);
    upstream.seen.length = 0;
    await refused(await fetch(`${gw.url}/orders31/v1/orders?total[min]=ten`, { headers: STORE }), '/query/total/min', /must be number/);
    await refused(await fetch(`${gw.url}/orders31/v1/orders?total[avg]=3`, { headers: STORE }), '/query/total/avg', /not allowed/);
    await refused(await fetch(`${gw.url}/orders31/v1/orders?total[__proto__]=3`, { headers: STORE }), '/query/total/__proto__', /not allowed/);
  });

  it('caps the errors list at maxErrors', async () => {
    const order = { customerEmail: 'nope', lines: [{ sku: 'x', quantity: 0 }, { sku: 'y', quantity: 0 }], payment: {} };
    const response = await post('/capped/v1/orders', order);
    const problem = (await response.json()) as Problem;
    assert.equal(response.status, 400);
    assert.equal(problem.errors!.length, 2);
    assert.match(problem.detail, /and 1 more/);
  });

  describe('detect mode', () => {
    it('lets a violating request through, counts it on /metrics and logs a line with the pointers', async () => {
      const labels = { api: 'detect30', operation: 'createOrder', kind: 'body', mode: 'detect' };
      const before = await metric(gw, 'gatehouse_contract_violations_total', labels);
      const order = validOrder();
      (order.lines as Json[])[2]!.quantity = 0;
      const response = await post('/detect30/v1/orders', order);
      assert.equal(response.status, 200);
      assert.equal(upstream.seen.length, 1, 'the upstream got it');
      assert.equal(await metric(gw, 'gatehouse_contract_violations_total', labels), before + 1);
      const line = gw.logLines().find((l) => l.includes('contract violation let through') && l.includes('/body/lines/2/quantity'));
      assert.ok(line, 'a log line names the pointer');
      assert.equal(JSON.parse(line).traceId.length, 32);
    });

    it('lets an unsupported media type through, counted as media_type', async () => {
      const labels = { api: 'detect31', operation: 'createOrder', kind: 'media_type', mode: 'detect' };
      const before = await metric(gw, 'gatehouse_contract_violations_total', labels);
      const response = await post('/detect31/v1/orders', 'sku=SHOE-42', { 'content-type': 'application/x-www-form-urlencoded' });
      assert.equal(response.status, 200);
      assert.equal(await metric(gw, 'gatehouse_contract_violations_total', labels), before + 1);
    });

    it('counts enforce-mode refusals too, by operation', async () => {
      const labels = { api: 'orders30', operation: 'listOrders', kind: 'parameters', mode: 'enforce' };
      const before = await metric(gw, 'gatehouse_contract_violations_total', labels);
      await fetch(`${gw.url}/orders30/v1/orders?limit=0`, { headers: STORE });
      assert.equal(await metric(gw, 'gatehouse_contract_violations_total', labels), before + 1);
    });
  });

  describe('response drift (detect, sampled)', () => {
    const stored = { ...validOrder(), id: ORDER_ID, status: 'open', createdAt: '2026-11-20T10:00:00Z', payment: { method: 'card', last4: '4242' } };

    function answer(status: number, body: unknown, headers: Record<string, string> = {}): void {
      upstream.behave((_req, res) => {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
        res.end(text);
      });
    }

    for (const slug of ['detect30', 'detect31']) {
      it(`${slug}: relays a drifting answer unchanged and counts the drift by kind`, async () => {
        const body = { labels: { api: slug, operation: 'getOrder', kind: 'body' } };
        const before = await metric(gw, 'gatehouse_contract_drift_total', body.labels);
        const checked = await metric(gw, 'gatehouse_contract_responses_checked_total', { api: slug, operation: 'getOrder' });
        const drifting = { ...stored, status: 'lost', lines: [{ sku: 'SHOE-42', quantity: 'one' }] };
        answer(200, drifting);
        const response = await fetch(`${gw.url}/${slug}/v1/orders/${ORDER_ID}`);
        assert.equal(response.status, 200);
        assert.deepEqual(await response.json(), drifting, 'the answer is not altered');
        assert.equal(await metric(gw, 'gatehouse_contract_drift_total', body.labels), before + 1);
        assert.equal(await metric(gw, 'gatehouse_contract_responses_checked_total', { api: slug, operation: 'getOrder' }), checked + 1);
        assert.ok(gw.logLines().some((l) => l.includes('drifts from the contract') && l.includes(slug) && l.includes('/body/lines/0/quantity')));
      });

      it(`${slug}: a conforming answer (writeOnly token absent) is no drift`, async () => {
        const labels = { api: slug, operation: 'getOrder', kind: 'body' };
        const before = await metric(gw, 'gatehouse_contract_drift_total', labels);
        answer(200, stored);
        assert.equal((await fetch(`${gw.url}/${slug}/v1/orders/${ORDER_ID}`)).status, 200);
        assert.equal(await metric(gw, 'gatehouse_contract_drift_total', labels), before);
      });
    }

    it('counts an undeclared status, a missing required header and an undeclared media type', async () => {
      const kinds = async (): Promise<number[]> =>
        Promise.all(['status', 'header', 'media_type'].map((kind) => metric(gw, 'gatehouse_contract_drift_total', { api: 'detect30', operation: 'createOrder', kind })));
      const [status, header, media] = await kinds();
      // 4XX is declared (as problem+json); 503 is not, and there is no default.
      answer(503, { busy: true });
      assert.equal((await post('/detect30/v1/orders', validOrder())).status, 503);
      answer(201, stored);
      assert.equal((await post('/detect30/v1/orders', validOrder())).status, 201, 'no Location header');
      upstream.behave((_req, res) => {
        res.writeHead(201, { 'content-type': 'text/csv', location: `/orders/${ORDER_ID}` });
        res.end('id,status\n');
      });
      assert.equal((await post('/detect30/v1/orders', validOrder())).status, 201);
      assert.deepEqual(await kinds(), [status! + 1, header! + 1, media! + 1]);
    });
  });

  describe('snapshot compile', () => {
    async function rejection(contract: Json, operations = OPERATIONS): Promise<string> {
      const before = gw.gateway.currentHash();
      const snapshot = buildSnapshot({ apis: [httpApi('orders', upstream.url, operations, { contract, policies: [{ policy: 'contract-validation', config: {} }] })] });
      const result = await gw.gateway.apply(JSON.stringify(snapshot), 'test');
      assert.equal(result.applied, false);
      assert.equal(gw.gateway.currentHash(), before, 'the previous snapshot keeps serving');
      return result.error ?? '';
    }

    it('refuses a contract with a ReDoS-prone pattern, naming where it is', async () => {
      const contract = structuredClone(contracts['3.1']) as { components: { schemas: { OrderLine: { properties: { sku: Json } } } } };
      contract.components.schemas.OrderLine.properties.sku.pattern = '^(a+)+$';
      const error = await rejection(contract as unknown as Json);
      assert.match(error, /apis\[orders\]\.versions\[1\.0\.0\]: policy "contract-validation" failed to build/);
      assert.match(error, /#\/components\/schemas\/OrderLine\/properties\/sku\/pattern: pattern "\^\(a\+\)\+\$" risks catastrophic backtracking/);
      assert.equal((await fetch(`${gw.url}/orders30/v1/health`)).status, 200, 'still serving');
    });

    it('refuses a ReDoS-prone pattern in an inline parameter schema at start-up too', async () => {
      const contract = structuredClone(contracts['3.0']) as { paths: { '/health': { get: Json } } };
      contract.paths['/health'].get.parameters = [{ name: 'probe', in: 'query', schema: { type: 'string', pattern: '^(\\w+\\s?)*$' } }];
      await assert.rejects(
        startTestGateway({ snapshot: buildSnapshot({ apis: [versionOf('orders', contract as unknown as Json, {})] }) }),
        /#\/paths\/~1health\/get\/parameters\/0\/schema\/pattern: pattern .* risks catastrophic backtracking/,
      );
    });

    it('refuses a routed operation the contract does not declare, or declares with another method', async () => {
      assert.match(await rejection(contracts['3.0'], [...OPERATIONS, { id: 'cancelOrder', method: 'POST', path: '/orders/{orderId}/cancel' }]), /the contract has no operation with operationId "cancelOrder"/);
      const moved = OPERATIONS.map((op) => (op.id === 'getOrder' ? { ...op, method: 'DELETE' as const } : op));
      assert.match(await rejection(contracts['3.0'], moved), /operation "getOrder": the contract declares GET \/orders\/\{orderId\}/);
    });

    it('refuses remote references, unknown dialects and a version without a contract', async () => {
      const remote = structuredClone(contracts['3.0']) as { components: { schemas: Json } };
      remote.components.schemas.Order = { $ref: 'https://schemas.example.com/order.json' };
      assert.match(await rejection(remote as unknown as Json), /#\/components\/schemas\/Order\/\$ref: \$ref "https:\/\/schemas\.example\.com\/order\.json" points outside the contract/);
      assert.match(await rejection({ ...contracts['3.0'], openapi: '2.0' }), /"openapi" must be 3\.0\.x or 3\.1\.x/);
      const before = gw.gateway.currentHash();
      const bare = buildSnapshot({ apis: [httpApi('orders', upstream.url, OPERATIONS, { policies: [{ policy: 'contract-validation', config: {} }] })] });
      const result = await gw.gateway.apply(JSON.stringify(bare), 'test');
      assert.match(result.error ?? '', /no contract/);
      assert.equal(gw.gateway.currentHash(), before);
    });
  });
});

describe('contract-validation: OpenAPI schemas as JSON Schema', () => {
  const components = {
    Id: { type: 'string', format: 'uuid', readOnly: true },
    Secret: { type: 'string', writeOnly: true },
  };
  const contract = { openapi: '3.0.3', components: { schemas: components } };
  function context(dialect: '3.0' | '3.1', direction: 'request' | 'response' = 'request'): ConvertContext {
    return { contract, dialect, direction, componentsId: 'urn:c', patterns: [], formats: new Set() };
  }
  const convert = (schema: unknown, dialect: '3.0' | '3.1' = '3.0', direction: 'request' | 'response' = 'request'): unknown =>
    convertSchema(schema, '#/x', context(dialect, direction));

  it('3.0 nullable: null joins the type and the enum; composition moves beside {type: null}', () => {
    assert.deepEqual(convert({ type: 'string', nullable: true }), { type: ['string', 'null'] });
    assert.deepEqual(convert({ type: 'string', enum: ['a', 'b'], nullable: true }), { type: ['string', 'null'], enum: ['a', 'b', null] });
    assert.deepEqual(convert({ nullable: true, allOf: [{ $ref: '#/components/schemas/Id' }], properties: { a: { type: 'integer' } } }), {
      properties: { a: { type: 'integer' } },
      anyOf: [{ type: 'null' }, { allOf: [{ $ref: 'urn:c#/$defs/Id' }] }],
    });
    assert.deepEqual(convert({ type: 'string' }, '3.1'), { type: 'string' }, '3.1 has no nullable to rewrite');
  });

  it('3.0: siblings of $ref are ignored (but nullable is honoured); 3.1 keeps them', () => {
    assert.deepEqual(convert({ $ref: '#/components/schemas/Id', maxLength: 3 }), { $ref: 'urn:c#/$defs/Id' });
    assert.deepEqual(convert({ $ref: '#/components/schemas/Id', nullable: true }), { anyOf: [{ type: 'null' }, { $ref: 'urn:c#/$defs/Id' }] });
    assert.deepEqual(convert({ $ref: '#/components/schemas/Id', maxLength: 3 }, '3.1'), { $ref: 'urn:c#/$defs/Id', maxLength: 3 });
  });

  it('3.0: boolean exclusive bounds become numeric ones', () => {
    assert.deepEqual(convert({ type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 9, exclusiveMaximum: false }), {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 9,
    });
  });

  it('readOnly is not required of requests, writeOnly not of answers (directly or through $ref)', () => {
    const schema = { type: 'object', required: ['id', 'secret', 'name'], properties: { id: { $ref: '#/components/schemas/Id' }, secret: { $ref: '#/components/schemas/Secret' }, name: { type: 'string' } } };
    assert.deepEqual((convert(schema, '3.0', 'request') as { required: string[] }).required, ['secret', 'name']);
    assert.deepEqual((convert(schema, '3.1', 'response') as { required: string[] }).required, ['id', 'name']);
  });

  it('drops OpenAPI annotations and x- keywords, never property names', () => {
    const schema = { type: 'object', example: {}, discriminator: { propertyName: 'k' }, 'x-owner': 'erp', properties: { 'x-rank': { type: 'integer', example: 1 }, example: { type: 'string' } } };
    assert.deepEqual(convert(schema), { type: 'object', properties: { 'x-rank': { type: 'integer' }, example: { type: 'string' } } });
  });

  it('collects patterns (pattern and patternProperties) with their location, and formats', () => {
    const ctx = context('3.1');
    convertSchema({ type: 'object', patternProperties: { '^x-': {} }, properties: { sku: { type: 'string', pattern: '^[A-Z]+$', format: 'sku' } } }, '#/s', ctx);
    assert.deepEqual(ctx.patterns, [
      { source: '^x-', pointer: '#/s/patternProperties/^x-' },
      { source: '^[A-Z]+$', pointer: '#/s/properties/sku/pattern' },
    ]);
    assert.deepEqual([...ctx.formats], ['sku']);
  });

  it('refuses references outside #/components/schemas and other JSON Schema dialects', () => {
    assert.throws(() => convert({ $ref: '#/paths/~1orders' }), /#\/x\/\$ref: \$ref "#\/paths\/~1orders" must point into #\/components\/schemas\//);
    assert.throws(() => convert({ $ref: 'other.json#/Order' }), /points outside the contract/);
    assert.throws(() => convert({ $schema: 'http://json-schema.org/draft-04/schema#' }, '3.1'), /dialect .* is not supported/);
  });
});
