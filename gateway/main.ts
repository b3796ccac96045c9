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
 * `GATEWAY_SNAPSHOT_FILE`. With a control plane, access records also go to a spool in
 * `GATEWAY_SPOOL_DIR` (default `./data/spool`) and are shipped to it with the same token.
 *
 * Async delivery queue: with `REDIS_URL`, Redis Streams shared by every node
 * (`GATEWAY_ASYNC_REDIS_PREFIX`, default `gatehouse:async:`; `GATEWAY_ASYNC_PARTITIONS`, default
 * 16, the same on every node; `GATEWAY_ASYNC_LEASE_MS`, default 10000); else an fsynced log in
 * `GATEWAY_ASYNC_DIR` (default `./data/async`). `GATEWAY_ASYNC_CONCURRENCY` (default 8) deliveries
 * in flight per node. `GATEWAY_ADMIN_LABEL` (default `gateway-admin`) names the admin token in audit lines.
 */
import { hostname } from 'node:os';
import { createAccessShipper, type AccessShipper } from './access-shipper.js';
import { createFileAsyncStore } from './async/file-store.js';
import { createRedisAsyncStore } from './async/redis-store.js';
import type { AsyncStore } from './async/store.js';
import { createAccessSpool, type AccessSpool } from './access-spool.js';
import { createGateway } from './gateway.js';
import { createAccessLog, createAppLogger, teeAccessLog } from './logging.js';
import { createGatewayMetrics } from './metrics.js';
import { missingNodeFlags } from './node-flags.js';
import { listenGateway } from './server.js';
import { createFileSnapshotSource } from './snapshot/file-source.js';
import { createControlPlaneSnapshotSource } from './snapshot/control-plane-source.js';
import { createControlPlaneTokenSource } from './snapshot/control-plane-token.js';
import type { SnapshotSource } from './snapshot/source.js';

const env = process.env;
const logger = createAppLogger({ component: 'gateway', level: env.LOG_LEVEL });
const missingFlags = missingNodeFlags(process.execArgv);
if (missingFlags.length > 0) {
  // It runs, but the first burst after a quiet spell finds it cold (see node-flags.ts).
  logger.warn('started without the gateway node flags: start it with `npm run gateway`', { missing: missingFlags });
}
const snapshotFile = env.GATEWAY_SNAPSHOT_FILE;
const controlPlaneUrl = env.CONTROL_PLANE_URL;
if ((controlPlaneUrl === undefined || controlPlaneUrl === '') && (snapshotFile === undefined || snapshotFile === '')) {
  logger.error('neither CONTROL_PLANE_URL nor GATEWAY_SNAPSHOT_FILE is set: a gateway node needs a snapshot source');
  process.exit(2);
}
const metrics = createGatewayMetrics({ defaultMetrics: true });
/** A node fed by a control plane: snapshots from it, access records to it, one token for both. */
function controlPlaneLink(url: string): { source: SnapshotSource; spool: AccessSpool; shipper: AccessShipper } {
  const missing = (['OIDC_ISSUER', 'GATEWAY_CLIENT_ID', 'GATEWAY_CLIENT_SECRET'] as const).filter((name) => (env[name] ?? '') === '');
  if (missing.length > 0) {
    logger.error('CONTROL_PLANE_URL needs credentials for the control plane', { missing });
    process.exit(2);
  }
  const nodeId = env.GATEWAY_NODE_ID || hostname();
  const tokens = createControlPlaneTokenSource({ issuer: env.OIDC_ISSUER!, clientId: env.GATEWAY_CLIENT_ID!, clientSecret: env.GATEWAY_CLIENT_SECRET!, logger });
  const spoolDir = env.GATEWAY_SPOOL_DIR || './data/spool';
  let spool: AccessSpool;
  try {
    spool = createAccessSpool({ dir: spoolDir, logger, metrics });
  } catch (error) {
    logger.error('the access-record spool cannot be opened', { dir: spoolDir, code: (error as NodeJS.ErrnoException).code, error: (error as Error).message });
    process.exit(2);
  }
  return {
    source: createControlPlaneSnapshotSource({ controlPlaneUrl: url, nodeId, tokens, cacheFile: env.GATEWAY_SNAPSHOT_CACHE || './data/gateway-snapshot.json', logger }),
    spool,
    shipper: createAccessShipper({
      spool,
      controlPlaneUrl: url,
      nodeId,
      getToken: (signal) => tokens.get(signal),
      invalidateToken: () => tokens.invalidate(),
      logger,
      metrics,
    }),
  };
}
const adminToken = env.GATEWAY_ADMIN_TOKEN;
if (adminToken !== undefined && adminToken !== '' && adminToken.length < 24) {
  // A guessable operator token on a port that purges caches is worse than none.
  logger.error('GATEWAY_ADMIN_TOKEN is too short: use at least 24 characters (e.g. openssl rand -hex 24)');
  process.exit(2);
}
const fileAccessLog = createAccessLog({ file: env.GATEWAY_ACCESS_LOG });
const link = controlPlaneUrl ? controlPlaneLink(controlPlaneUrl) : undefined;
// Loaded only when configured: a node without Redis never holds the client's modules in its heap.
const redis =
  env.REDIS_URL === undefined || env.REDIS_URL === '' ? undefined : (await import('./redis.js')).createRedisConnection({ url: env.REDIS_URL, logger });
/** A positive integer from the environment, or the default; anything else stops the node. */
function intEnv(name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  if (!/^[1-9][0-9]*$/.test(text)) {
    logger.error(`${name} must be a positive integer`, { value: text });
    process.exit(2);
  }
  return Number(text);
}
function openAsyncStore(): AsyncStore | undefined {
  if (redis !== undefined) {
    return createRedisAsyncStore({
      redis: redis.client,
      logger,
      nodeId: env.GATEWAY_NODE_ID || hostname(),
      prefix: env.GATEWAY_ASYNC_REDIS_PREFIX || 'gatehouse:async:',
      partitions: intEnv('GATEWAY_ASYNC_PARTITIONS', 16),
      leaseMs: intEnv('GATEWAY_ASYNC_LEASE_MS', 10_000),
    });
  }
  const dir = env.GATEWAY_ASYNC_DIR || './data/async';
  try {
    return createFileAsyncStore({ dir, logger });
  } catch (error) {
    // A directory asked for must work; the default one may be unwritable on a node that queues nothing.
    logger.error('the async delivery queue cannot be opened; snapshots binding async-delivery will be refused', { dir, code: (error as NodeJS.ErrnoException).code, error: (error as Error).message });
    if (env.GATEWAY_ASYNC_DIR) process.exit(2);
    return undefined;
  }
}
const asyncStore = openAsyncStore();
const gateway = createGateway({
  ...(redis === undefined ? {} : { redis: redis.client }),
  ...(adminToken === undefined || adminToken === '' ? {} : { adminToken }),
  ...(env.GATEWAY_ADMIN_LABEL ? { adminLabel: env.GATEWAY_ADMIN_LABEL } : {}),
  ...(asyncStore === undefined ? {} : { asyncStore, asyncConcurrency: intEnv('GATEWAY_ASYNC_CONCURRENCY', 8) }),
  snapshotSource: link?.source ?? createFileSnapshotSource({ path: snapshotFile!, logger }),
  logger,
  // With a control plane, every record goes to the file log and to the spool that ships them.
  accessLog: link === undefined ? fileAccessLog : teeAccessLog([fileAccessLog, link.spool]),
  metrics,
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
    // Requests finish first; then the spool writes what it holds (so nothing is left in memory)
    // and the shipper stops after the batch in flight: what is not shipped goes out at the next start.
    void servers
      .close()
      .then(() => asyncStore?.close())
      .then(() => redis?.close())
      .then(() => link?.spool.close())
      .then(() => link?.shipper.close())
      .then(() => fileAccessLog.close())
      .then(() => process.exit(0));
  });
}
