/**
 * Breaking-change detection (contracts/contract-diff.ts): the before/after corpus in
 * diff-corpus/ pins every rule, one folder per case with the expected rules, breaking flags and
 * locations; the cases below it pin ordering, normalisation and termination.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { diffContracts } from '../../contracts/index.js';

const corpus = join(import.meta.dirname, 'diff-corpus');

interface Expected {
  breaking: boolean;
  changes: Array<{ rule: string; breaking: boolean; location: string; operationId?: string }>;
}

function load(name: string, file: string): unknown {
  return JSON.parse(readFileSync(join(corpus, name, file), 'utf8'));
}

const cases = readdirSync(corpus).sort();

function minimal(openapi: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { openapi, info: { title: 'T', version: '1.0.0' }, paths: {}, ...extra };
}

describe('contract diff corpus', () => {
  for (const name of cases) {
    it(name, () => {
      const expected = load(name, 'expected.json') as Expected;
      const diff = diffContracts(load(name, 'before.json') as object, load(name, 'after.json') as object);
      const actual = diff.changes.map((c) => ({ rule: c.rule, breaking: c.breaking, location: c.location, ...(c.operationId === undefined ? {} : { operationId: c.operationId }) }));
      assert.deepEqual(actual, expected.changes);
      assert.equal(diff.breaking, expected.breaking);
      for (const c of diff.changes) assert.ok(c.message.length > 0, `${c.rule} has a message`);
    });
  }

  it('pins every required rule, breaking and not', () => {
    const seen = new Set<string>();
    for (const name of cases) for (const c of (load(name, 'expected.json') as Expected).changes) seen.add(`${c.rule}:${c.breaking}`);
    const required = [
      'operation-removed:true', 'path-removed:true', 'required-parameter-added:true', 'parameter-made-required:true',
      'type-changed:true', 'type-narrowed:true', 'enum-value-removed:true', 'required-property-added:true',
      'property-made-required:true', 'property-removed:true', 'property-made-optional:true', 'nullable-added:true',
      'response-status-removed:true', 'security-scope-added:true', 'additional-properties-closed:true',
      'constraint-narrowed:true', 'enum-value-added:true', 'type-widened:true',
      'operation-added:false', 'optional-parameter-added:false', 'property-added:false', 'enum-value-added:false',
      'optional-property-added:false', 'type-widened:false', 'type-narrowed:false', 'enum-value-removed:false',
      'constraint-relaxed:false', 'response-status-added:false', 'security-scope-removed:false',
      'additional-properties-opened:false', 'path-parameter-renamed:false', 'nullable-added:false', 'property-made-optional:false',
    ];
    assert.deepEqual(required.filter((r) => !seen.has(r)), []);
  });
});

describe('diffContracts', () => {
  it('orders changes by location, whatever the order in the documents', () => {
    const diff = diffContracts(load('path-removed', 'after.json') as object, load('path-removed', 'before.json') as object);
    const locations = diff.changes.map((c) => c.location);
    assert.deepEqual(locations, [...locations].sort());
    assert.deepEqual(diffContracts(load('path-removed', 'after.json') as object, load('path-removed', 'before.json') as object), diff);
  });

  it('reports a renamed path parameter without removing or adding an operation', () => {
    const diff = diffContracts(load('path-parameter-renamed', 'before.json') as object, load('path-parameter-renamed', 'after.json') as object);
    assert.equal(diff.breaking, false);
    assert.deepEqual(diff.changes.filter((c) => /operation|path-removed/.test(c.rule)), []);
  });

  it('marks schema changes with their direction and says why a response enum value breaks', () => {
    const diff = diffContracts(load('response-enum-value-added', 'before.json') as object, load('response-enum-value-added', 'after.json') as object);
    assert.equal(diff.changes[0]?.direction, 'response');
    assert.match(diff.changes[0]?.message ?? '', /strict clients/);
    assert.match(diff.changes[0]?.message ?? '', /^POST \/orders: /);
  });

  it('terminates on a $ref chain that points at itself', () => {
    const schemas = { A: { $ref: '#/components/schemas/B' }, B: { $ref: '#/components/schemas/A' } };
    const doc = (required: boolean) =>
      minimal('3.1.0', {
        components: { schemas },
        paths: {
          '/x': {
            post: {
              operationId: 'x',
              requestBody: { required, content: { 'application/json': { schema: { $ref: '#/components/schemas/A' } } } },
              responses: { '204': { description: 'ok' } },
            },
          },
        },
      });
    const diff = diffContracts(doc(false), doc(true));
    assert.deepEqual(diff.changes.map((c) => c.rule), ['request-body-made-required']);
  });

  it('reports nothing for identical 3.0 and 3.1 contracts', () => {
    assert.deepEqual(diffContracts(minimal('3.0.3'), minimal('3.1.0')), { changes: [], breaking: false });
  });

  it('refuses a document that is not OpenAPI 3.0 or 3.1', () => {
    assert.throws(() => diffContracts({ swagger: '2.0' }, minimal('3.1.0')), /3\.0\.x or 3\.1\.x/);
  });
});
