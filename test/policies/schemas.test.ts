/** Each policy's schema is pure data with a description and default on every property. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSnapshotAjv } from '../../gateway/snapshot/compile.js';
import { BUILT_IN_POLICIES } from '../../policies/index.js';

describe('policy schemas', () => {
  for (const policy of BUILT_IN_POLICIES) {
    it(`${policy.name}: closed object, every property described and defaulted, {} is valid`, () => {
      const schema = policy.schema as { type: string; additionalProperties: boolean; properties: Record<string, { description?: string; default?: unknown }> };
      assert.equal(schema.type, 'object');
      assert.equal(schema.additionalProperties, false);
      for (const [name, property] of Object.entries(schema.properties)) {
        assert.ok((property.description ?? '').length > 10, `${name} has a description`);
        assert.ok('default' in property, `${name} has a default`);
      }
      const ajv = createSnapshotAjv();
      const config: Record<string, unknown> = {};
      assert.ok(ajv.validate(schema, config), JSON.stringify(ajv.errors));
      assert.deepEqual(Object.keys(config).sort(), Object.keys(schema.properties).sort());
      assert.equal(ajv.validate(schema, { unknownOption: true }), false);
    });
  }
});
