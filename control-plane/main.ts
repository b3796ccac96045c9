/**
 * @module Entry point of a control-plane node alone (distributed mode). The only control-plane
 * file that reads the environment:
 *
 * - `CONTROL_PLANE_HOST` (127.0.0.1), `CONTROL_PLANE_PORT` (4000)
 * - `DATABASE_URL` (`postgres://…`; unset: SQLite at `$DATA_DIR/gatehouse.db`), `DATA_DIR` (./data)
 * - `OIDC_ISSUER` (required), `OIDC_AUDIENCE` (gatehouse), `OIDC_JWKS_URI` (default `{issuer}/jwks`),
 *   `OIDC_ROLES_CLAIM` (roles), `OIDC_TEAMS_CLAIM` (teams)
 * - `SERVICE_CLIENT_ROLES`: JSON `{ "<client id>": ["admin"] | ["gateway"] }` for automation and gateway nodes
 * - `LOG_LEVEL` (info)
 */
import { join } from 'node:path';
import type { Role } from './auth.js';
import { loadRulesetFile } from './lint/org-ruleset.js';
import { notificationSettingsFromEnv } from './notify/config.js';
import { createControlPlaneLogger, startControlPlaneServer } from './server.js';
import { openStore } from './store/db.js';

const env = process.env;
const logger = createControlPlaneLogger({ level: env.LOG_LEVEL });
const issuer = env.OIDC_ISSUER;
if (issuer === undefined || issuer === '') {
  logger.error('OIDC_ISSUER is not set: the admin API needs the issuer of its access tokens');
  process.exit(2);
}
let serviceClients: Record<string, Role[]> = {};
try {
  serviceClients = env.SERVICE_CLIENT_ROLES ? (JSON.parse(env.SERVICE_CLIENT_ROLES) as Record<string, Role[]>) : {};
} catch {
  logger.error('SERVICE_CLIENT_ROLES is not JSON like {"gatehouse-gateway":["gateway"]}');
  process.exit(2);
}
const store = await openStore({
  ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
  sqliteFile: join(env.DATA_DIR || './data', 'gatehouse.db'),
  logger,
});
function retentionDaysOf(text: string): number {
  const days = Number(text);
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    logger.error('AUDIT_RETENTION_DAYS must be a whole number of days from 1 to 3650', { value: text });
    process.exit(1);
  }
  return days;
}

const server = await startControlPlaneServer({
  store,
  logger,
  host: env.CONTROL_PLANE_HOST || '127.0.0.1',
  port: Number(env.CONTROL_PLANE_PORT || 4000),
  auth: {
    issuer,
    audience: env.OIDC_AUDIENCE || 'gatehouse',
    ...(env.OIDC_JWKS_URI ? { jwksUri: env.OIDC_JWKS_URI } : {}),
    ...(env.OIDC_ROLES_CLAIM ? { rolesClaim: env.OIDC_ROLES_CLAIM } : {}),
    ...(env.OIDC_TEAMS_CLAIM ? { teamsClaim: env.OIDC_TEAMS_CLAIM } : {}),
    serviceClients,
  },
  notifications: notificationSettingsFromEnv(env),
  ...(env.LINT_RULESET_FILE ? { lintRuleset: loadRulesetFile(env.LINT_RULESET_FILE) } : {}),
  ...(env.AUDIT_RETENTION_DAYS ? { retentionDays: retentionDaysOf(env.AUDIT_RETENTION_DAYS) } : {}),
}).catch((error: NodeJS.ErrnoException) => {
  logger.error('control plane could not start', { code: error.code, error: error.message });
  process.exit(1);
});
logger.info('control plane listening', { url: server.url, store: store.dialect });
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    logger.info('shutting down', { signal });
    void server
      .close()
      .then(() => store.close())
      .then(() => process.exit(0));
  });
}
