/**
 * @module A running control plane for tests: the dev OpenID provider, a fresh store on the
 * chosen engine, the admin API on a loopback port, and tokens for the demo users (authorization
 * code + PKCE) and service clients (client credentials).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { createControlPlane, type ControlPlane, type RouteModule } from '../../control-plane/app.js';
import type { RulesetExtension } from '../../control-plane/lint/lint.js';
import { createControlPlaneMetrics } from '../../control-plane/metrics.js';
import { createNotificationService, type NotificationService, type NotificationSettings } from '../../control-plane/notify/config.js';
import type { Role } from '../../control-plane/auth.js';
import { DEMO_SERVICE_CLIENT_ROLES } from '../../control-plane/dev-idp/demo-identities.js';
import type { Clock, Logger } from '../../control-plane/errors.js';
import { loginAs } from '../control-plane/dev-idp-login.js';
import { answerOf } from './answer.js';
import { startDevIdp, type TestIdp } from './dev-idp.js';
import { openTestStore, type Engine, type TestStore } from './stores.js';

export const DEMO_PASSWORDS: Readonly<Record<string, string>> = {
  'olivia.owner': 'demo-owner',
  'rafael.reviewer': 'demo-reviewer',
  'ada.auditor': 'demo-auditor',
  'adam.admin': 'demo-admin',
};

export interface TestControlPlane {
  url: string;
  idp: TestIdp;
  store: TestStore;
  cp: ControlPlane;
  /** The notification dispatcher and senders, when `notifications` was given. */
  notify: NotificationService | undefined;
  /** Access token of a demo user (cached per user). */
  tokenFor(username: keyof typeof DEMO_PASSWORDS | string): Promise<string>;
  /** Access token of a service client (client credentials). */
  serviceToken(clientId: string): Promise<string>;
  /** fetch against the admin API as `who` (a username or `service:<clientId>`), JSON in and out. */
  call(who: string, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; json: any; text: string }>;
  close(): Promise<void>;
}

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {} };

/**
 * @example
 * const cp = await startTestControlPlane(t, 'sqlite', { routes: [teamsRoutes] });
 * if (cp === undefined) return; // PostgreSQL missing outside CI
 * const res = await cp.call('adam.admin', 'POST', '/api/v1/teams', { id: 'erp', name: 'ERP' });
 */
export async function startTestControlPlane(
  t: TestContext,
  engine: Engine,
  options: { routes: readonly RouteModule[]; publicRoutes?: readonly RouteModule[]; clock?: Clock; logger?: Logger; openapi?: () => object; notifications?: NotificationSettings; lintRuleset?: RulesetExtension },
): Promise<TestControlPlane | undefined> {
  const store = await openTestStore(t, engine);
  if (store === undefined) return undefined;
  const idp = await startDevIdp('gatehouse');
  const logger = options.logger ?? quiet;
  const metrics = createControlPlaneMetrics({ store });
  const notify = options.notifications === undefined ? undefined : createNotificationService(options.notifications, { store, logger, clock: options.clock ?? { now: () => Date.now() }, metrics });
  const cp = createControlPlane({
    store,
    logger,
    metrics,
    ...(notify === undefined ? {} : { notifications: notify.controlPlaneOptions }),
    ...(options.lintRuleset === undefined ? {} : { lintRuleset: options.lintRuleset }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    auth: { issuer: idp.idp.issuer, audience: 'gatehouse', jwksUri: idp.idp.jwksUri, serviceClients: DEMO_SERVICE_CLIENT_ROLES as Record<string, Role[]> },
    routes: options.routes,
    ...(options.publicRoutes === undefined ? {} : { publicRoutes: options.publicRoutes }),
    ...(options.openapi === undefined ? {} : { openapi: options.openapi }),
  });
  notify?.attach(cp.deps.events);
  const server: Server = createServer(cp.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tokens = new Map<string, Promise<string>>();
  const tokenFor = (username: string): Promise<string> => {
    let token = tokens.get(username);
    if (token === undefined) {
      token = loginAs(username, DEMO_PASSWORDS[username] ?? 'wrong', { issuer: idp.idp.issuer }).then((t) => t.accessToken);
      tokens.set(username, token);
    }
    return token;
  };
  const serviceToken = (clientId: string): Promise<string> => {
    let token = tokens.get(`service:${clientId}`);
    if (token === undefined) {
      token = idp.token(clientId);
      tokens.set(`service:${clientId}`, token);
    }
    return token;
  };
  return {
    url,
    idp,
    store,
    cp,
    notify,
    tokenFor,
    serviceToken,
    async call(who, method, path, body, headers = {}) {
      const token = who === 'anonymous' ? undefined : who.startsWith('service:') ? await serviceToken(who.slice(8)) : await tokenFor(who);
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      return answerOf(res);
    },
    async close() {
      await notify?.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await idp.close();
      await store.dispose();
    },
  };
}
