/**
 * @module `rbac`: an operation passes only when every scope it needs is granted by the token
 * (set by the authentication policy) and by the consumer's plan (set by `subscription`), so a
 * token broader than the plan gains nothing. Missing: 403 `access.scope_missing` naming it.
 *
 * What an operation needs comes from the bound version's contract when it has one: the
 * operation's OpenAPI `security` (else the document's), an OR of requirement objects, each an
 * AND of scopes. The config's `requiredScopes` / `defaultScopes` apply only where the contract
 * is silent (no contract, or no `security` at either level).
 */
import { contractOperations, securityAlternatives, type RequestContext } from '../../contracts/index.js';
import { definePolicy } from '../define-policy.js';
import { GatewayError } from '../errors.js';
import { rbacSchema, type RbacConfig } from './schema.js';

/** Alternatives of scope lists per operation id, from the contract; absent: the contract is silent. */
type ContractScopes = ReadonlyMap<string, readonly (readonly string[])[]>;

/**
 * Reads each declared operation's security once per snapshot. An operation the snapshot routes
 * but the contract does not declare is a configuration mistake: the snapshot is refused.
 */
function scopesFromContract(contract: Record<string, unknown>, operationIds: readonly string[]): ContractScopes {
  const operations = contractOperations(contract);
  const scopes = new Map<string, readonly (readonly string[])[]>();
  for (const id of operationIds) {
    const operation = operations.get(id);
    if (operation === undefined) throw new Error(`operation "${id}": the contract has no operation with operationId "${id}"`);
    const alternatives = securityAlternatives(contract, operation);
    if (alternatives === undefined) continue;
    // One alternative needing nothing (`security: []`, or `{}` among them) lets every caller through.
    scopes.set(id, alternatives.length === 0 || alternatives.some((a) => a.length === 0) ? [] : alternatives);
  }
  return scopes;
}

/** The token grants it (or, for a caller without token scopes, the plan does) and the plan grants it too. */
function granted(scope: string, token: readonly string[] | undefined, plan: ReadonlySet<string> | undefined): boolean {
  const byToken = token === undefined ? plan !== undefined : token.includes(scope);
  return byToken && (plan === undefined || plan.has(scope));
}

function scopeMissing(ctx: RequestContext, scope: string, alternatives: number): GatewayError {
  const others = alternatives > 1 ? ' (or every scope of another of its security requirements)' : '';
  return new GatewayError('access.scope_missing', `Operation ${ctx.operationId ?? ''} needs scope "${scope}"${others}.`, {
    extensions: { scope },
  });
}

/**
 * @example
 * // snapshot binding; with a contract the scopes come from its `security`
 * { "policy": "rbac", "config": { "requiredScopes": { "createOrder": ["orders:write"] }, "defaultScopes": ["orders:read"] } }
 */
export const rbacPolicy = definePolicy<RbacConfig>({
  name: 'rbac',
  priority: 950,
  schema: rbacSchema,
  create(config, deps) {
    const required = new Map(Object.entries(config.requiredScopes));
    const planScopes = new Map([...deps.directory.plans].map(([id, plan]) => [id, new Set(plan.scopes)]));
    const spec = deps.version?.spec;
    const fromContract: ContractScopes =
      spec?.contract === undefined ? new Map() : scopesFromContract(spec.contract, spec.operations.map((op) => op.id));

    return function rbac(_req, _res, ctx) {
      // A token's scopes count only where the plan grants them too; a caller without token
      // scopes (an API key) gets what its plan grants.
      const token = ctx.scopes;
      const plan = ctx.consumer?.plan === undefined ? undefined : planScopes.get(ctx.consumer.plan);
      const alternatives = ctx.operationId === undefined ? undefined : fromContract.get(ctx.operationId);
      if (alternatives !== undefined) {
        if (alternatives.length === 0) return;
        let firstMissing: string | undefined;
        for (const scopes of alternatives) {
          let missing: string | undefined;
          for (const scope of scopes) {
            if (!granted(scope, token, plan)) {
              missing = scope;
              break;
            }
          }
          if (missing === undefined) return;
          firstMissing ??= missing;
        }
        throw scopeMissing(ctx, firstMissing!, alternatives.length);
      }
      const needed = (ctx.operationId === undefined ? undefined : required.get(ctx.operationId)) ?? config.defaultScopes;
      for (const scope of needed) {
        if (!granted(scope, token, plan)) throw scopeMissing(ctx, scope, 1);
      }
    };
  },
});
