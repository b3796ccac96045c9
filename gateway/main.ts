/**
 * @module Entry point of a gateway node. The only place that reads the environment:
 * `GATEWAY_SNAPSHOT_FILE`, `GATEWAY_HOST`, `GATEWAY_PORT`, `GATEWAY_STATUS_PORT`,
 * `GATEWAY_ACCESS_LOG`, `LOG_LEVEL`, `REDIS_URL` (shared store for rate counts, idempotency
 * records and cached answers across nodes; unset: in memory per node), `GATEWAY_ADMIN_TOKEN`
 * (bearer token of the status port's admin routes, e.g. cache purge; unset: those routes are
 * off); secrets named by the snapshot are read from the environment too.
 */
import { createGateway } from './gateway.js';
import { createAccessLog, createAppLogger } from './logging.js';
import { createGatewayMetrics } from './metrics.js';
import { createRedisConnection } from './redis.js';
import { listenGateway } from './server.js';
import { createFileSnapshotSource } from './snapshot/file-source.js';

const env = process.env;
const logger = createAppLogger({ component: 'gateway', level: env.LOG_LEVEL });
const snapshotFile = env.GATEWAY_SNAPSHOT_FILE;
if (snapshotFile === undefined || snapshotFile === '') {
  logger.error('GATEWAY_SNAPSHOT_FILE is not set: a gateway node needs a snapshot source');
  process.exit(2);
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
  snapshotSource: createFileSnapshotSource({ path: snapshotFile, logger }),
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
