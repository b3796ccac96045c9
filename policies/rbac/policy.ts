/**
 * @module `rbac`: an operation passes only when every scope it needs is granted by the token
 * (set by the authentication policy) and by the consumer's plan (set by `subscription`), so a
 * token broader than the plan gains nothing. Missing: 403 `access.scope_missing` naming it.
 */
import { definePolicy } from '../define-policy.js';
import { GatewayError } from '../errors.js';
import { rbacSchema, type RbacConfig } from './schema.js';

export const rbacPolicy = definePolicy<RbacConfig>({
  name: 'rbac',
  priority: 950,
  schema: rbacSchema,
  create(config, deps) {
    const required = new Map(Object.entries(config.requiredScopes));
    const planScopes = new Map([...deps.directory.plans].map(([id, plan]) => [id, new Set(plan.scopes)]));

    return function rbac(_req, _res, ctx) {
      const needed = (ctx.operationId === undefined ? undefined : required.get(ctx.operationId)) ?? config.defaultScopes;
      if (needed.length === 0) return;
      // A token's scopes count only where the plan grants them too; a caller without token
      // scopes (an API key) gets what its plan grants.
      const granted = ctx.scopes;
      const plan = ctx.consumer?.plan === undefined ? undefined : planScopes.get(ctx.consumer.plan);
      for (const scope of needed) {
        const byToken = granted === undefined ? plan !== undefined : granted.includes(scope);
        if (!byToken || (plan !== undefined && !plan.has(scope))) {
          throw new GatewayError('access.scope_missing', `Operation ${ctx.operationId ?? ''} needs scope "${scope}".`, {
            extensions: { scope },
          });
        }
      }
    };
  },
});
