/**
 * @module The config schemas of the built-in policies, by name, and the check of a version's
 * policy bindings against them. Only the pure `policies/<name>/schema.ts` files are imported
 * (DESIGN §3): the control plane refuses a bad binding when it is written, long before a
 * gateway would refuse the snapshot, without loading any policy code.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { PolicyBinding } from '../contracts/index.js';
import { accessRecordSchema } from '../policies/access-record/schema.js';
import { apiKeySchema } from '../policies/api-key/schema.js';
import { asyncDeliverySchema } from '../policies/async-delivery/schema.js';
import { cacheSchema } from '../policies/cache/schema.js';
import { contractValidationSchema } from '../policies/contract-validation/schema.js';
import { fieldAuthSchema } from '../policies/field-auth/schema.js';
import { idempotencySchema } from '../policies/idempotency/schema.js';
import { jwtAuthSchema } from '../policies/jwt-auth/schema.js';
import { orderStatusSchema } from '../policies/order-status/schema.js';
import { ownershipPolicySchema } from '../policies/ownership/schema.js';
import { quotaSchema } from '../policies/quota/schema.js';
import { rateLimitSchema } from '../policies/rate-limit/schema.js';
import { rbacSchema } from '../policies/rbac/schema.js';
import { requestHygieneSchema } from '../policies/request-hygiene/schema.js';
import { requestLimitsSchema } from '../policies/request-limits/schema.js';
import { subscriptionSchema } from '../policies/subscription/schema.js';
import { tokenIntrospectionSchema } from '../policies/token-introspection/schema.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/**
 * Where a policy may be bound: `gateway` policies run before routing for every request
 * (priority above the router's 5000) and belong to the gateway settings; `version` policies
 * are bound per API version. Mirrors each `definePolicy` priority, which the control plane may
 * not import; test/control-plane/policy-schemas.test.ts keeps the two in step.
 */
export type PolicyStage = 'gateway' | 'version';

export interface PolicySchemaEntry {
  readonly name: string;
  readonly stage: PolicyStage;
  /** The policy's config JSON Schema (its `schema.ts`), also served to render forms. */
  readonly schema: object;
}

/** Every built-in policy's config schema, by policy name. */
export const POLICY_SCHEMAS: ReadonlyMap<string, PolicySchemaEntry> = new Map(
  (
    [
      ['access-record', 'gateway', accessRecordSchema],
      ['api-key', 'version', apiKeySchema],
      ['async-delivery', 'version', asyncDeliverySchema],
      ['cache', 'version', cacheSchema],
      ['contract-validation', 'version', contractValidationSchema],
      ['field-auth', 'version', fieldAuthSchema],
      ['idempotency', 'version', idempotencySchema],
      ['jwt-auth', 'version', jwtAuthSchema],
      ['order-status', 'version', orderStatusSchema],
      ['ownership', 'version', ownershipPolicySchema],
      ['quota', 'version', quotaSchema],
      ['rate-limit', 'version', rateLimitSchema],
      ['rbac', 'version', rbacSchema],
      ['request-hygiene', 'gateway', requestHygieneSchema],
      ['request-limits', 'version', requestLimitsSchema],
      ['subscription', 'version', subscriptionSchema],
      ['token-introspection', 'version', tokenIntrospectionSchema],
    ] as const
  ).map(([name, stage, schema]) => [name, { name, stage, schema }]),
);

/** One problem with a binding, as the admin API reports it. */
export interface FieldProblem {
  pointer: string;
  detail: string;
}

/** Checks bindings; returns every problem, with pointers below `base` (e.g. `/body/policies`). */
export type PolicyBindingChecker = (bindings: readonly PolicyBinding[], base: string) => FieldProblem[];

function pointerOf(error: ErrorObject): string {
  if (error.keyword === 'required') return `${error.instancePath}/${String((error.params as { missingProperty?: string }).missingProperty)}`;
  if (error.keyword === 'additionalProperties') return `${error.instancePath}/${String((error.params as { additionalProperty?: string }).additionalProperty)}`;
  return error.instancePath;
}

/**
 * A binding checker with its own ajv, configured as the gateway's snapshot compiler (strict,
 * defaults applied), so what passes here compiles there. Defaults are applied to a copy only:
 * the stored binding stays exactly as written. Schemas compile on first use.
 *
 * @param stage Which policies may be bound. Default `version`.
 * @example
 * const check = createPolicyBindingChecker();
 * check([{ policy: 'rbac', config: { defaultScopes: 'orders:read' } }], '/body/policies');
 * // [{ pointer: '/body/policies/0/config/defaultScopes', detail: 'must be array' }]
 */
export function createPolicyBindingChecker(stage: PolicyStage = 'version'): PolicyBindingChecker {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  const compiled = new Map<string, ValidateFunction>();
  const validatorOf = (entry: PolicySchemaEntry): ValidateFunction => {
    let validate = compiled.get(entry.name);
    if (validate === undefined) compiled.set(entry.name, (validate = ajv.compile(entry.schema)));
    return validate;
  };
  return (bindings, base) => {
    const problems: FieldProblem[] = [];
    const seen = new Set<string>();
    bindings.forEach((binding, i) => {
      const at = `${base}/${i}`;
      const entry = POLICY_SCHEMAS.get(binding.policy);
      if (entry === undefined) {
        problems.push({ pointer: `${at}/policy`, detail: `is not a known policy (known: ${[...POLICY_SCHEMAS.values()].filter((e) => e.stage === stage).map((e) => e.name).join(', ')})` });
        return;
      }
      if (entry.stage !== stage) {
        problems.push({ pointer: `${at}/policy`, detail: `"${entry.name}" is a ${entry.stage}-wide policy and cannot be bound to ${stage === 'version' ? 'an API version' : 'the gateway'}` });
        return;
      }
      if (seen.has(entry.name)) {
        problems.push({ pointer: `${at}/policy`, detail: `"${entry.name}" is bound twice` });
        return;
      }
      seen.add(entry.name);
      const validate = validatorOf(entry);
      if (!validate(structuredClone(binding.config))) {
        for (const error of validate.errors ?? []) {
          problems.push({ pointer: `${at}/config${pointerOf(error)}`, detail: error.keyword === 'additionalProperties' ? 'is not a known property' : (error.message ?? 'is invalid') });
        }
      }
    });
    return problems;
  };
}
