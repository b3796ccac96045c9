/**
 * The control plane's policy schema registry matches the policies the gateway ships (same
 * names, same schema objects, stage from the priority), and its binding check reports problems
 * with pointers and leaves the bindings untouched.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPolicyBindingChecker, POLICY_SCHEMAS } from '../../control-plane/policy-schemas.js';
import { ROUTER_PRIORITY } from '../../policies/define-policy.js';
import { BUILT_IN_POLICIES } from '../../policies/index.js';

describe('control-plane policy schemas', () => {
  it('lists every built-in policy with its own schema and the stage its priority implies', () => {
    assert.deepEqual([...POLICY_SCHEMAS.keys()].sort(), BUILT_IN_POLICIES.map((p) => p.name).sort());
    for (const policy of BUILT_IN_POLICIES) {
      const entry = POLICY_SCHEMAS.get(policy.name)!;
      assert.equal(entry.schema, policy.schema, `${policy.name}: the same schema object`);
      assert.equal(entry.stage, policy.priority > ROUTER_PRIORITY ? 'gateway' : 'version', `${policy.name}: stage`);
    }
  });

  it('checks version bindings: unknown, gateway-wide, twice, config against the schema; defaults never stored', () => {
    const check = createPolicyBindingChecker();
    const bindings = [
      { policy: 'rate-limit', config: {} },
      { policy: 'rbac', config: { defaultScopes: 'orders:read', extra: true } },
      { policy: 'no-such-policy', config: {} },
      { policy: 'access-record', config: {} },
      { policy: 'rate-limit', config: {} },
      { policy: 'token-introspection', config: { issuer: 'https://idp.example', clientId: 'gw', clientSecret: 'inline' } },
    ];
    const copy = structuredClone(bindings);
    const problems = check(bindings, '/body/policies');
    assert.deepEqual(
      problems.map((p) => p.pointer),
      ['/body/policies/1/config/extra', '/body/policies/1/config/defaultScopes', '/body/policies/2/policy', '/body/policies/3/policy', '/body/policies/4/policy', '/body/policies/5/config/clientSecret'],
    );
    assert.match(problems[3]!.detail, /gateway-wide/);
    assert.match(problems[4]!.detail, /bound twice/);
    assert.deepEqual(bindings, copy, 'defaults are applied to a copy only');
    assert.deepEqual(check([{ policy: 'rate-limit', config: { headers: 'onRefusal' } }, { policy: 'rbac', config: {} }], '/x'), []);
  });
});
