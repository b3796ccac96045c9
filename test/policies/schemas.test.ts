/** Each policy's schema is pure data with a description and default on every property. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSnapshotAjv } from '../../gateway/snapshot/compile.js';
import { BUILT_IN_POLICIES } from '../../policies/index.js';

describe('policy schemas', () => {
  for (const policy of BUILT_IN_POLICIES) {
    it(`${policy.name}: closed object, every property described, defaulted unless it must be given`, () => {
      const schema = policy.schema as {
        type: string;
        additionalProperties: boolean;
        required?: string[];
        properties: Record<string, { description?: string; default?: unknown }>;
      };
      assert.equal(schema.type, 'object');
      assert.equal(schema.additionalProperties, false);
      // Only what has no sensible default (an IdP's address, the gateway's client there) may be
      // left without one, and optional properties whose absence the description explains.
      const mustBeGiven = new Set(['issuers', 'issuer', 'clientId', 'clientSecret']);
      const required = new Set(schema.required ?? []);
      for (const [name, property] of Object.entries(schema.properties)) {
        assert.ok((property.description ?? '').length > 10, `${name} has a description`);
        assert.ok('default' in property || mustBeGiven.has(name) || !required.has(name), `${name} has a default`);
      }
      const ajv = createSnapshotAjv();
      const config: Record<string, unknown> = {};
      const complete = Object.keys(schema.properties).every((name) => !mustBeGiven.has(name));
      assert.equal(ajv.validate(schema, config), complete, JSON.stringify(ajv.errors));
      // Defaults fill every property that has one; optional ones without stay absent.
      const defaulted = Object.entries(schema.properties).filter(([name, p]) => 'default' in p || required.has(name)).map(([name]) => name);
      if (complete) assert.deepEqual(Object.keys(config).sort(), defaulted.sort());
      assert.equal(ajv.validate(schema, { unknownOption: true }), false);
    });
  }
});
