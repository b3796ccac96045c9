/**
 * @module A listening control plane: the admin API with every resource router, snapshot
 * publication and gateway-node endpoints, its OpenAPI document, and (demo mode) the
 * development OpenID provider mounted at `/oidc` on the same port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import winston from 'winston';
import { createControlPlane, type ControlPlane } from './app.js';
import type { AuthOptions } from './auth.js';
import type { Clock, Logger } from './errors.js';
import { buildAdminOpenApi } from './openapi.js';
import { ADMIN_OPENAPI, ADMIN_ROUTES } from './routes/index.js';
import { runRetention } from './routes/audit.js';
import { createControlPlaneMetrics } from './metrics.js';
import { createGatewayRoutes, gatewayOpenApi } from './routes/gateway.js';
import type { Store } from './store/db.js';
import { createNotificationService, type NotificationSettings } from './notify/config.js';
import type { NotificationDispatcher } from './notify/dispatcher.js';
import type { RulesetExtension } from './lint/lint.js';

/** JSON-lines logger for the control plane (winston). */
export function createControlPlaneLogger(options: { level?: string; component?: string; stream?: NodeJS.WritableStream } = {}): winston.Logger & Logger {
  return winston.createLogger({
    level: options.level ?? 'info',
    defaultMeta: { component: options.component ?? 'control-plane' },
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [options.stream === undefined ? new winston.transports.Console() : new winston.transports.Stream({ stream: options.stream })],
  });
}

export interface ControlPlaneServerOptions {
  store: Store;
  logger: Logger;
  clock?: Clock;
  auth: AuthOptions;
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Demo mode: requests under `/oidc` go to the dev OpenID provider. */
  oidcCallback?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Publication debounce (ms); defaults in the publisher. */
  publishDebounceMs?: number;
  /** Consumer notifications (see notify/config.ts). Default: webhooks to public addresses only, no email. */
  notifications?: NotificationSettings;
  /** The organisation's lint ruleset (LINT_RULESET_FILE); default none. */
  lintRuleset?: RulesetExtension;
  /** Access-record retention, days (AUDIT_RETENTION_DAYS); default 90. Purged once an hour. */
  retentionDays?: number;
}

export interface ControlPlaneServer {
  url: string;
  server: Server;
  cp: ControlPlane;
  dispatcher: NotificationDispatcher;
  /** Stops long polls and the publisher, then the listener. */
  close(): Promise<void>;
}

/**
 * Starts the HTTP listener first when the caller needs the URL before building (the dev
 * IdP's issuer contains the port): use `listenControlPlane` with port 0 and read `url`.
 *
 * @example
 * const store = await openStore({ databaseUrl: process.env.DATABASE_URL, logger });
 * const cp = await startControlPlaneServer({ store, logger, port: 4000, auth: { issuer, audience: 'gatehouse' } });
 */
export async function startControlPlaneServer(options: ControlPlaneServerOptions): Promise<ControlPlaneServer> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  return attachControlPlane(server, options);
}

/** Builds the control plane onto a server that already listens (its port is known). */
export function attachControlPlane(server: Server, options: Omit<ControlPlaneServerOptions, 'port' | 'host'>): ControlPlaneServer {
  const gateway = createGatewayRoutes(options.publishDebounceMs === undefined ? {} : { debounceMs: options.publishDebounceMs });
  const metrics = createControlPlaneMetrics({ store: options.store, defaultMetrics: true });
  const notify = createNotificationService(options.notifications ?? { webhook: { allowLoopback: false, allowList: [] } }, {
    store: options.store,
    logger: options.logger,
    clock: options.clock ?? { now: () => Date.now() },
    metrics,
  });
  const cp = createControlPlane({
    store: options.store,
    logger: options.logger,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    auth: options.auth,
    routes: [...ADMIN_ROUTES, gateway.routes],
    openapi: () => buildAdminOpenApi([...ADMIN_OPENAPI, gatewayOpenApi]),
    notifications: notify.controlPlaneOptions,
    metrics,
    ...(options.lintRuleset === undefined ? {} : { lintRuleset: options.lintRuleset }),
    ...(options.retentionDays === undefined ? {} : { retentionDays: options.retentionDays }),
  });
  notify.attach(cp.deps.events);
  // Retention: old access records go once an hour, each purge an admin audit event.
  const purge = (): void => {
    runRetention(options.store, cp.deps.clock, cp.deps.retentionDays, { actor: 'gatehouse-retention', role: 'system' })
      .then((done) => {
        if (done.batches > 0) options.logger.info('access records past retention purged', { batches: done.batches, records: done.records, cutoff: done.cutoff });
      })
      .catch((error: unknown) => options.logger.error('retention purge failed', { error: (error as Error).message }));
  };
  const retention = setInterval(purge, 3_600_000);
  retention.unref();
  setImmediate(purge);
  const oidc = options.oidcCallback;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (oidc !== undefined && (url === '/oidc' || url.startsWith('/oidc/') || url.startsWith('/oidc?'))) {
      oidc(req, res);
      return;
    }
    cp.app(req, res);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    server,
    cp,
    dispatcher: notify.dispatcher,
    async close() {
      clearInterval(retention);
      await notify.close();
      await gateway.close();
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
