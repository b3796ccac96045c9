/**
 * @module The governance lint of contracts: each Gatehouse rule (and Spectral's validity and
 * operationId rules) caught with its JSON Pointer on a small contract that breaks it, severities,
 * an organisation's extension, and at the control plane on SQLite and PostgreSQL: errors block
 * submit (422 contract.lint_failed listing them), warnings alone do not, `GET …/lint` shows both.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { truthy } from '@stoplight/spectral-functions';
import { parseRulesetExtension, RulesetFileError } from '../../control-plane/lint/org-ruleset.js';
import { lintContract, type LintFinding, type RulesetExtension } from '../../control-plane/lint/lint.js';
import { apisRoutes } from '../../control-plane/routes/apis.js';
import { teamsRoutes } from '../../control-plane/routes/teams.js';
import { versionsRoutes } from '../../control-plane/routes/versions.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { ENGINES } from '../support/stores.js';

type Contract = Record<string, any>;

/** A contract every rule is content with. */
function clean(): Contract {
  return {
    openapi: '3.1.0',
    info: { title: 'Stock', version: '1.0.0', description: 'Stock reservations.', contact: { name: 'ERP team', email: 'erp@example.com' } },
    servers: [{ url: 'https://api.example.com/stock' }],
    tags: [{ name: 'stock', description: 'Stock.' }],
    security: [{ oauth: ['stock:read'] }],
    paths: {
      '/reservations': {
        post: {
          operationId: 'reserveStock',
          description: 'Reserves stock of one SKU.',
          tags: ['stock'],
          security: [{ oauth: ['stock:write'] }],
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Reservation' } } } },
          responses: { '201': { description: 'Reserved.' }, '4XX': { description: 'A problem (RFC 9457).' } },
        },
      },
    },
    components: {
      securitySchemes: {
        oauth: { type: 'oauth2', flows: { clientCredentials: { tokenUrl: 'https://idp.example.com/token', scopes: { 'stock:read': 'Read stock', 'stock:write': 'Reserve stock' } } } },
      },
      schemas: {
        Reservation: {
          type: 'object',
          additionalProperties: false,
          required: ['sku', 'quantity'],
          properties: {
            sku: { type: 'string', pattern: '^[A-Z0-9]{3,12}$', example: 'SHOE42' },
            quantity: { type: 'integer', minimum: 1, maximum: 100 },
            note: { type: 'string', maxLength: 200 },
            pickup: { type: 'string', format: 'date-time' },
          },
        },
      },
    },
  };
}

const POST = '/paths/~1reservations/post';
const RESERVATION = '/components/schemas/Reservation';
const brief = (findings: LintFinding[]) => findings.map((f) => `${f.severity} ${f.rule} ${f.location}`);

async function findingsOf(change: (c: Contract) => void): Promise<string[]> {
  const contract = clean();
  change(contract);
  return brief((await lintContract(contract)).findings);
}

describe('contract lint rules', () => {
  it('finds nothing in a clean contract', async () => {
    assert.deepEqual(await lintContract(clean()), { errors: 0, warnings: 0, findings: [] });
  });

  it('valid document (Spectral oas3-schema) and unique operationIds', async () => {
    assert.ok((await findingsOf((c) => delete c.info.title)).some((f) => f.startsWith('error oas3-schema /info')));
    const duplicate = await findingsOf((c) => {
      c.paths['/reservations'].put = structuredClone(c.paths['/reservations'].post);
    });
    assert.ok(duplicate.includes('error operation-operationId-unique /paths/~1reservations/put/operationId'), duplicate.join('\n'));
  });

  it('operation-security-scopes: no security at all, or OAuth without scopes, is an error; public operations are warnings', async () => {
    assert.deepEqual(
      await findingsOf((c) => {
        delete c.security;
        delete c.paths['/reservations'].post.security;
      }),
      [`error operation-security-scopes ${POST}`],
    );
    assert.deepEqual(await findingsOf((c) => (c.paths['/reservations'].post.security = [{ oauth: [] }])), [`error operation-security-scopes ${POST}/security/0/oauth`]);
    assert.deepEqual(await findingsOf((c) => (c.paths['/reservations'].post.security = [])), [`warn operation-public ${POST}/security`]);
    assert.deepEqual(await findingsOf((c) => c.paths['/reservations'].post.security.push({})), [`warn operation-public ${POST}/security/1`]);
    // An API key carries no scopes: declared is enough.
    assert.deepEqual(
      await findingsOf((c) => {
        c.components.securitySchemes.key = { type: 'apiKey', in: 'header', name: 'X-API-Key' };
        c.paths['/reservations'].post.security = [{ key: [] }];
      }),
      [],
    );
  });

  it('error-responses: an operation without a 4xx / default response is a warning', async () => {
    const report = await lintContract(
      (() => {
        const c = clean();
        delete c.paths['/reservations'].post.responses['4XX'];
        return c;
      })(),
    );
    assert.deepEqual(brief(report.findings), [`warn error-responses ${POST}/responses`]);
    assert.equal(report.findings[0]!.operationId, 'reserveStock');
  });

  it('request-string-max-length: unbounded request strings are errors; maxLength, enum, bounded formats and finite patterns bound them', async () => {
    assert.deepEqual(
      await findingsOf((c) => {
        const props = c.components.schemas.Reservation.properties;
        delete props.note.maxLength;
        props.email = { type: 'string', format: 'email' };
        props.code = { type: 'string', pattern: '^[A-Z]+$' };
        props.kind = { type: 'string', enum: ['hold', 'ship'] };
        props.tags = { type: 'array', maxItems: 3, items: { type: 'string' } };
        props.id = { type: 'string', readOnly: true };
      }),
      [`error request-string-max-length ${RESERVATION}/properties/code`, `error request-string-max-length ${RESERVATION}/properties/email`, `error request-string-max-length ${RESERVATION}/properties/note`, `error request-string-max-length ${RESERVATION}/properties/tags/items`],
    );
    // Response strings are not the gateway's to bound.
    assert.deepEqual(
      await findingsOf((c) => {
        c.paths['/reservations'].post.responses['201'] = { description: 'Reserved.', content: { 'application/json': { schema: { type: 'object', properties: { id: { type: 'string' } } } } } };
      }),
      [],
    );
  });

  it('request-object-closed: a request object without explicit additionalProperties is a warning', async () => {
    assert.deepEqual(await findingsOf((c) => delete c.components.schemas.Reservation.additionalProperties), [`warn request-object-closed ${RESERVATION}`]);
    assert.deepEqual(await findingsOf((c) => (c.components.schemas.Reservation.additionalProperties = true)), [], 'open on purpose');
  });

  it('safe-patterns: a pattern recheck finds vulnerable is an error', async () => {
    assert.deepEqual(await findingsOf((c) => (c.components.schemas.Reservation.properties.sku = { type: 'string', maxLength: 40, pattern: '^(a+)+$' })), [
      `error safe-patterns ${RESERVATION}/properties/sku/pattern`,
    ]);
  });

  it('no-secret-examples: credential-shaped examples and real-looking values of secret members are errors, never repeated in messages', async () => {
    const secrets = ['sk_live_51Habcdefghijklmnop', 'AKIAIOSFODNN7EXAMPLF', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvbGl2aWEifQ.c2lnbmF0dXJl', '-----BEGIN PRIVATE KEY-----\nMIIE', 'a3f1c9e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2'];
    const contract = clean();
    const props = contract.components.schemas.Reservation.properties;
    secrets.forEach((secret, i) => (props[`field${i}`] = { type: 'string', maxLength: 2000, example: secret }));
    props.password = { type: 'string', maxLength: 64, example: 'hunter2-correct-horse' };
    props.apiKey = { type: 'string', maxLength: 64, example: '<your-api-key>' };
    contract.paths['/reservations'].post.requestBody.content['application/json'].examples = { sample: { value: { sku: 'SHOE42', quantity: 1, note: 'Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTBBQkNERUZHSElK' } } };
    const report = await lintContract(contract);
    assert.deepEqual(brief(report.findings), [
      `error no-secret-examples ${RESERVATION}/properties/field0/example`,
      `error no-secret-examples ${RESERVATION}/properties/field1/example`,
      `error no-secret-examples ${RESERVATION}/properties/field2/example`,
      `error no-secret-examples ${RESERVATION}/properties/field3/example`,
      `error no-secret-examples ${RESERVATION}/properties/field4/example`,
      `error no-secret-examples ${RESERVATION}/properties/password/example`,
      `error no-secret-examples ${POST}/requestBody/content/application~1json/examples/sample/value/note`,
    ]);
    const text = JSON.stringify(report);
    for (const secret of [...secrets, 'hunter2', 'Zm9vYmFy']) assert.ok(!text.includes(secret.slice(0, 12)), `a finding repeats ${secret.slice(0, 12)}`);
  });

  it('an organisation extends the ruleset: re-grades a rule and adds its own', async () => {
    const contract = clean();
    delete contract.paths['/reservations'].post.responses['4XX'];
    delete contract.info.contact;
    const extend: RulesetExtension = {
      rules: {
        'error-responses': 'error',
        'info-contact-email': { description: 'The owning team can be mailed.', message: 'info.contact.email is required.', severity: 'error', given: '$.info', then: { field: 'contact.email', function: truthy } },
      },
    };
    const report = await lintContract(contract, { extend });
    assert.deepEqual(brief(report.findings), ['error info-contact-email /info', `error error-responses ${POST}/responses`, 'warn info-contact /info']);
  });
});

const API = '/api/v1/apis/stock';

async function act(cp: TestControlPlane, who: string, v: string, action: string) {
  const etag = (await cp.call('ada.auditor', 'GET', `${API}/versions/${v}`)).headers.get('etag')!;
  return cp.call(who, 'POST', `${API}/versions/${v}/${action}`, {}, { 'if-match': etag });
}

for (const engine of ENGINES) {
  describe(`contract lint at submit on ${engine}`, () => {
    it('errors block submit with 422 contract.lint_failed; warnings alone pass; GET …/lint shows both', async (t) => {
      const cp = await startTestControlPlane(t, engine, { routes: [teamsRoutes, apisRoutes, versionsRoutes] });
      if (cp === undefined) return;
      t.after(() => cp.close());
      assert.equal((await cp.call('adam.admin', 'POST', '/api/v1/teams', { id: 'erp-team', name: 'ERP' })).status, 201);
      const upstream = { kind: 'http', baseUrl: 'http://127.0.0.1:9/stock', settings: {}, connectTimeoutMs: 1000, responseTimeoutMs: 2000 };
      assert.equal((await cp.call('olivia.owner', 'POST', '/api/v1/apis', { slug: 'stock', title: 'Stock', team: 'erp-team', upstream })).status, 201);

      const bad = clean();
      delete bad.components.schemas.Reservation.properties.note.maxLength; // error
      delete bad.paths['/reservations'].post.responses['4XX']; // warning
      const created = await cp.call('olivia.owner', 'POST', `${API}/versions`, { version: '1.0.0', contract: bad, policies: [] });
      assert.equal(created.status, 201, created.text);

      const refused = await act(cp, 'olivia.owner', '1.0.0', 'submit');
      assert.equal(refused.status, 422, refused.text);
      assert.equal(refused.json.code, 'contract.lint_failed');
      assert.equal(refused.json.title, 'Contract fails the governance lint');
      assert.deepEqual([refused.json.errors, refused.json.warnings], [1, 1]);
      assert.deepEqual(brief(refused.json.findings), [`error request-string-max-length ${RESERVATION}/properties/note`, `warn error-responses ${POST}/responses`]);
      assert.equal((await cp.call('ada.auditor', 'GET', `${API}/versions/1.0.0`)).json.status, 'draft', 'still a draft');

      for (const reader of ['ada.auditor', 'rafael.reviewer', 'olivia.owner', 'adam.admin']) {
        const lint = await cp.call(reader, 'GET', `${API}/versions/1.0.0/lint`);
        assert.equal(lint.status, 200, `${reader}: ${lint.text}`);
        assert.deepEqual([lint.json.errors, lint.json.warnings, lint.json.findings.length], [1, 1, 2]);
      }

      const fixed = structuredClone(bad);
      fixed.components.schemas.Reservation.properties.note.maxLength = 200;
      const etag = created.headers.get('etag')!;
      assert.equal((await cp.call('olivia.owner', 'PATCH', `${API}/versions/1.0.0`, { contract: fixed }, { 'if-match': etag })).status, 200);
      const submitted = await act(cp, 'olivia.owner', '1.0.0', 'submit');
      assert.equal(submitted.status, 200, submitted.text);
      assert.equal(submitted.json.status, 'in_review', 'warnings do not block');
      const lint = await cp.call('rafael.reviewer', 'GET', `${API}/versions/1.0.0/lint`);
      assert.deepEqual([lint.json.errors, lint.json.warnings, brief(lint.json.findings)], [0, 1, [`warn error-responses ${POST}/responses`]]);

      assert.equal((await cp.call('ada.auditor', 'GET', `${API}/versions/9.9.9/lint`)).status, 404);
    });
  });
}

describe('an organisation ruleset file (LINT_RULESET_FILE)', () => {
  const ORG_RULES = `rules:
  error-responses: error
  info-contact-email:
    description: The owning team can be mailed.
    message: info.contact.email is required.
    severity: error
    given: $.info
    then:
      field: contact.email
      function: truthy
`;

  it('is parsed from YAML into rules over core functions, and refuses what could run code or load from elsewhere', () => {
    const extend = parseRulesetExtension(ORG_RULES);
    assert.equal(extend.rules?.['error-responses'], 'error');
    assert.equal(typeof ((extend.rules?.['info-contact-email'] as { then: { function: unknown } }).then.function), 'function');
    for (const [text, why] of [
      ['rules:\n  x:\n    given: $\n    then:\n      function: require', /unknown function "require"/],
      ['extends: [https://rules.example.com/r.yaml]\nrules: {}', /unsupported keys extends/],
      ['rules:\n  x: loud', /severity must be one of/],
      ['rules:\n  x:\n    then:\n      function: truthy', /needs "given"/],
      ['[1, 2', /not YAML or JSON/],
    ] as const) {
      assert.throws(() => parseRulesetExtension(text), (error: Error) => error instanceof RulesetFileError && why.test(error.message), text);
    }
  });

  it('applies at submit and in GET …/lint through the admin API', async (t) => {
    const cp = await startTestControlPlane(t, 'sqlite', { routes: [teamsRoutes, apisRoutes, versionsRoutes], lintRuleset: parseRulesetExtension(ORG_RULES) });
    if (cp === undefined) return;
    t.after(() => cp.close());
    assert.equal((await cp.call('adam.admin', 'POST', '/api/v1/teams', { id: 'erp-team', name: 'ERP' })).status, 201);
    const upstream = { kind: 'http', baseUrl: 'http://127.0.0.1:9/stock', settings: {}, connectTimeoutMs: 1000, responseTimeoutMs: 2000 };
    assert.equal((await cp.call('olivia.owner', 'POST', '/api/v1/apis', { slug: 'stock', title: 'Stock', team: 'erp-team', upstream })).status, 201);
    const contract = clean();
    delete contract.paths['/reservations'].post.responses['4XX'];
    delete contract.info.contact;
    assert.equal((await cp.call('olivia.owner', 'POST', `${API}/versions`, { version: '1.0.0', contract, policies: [] })).status, 201);
    const refused = await act(cp, 'olivia.owner', '1.0.0', 'submit');
    assert.equal(refused.status, 422, refused.text);
    assert.deepEqual(brief(refused.json.findings), ['error info-contact-email /info', `error error-responses ${POST}/responses`, 'warn info-contact /info']);
  });
});
