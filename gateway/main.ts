/**
 * @module Entry point of a gateway node. The only place that reads the environment:
 * `GATEWAY_SNAPSHOT_FILE`, `GATEWAY_HOST`, `GATEWAY_PORT`, `GATEWAY_STATUS_PORT`,
 * `GATEWAY_ACCESS_LOG`, `LOG_LEVEL`, `REDIS_URL` (shared store for rate counts, idempotency
 * records and cached answers across nodes; unset: in memory per node), `GATEWAY_ADMIN_TOKEN`
 * (bearer token of the status port's admin routes, e.g. cache purge; unset: those routes are
 * off); secrets named by the snapshot are read from the environment too.
 *
 * Snapshot source: `CONTROL_PLANE_URL` set → long-poll the control plane as node
 * `GATEWAY_NODE_ID` (default: the host name), with a token from `OIDC_ISSUER` for
 * `GATEWAY_CLIENT_ID` / `GATEWAY_CLIENT_SECRET` (client credentials), keeping the last good
 * snapshot in `GATEWAY_SNAPSHOT_CACHE` (default `./data/gateway-snapshot.json`); else
 * `GATEWAY_SNAPSHOT_FILE`.
 */
import { hostname } from 'node:os';
import { createGateway } from './gateway.js';
import { createAccessLog, createAppLogger } from './logging.js';
import { createGatewayMetrics } from './metrics.js';
import { createRedisConnection } from './redis.js';
import { listenGateway } from './server.js';
import { createFileSnapshotSource } from './snapshot/file-source.js';
import { createControlPlaneSnapshotSource } from './snapshot/control-plane-source.js';
import type { SnapshotSource } from './snapshot/source.js';

const env = process.env;
const logger = createAppLogger({ component: 'gateway', level: env.LOG_LEVEL });
const snapshotFile = env.GATEWAY_SNAPSHOT_FILE;
const controlPlaneUrl = env.CONTROL_PLANE_URL;
if ((controlPlaneUrl === undefined || controlPlaneUrl === '') && (snapshotFile === undefined || snapshotFile === '')) {
  logger.error('neither CONTROL_PLANE_URL nor GATEWAY_SNAPSHOT_FILE is set: a gateway node needs a snapshot source');
  process.exit(2);
}
function controlPlaneSource(url: string): SnapshotSource {
  const missing = (['OIDC_ISSUER', 'GATEWAY_CLIENT_ID', 'GATEWAY_CLIENT_SECRET'] as const).filter((name) => (env[name] ?? '') === '');
  if (missing.length > 0) {
    logger.error('CONTROL_PLANE_URL needs credentials for the control plane', { missing });
    process.exit(2);
  }
  return createControlPlaneSnapshotSource({
    controlPlaneUrl: url,
    nodeId: env.GATEWAY_NODE_ID || hostname(),
    issuer: env.OIDC_ISSUER!,
    clientId: env.GATEWAY_CLIENT_ID!,
    clientSecret: env.GATEWAY_CLIENT_SECRET!,
    cacheFile: env.GATEWAY_SNAPSHOT_CACHE || './data/gateway-snapshot.json',
    logger,
  });
}
const adminToken = env.GATEWAY_ADMIN_TOKEN;
if (adminToken !== undefined && adminToken !== '' && adminToken.length < 24) {
  // A guessable operator token on a port that purges caches is worse than none.
  logger.error('GATEWAY_ADMIN_TOKEN is too short: use at least 24 characters (e.g. openssl rand -hex 24)');
  process.exit(2);
}
const accessLog = createAccessLog({ file: env.GATEWAY_ACCESS_LOG });
const redis = env.REDIS_URL === undefined || env.REDIS_URL === '' ? undefined : createRedisConnection({ url: env.REDIS_URL, logger });
const gateway = createGateway({
  ...(redis === undefined ? {} : { redis: redis.client }),
  ...(adminToken === undefined || adminToken === '' ? {} : { adminToken }),
  snapshotSource: controlPlaneUrl ? controlPlaneSource(controlPlaneUrl) : createFileSnapshotSource({ path: snapshotFile!, logger }),
  logger,
  accessLog,
  metrics: createGatewayMetrics({ defaultMetrics: true }),
  resolveSecret: (name) => env[name],
});
const port = Number(env.GATEWAY_PORT ?? 8080);
const statusPort = Number(env.GATEWAY_STATUS_PORT ?? 8081);
const servers = await listenGateway({ gateway, host: env.GATEWAY_HOST ?? '0.0.0.0', port, statusPort }).catch((error: NodeJS.ErrnoException) => {
  logger.error('gateway could not listen', { port, statusPort, code: error.code, error: error.message });
  process.exit(1);
});
logger.info('gateway listening', { traffic: servers.trafficUrl, status: servers.statusUrl });

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    logger.info('shutting down', { signal });
    void servers
      .close()
      .then(() => redis?.close())
      .then(() => accessLog.close())
      .then(() => process.exit(0));
  });
}
