/**
 * @module The control plane's admin API (express 5) under `/api/v1`: authentication, the
 * resource routers in `routes/`, its own OpenAPI document, and problem+json for every error.
 * Built from injected dependencies (store, logger, clock, authenticator), no globals.
 */
import { EventEmitter } from 'node:events';
import express, { type Express, type Router } from 'express';
import type { Ajv } from 'ajv';
import { createAuthenticator, type AuthOptions } from './auth.js';
import { ControlPlaneError, problemMiddleware, requestIdOf, type Clock, type Logger } from './errors.js';
import { createAdminAjv } from './http.js';
import type { Store } from './store/db.js';
import type { OutboxChannels } from './notify/outbox.js';
import { createControlPlaneMetrics, type ControlPlaneMetrics } from './metrics.js';
import type { LintOptions, RulesetExtension } from './lint/lint.js';

/** A webhook URL check (SSRF): control-plane/notify/url-guard.ts. */
export type WebhookUrlCheck = (url: string) => { ok: true } | { ok: false; reason: string };

export type ControlPlaneEvents = { 'enforcement-changed': [reason: string]; 'notifications-queued': [] };

/** What every router gets. */
export interface ControlPlaneDeps {
  store: Store;
  logger: Logger;
  clock: Clock;
  ajv: Ajv;
  /**
   * Tells the snapshot publisher that something the gateways enforce changed (call after the
   * commit); publications are debounced.
   */
  enforcementChanged(reason: string): void;
  events: EventEmitter<ControlPlaneEvents>;
  /** The governance lint's options: the organisation's ruleset over Gatehouse's. */
  lint: LintOptions;
  /** How long access records are kept, days. */
  retentionDays: number;
  metrics: ControlPlaneMetrics;
  notifications: {
    /** Which channels the outbox writes rows for. */
    channels: OutboxChannels;
    /** Tells the dispatcher that rows were queued (call after the commit). */
    queued(): void;
    /** Refuses webhook URLs that point inside the network (SSRF). */
    checkWebhookUrl: WebhookUrlCheck;
  };
}

/** A router factory; mounted under `/api/v1`, behind authentication unless listed public. */
export type RouteModule = (deps: ControlPlaneDeps) => Router;

export interface ControlPlaneOptions {
  store: Store;
  logger: Logger;
  clock?: Clock;
  auth: AuthOptions;
  /** Routers mounted under /api/v1 after authentication. */
  routes: readonly RouteModule[];
  /** Routers mounted under /api/v1 before authentication (they authenticate themselves). */
  publicRoutes?: readonly RouteModule[];
  /** The admin API's OpenAPI document, served at /api/v1/openapi.json. */
  openapi?: () => object;
  /** Consumer notifications: email rows only when SMTP is configured; the webhook URL check. Default: webhooks only, no extra URL check. */
  notifications?: { email?: boolean; checkWebhookUrl?: WebhookUrlCheck };
  /** The organisation's lint ruleset (control-plane/lint/org-ruleset.ts); default none. */
  lintRuleset?: RulesetExtension;
  /** How long access records are kept, days (AUDIT_RETENTION_DAYS). Default 90. */
  retentionDays?: number;
  /** Served at `/metrics`; default a registry of its own without Node's default metrics. */
  metrics?: ControlPlaneMetrics;
}

export interface ControlPlane {
  app: Express;
  deps: ControlPlaneDeps;
}

/**
 * @example
 * const store = await openStore({ logger });
 * const cp = createControlPlane({ store, logger, auth: { issuer, audience: 'gatehouse' }, routes: ADMIN_ROUTES });
 * http.createServer(cp.app).listen(4000);
 */
export function createControlPlane(options: ControlPlaneOptions): ControlPlane {
  const { store, logger } = options;
  const clock = options.clock ?? { now: () => Date.now() };
  const events = new EventEmitter<ControlPlaneEvents>();
  const deps: ControlPlaneDeps = {
    store,
    logger,
    clock,
    ajv: createAdminAjv(),
    events,
    lint: options.lintRuleset === undefined ? {} : { extend: options.lintRuleset },
    retentionDays: options.retentionDays ?? 90,
    metrics: options.metrics ?? createControlPlaneMetrics({ store }),
    enforcementChanged: (reason) => events.emit('enforcement-changed', reason),
    notifications: {
      channels: { email: options.notifications?.email ?? false },
      queued: () => events.emit('notifications-queued'),
      checkWebhookUrl: options.notifications?.checkWebhookUrl ?? (() => ({ ok: true })),
    },
  };
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use((_req, res, next) => {
    res.setHeader('x-request-id', requestIdOf(res));
    next();
  });
  // Prometheus scrape: counts and depths only, no names of people or secrets.
  app.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', deps.metrics.registry.contentType);
    res.end(await deps.metrics.registry.metrics());
  });
  app.use('/api/v1', express.json({ limit: '4mb', type: ['application/json', 'application/*+json'] }));
  if (options.openapi !== undefined) {
    const document = options.openapi;
    app.get('/api/v1/openapi.json', (_req, res) => {
      res.json(document());
    });
  }
  for (const route of options.publicRoutes ?? []) app.use('/api/v1', route(deps));
  app.use('/api/v1', createAuthenticator(options.auth));
  for (const route of options.routes) app.use('/api/v1', route(deps));
  app.use('/api/v1', (req, _res, next) => next(new ControlPlaneError('resource.not_found', `No admin API endpoint ${req.method} ${req.path}.`)));
  app.use(problemMiddleware(logger));
  return { app, deps };
}
