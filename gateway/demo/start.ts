/**
 * @module What `npm start` runs: the whole governed landscape in one process (DESIGN §2, the
 * embedded default). The control plane (admin API, snapshot publication, gateway-node
 * endpoints) with the development OpenID provider under `/oidc` on the same port, its store
 * (SQLite under the data directory, or PostgreSQL), seeded with the demo catalogue on first
 * start; the Odoo, Salesforce and Zendesk simulators; and a gateway node fed by the control
 * plane exactly as a distributed node is (long poll as the `gatehouse-gateway` service client),
 * so what is published through the admin API is what the gateway enforces. This launcher is the
 * composition root of the embedded mode, the one file that may import both `gateway/` and
 * `control-plane/` (test/architecture.test.ts names it). The only demo file that reads the
 * environment:
 *
 * - `GATEWAY_HOST` (default `127.0.0.1`; every listener binds it), `GATEWAY_PORT` (8080),
 *   `GATEWAY_STATUS_PORT` (8081)
 * - `CONTROL_PLANE_PORT` (4000): admin API under `/api/v1`, dev OpenID provider at `/oidc`
 * - `ODOO_SIM_PORT` (8069), `SALESFORCE_SIM_PORT` (8070), `ZENDESK_SIM_PORT` (8071)
 * - `DEMO_DATA_DIR` (`./data`): holds the store `gatehouse.db`, the gateway's access-record
 *   spool `spool/` (shipped to the control plane, so its audit holds the demo's traffic) and,
 *   unless `GATEWAY_ACCESS_LOG` says otherwise, `access.log`
 * - `DATABASE_URL` (`postgres://…`): the store in PostgreSQL instead of SQLite
 * - `ODOO_API_KEY`, `SALESFORCE_CLIENT_SECRET`, `ZENDESK_API_TOKEN`: the upstream credentials
 *   the simulators accept and the gateway uses; random ones are generated when unset
 * - `LOG_LEVEL` (default `info`)
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { createAccessShipper } from '../access-shipper.js';
import { createAccessSpool, type AccessSpool } from '../access-spool.js';
import { createGateway } from '../gateway.js';
import { createFileAsyncStore } from '../async/file-store.js';
import type { AsyncStore } from '../async/store.js';
import { createAccessLog, createAppLogger, teeAccessLog } from '../logging.js';
import { createGatewayMetrics } from '../metrics.js';
import { listenGateway, type GatewayServers } from '../server.js';
import { createControlPlaneSnapshotSource } from '../snapshot/control-plane-source.js';
import { createControlPlaneTokenSource } from '../snapshot/control-plane-token.js';
import {
  startOdooSimulator,
  startSalesforceSimulator,
  startZendeskSimulator,
  type SimulatorHandle,
} from '../../test/simulators/index.js';
import type { Role } from '../../control-plane/auth.js';
import {
  DEMO_AUDIENCE,
  DEMO_ODOO_DATABASE,
  DEMO_ODOO_LOGIN,
  DEMO_SALESFORCE_CLIENT_ID,
  DEMO_SECRET_NAMES,
  DEMO_ZENDESK_EMAIL,
  type DemoEndpoints,
  type DemoSecretName,
} from '../../control-plane/demo/catalogue.js';
import { demoCatalogueDrift, seedDemoCatalogue } from '../../control-plane/demo/seed.js';
import { createDevIdentityProvider, type DevIdentityProvider } from '../../control-plane/dev-idp/dev-idp.js';
import { DEMO_CLIENTS, DEMO_SERVICE_CLIENT_ROLES, demoIdentities } from '../../control-plane/dev-idp/demo-identities.js';
import { attachControlPlane, createControlPlaneLogger, type ControlPlaneServer } from '../../control-plane/server.js';
import type { RulesetExtension } from '../../control-plane/lint/lint.js';
import { loadRulesetFile } from '../../control-plane/lint/org-ruleset.js';
import { notificationSettingsFromEnv, type NotificationSettings } from '../../control-plane/notify/config.js';
import { openStore, type Store } from '../../control-plane/store/db.js';
import { ADMIN_EXAMPLES, ADMIN_TOKEN_COMMAND, DEMO_EXAMPLES, DEMO_TOKEN_COMMANDS, renderCurlCommand, renderTokenCommand } from './examples.js';

const env = process.env;
const logger = createAppLogger({ component: 'demo', level: env.LOG_LEVEL });
const gatewayLogger = createAppLogger({ component: 'gateway', level: env.LOG_LEVEL });
const controlPlaneLogger = createControlPlaneLogger({ component: 'control-plane', level: env.LOG_LEVEL });

/** Everything started so far, closed in reverse order on shutdown or a failed start. */
const closers: Array<{ name: string; close: () => Promise<void> }> = [];

async function closeAll(): Promise<void> {
  for (const { name, close } of closers.splice(0).reverse()) {
    try {
      await close();
    } catch (error) {
      logger.warn('close failed', { listener: name, error: (error as Error).message });
    }
  }
}

async function fail(message: string, meta: Record<string, unknown> = {}): Promise<never> {
  logger.error(message, meta);
  process.stderr.write(`gatehouse demo: ${message}\n`);
  await closeAll();
  process.exit(1);
}

let stopping = false;
/**
 * SIGINT / SIGTERM: stop the gateway (requests in flight finish, its long poll is released),
 * write the access spool to disk and stop its shipper (what is not shipped goes at the next
 * start), flush the access log, stop the control plane (waiting long polls answer) and close the
 * store, stop the simulators and the identity provider.
 */
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    logger.warn('second signal: exiting without waiting', { signal });
    process.exit(1);
  }
  stopping = true;
  logger.info('shutting down', { signal });
  const watchdog = setTimeout(() => {
    logger.error('shutdown took longer than 15 s; exiting');
    process.exit(1);
  }, 15_000);
  watchdog.unref();
  await closeAll();
  logger.info('stopped');
  process.exit(0);
}
// Installed before anything listens, so a signal during start-up also closes what exists.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, (s) => void shutdown(s));

function portFromEnv(name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    logger.error('invalid port', { variable: name });
    process.stderr.write(`gatehouse demo: ${name}=${JSON.stringify(raw)} is not a port number (0-65535)\n`);
    process.exit(1);
  }
  return port;
}

/** Turns a listen error into a message that names the port and who wanted it. */
function listenFailure(what: string, port: number, error: unknown): string {
  const err = error as NodeJS.ErrnoException & { port?: number };
  const actualPort = typeof err.port === 'number' ? err.port : port;
  if (err.code === 'EADDRINUSE') return `port ${actualPort} (${what}) is already in use; stop what holds it or set another port`;
  if (err.code === 'EACCES') return `port ${actualPort} (${what}) needs privileges this process lacks`;
  return `cannot listen on port ${actualPort} (${what}): ${err.code ?? err.message}`;
}

/** The upstream credentials: from the environment when set, else random for this run. Never printed. */
function demoCredentials(): { values: Record<DemoSecretName, string>; origin: Record<DemoSecretName, 'environment' | 'generated'> } {
  const values = {} as Record<DemoSecretName, string>;
  const origin = {} as Record<DemoSecretName, 'environment' | 'generated'>;
  for (const name of DEMO_SECRET_NAMES) {
    const fromEnv = env[name];
    const given = fromEnv !== undefined && fromEnv !== '';
    values[name] = given ? fromEnv : randomBytes(20).toString('hex');
    origin[name] = given ? 'environment' : 'generated';
  }
  return { values, origin };
}

const host = env.GATEWAY_HOST === undefined || env.GATEWAY_HOST === '' ? '127.0.0.1' : env.GATEWAY_HOST;
const ports = {
  gateway: portFromEnv('GATEWAY_PORT', 8080),
  status: portFromEnv('GATEWAY_STATUS_PORT', 8081),
  controlPlane: portFromEnv('CONTROL_PLANE_PORT', 4000),
  odoo: portFromEnv('ODOO_SIM_PORT', 8069),
  salesforce: portFromEnv('SALESFORCE_SIM_PORT', 8070),
  zendesk: portFromEnv('ZENDESK_SIM_PORT', 8071),
};
const dataDir = resolve(env.DEMO_DATA_DIR === undefined || env.DEMO_DATA_DIR === '' ? './data' : env.DEMO_DATA_DIR);
const databaseUrl = env.DATABASE_URL === undefined || env.DATABASE_URL === '' ? undefined : env.DATABASE_URL;
const sqliteFile = join(dataDir, 'gatehouse.db');
const accessLogFile = env.GATEWAY_ACCESS_LOG === undefined || env.GATEWAY_ACCESS_LOG === '' ? join(dataDir, 'access.log') : env.GATEWAY_ACCESS_LOG;
const spoolDir = join(dataDir, 'spool');
const credentials = demoCredentials();
logger.info('demo credentials ready', { origin: credentials.origin });

async function startSimulator<T extends SimulatorHandle>(listener: string, port: number, start: () => Promise<T>): Promise<T> {
  let handle: T;
  try {
    handle = await start();
  } catch (error) {
    return fail(listenFailure(listener, port, error), { listener, port });
  }
  closers.push({ name: listener, close: () => handle.close() });
  logger.info('listening', { listener, url: handle.url });
  return handle;
}

/** The service client the embedded gateway node authenticates as (role `gateway`), from the dev provider's demo clients. */
const GATEWAY_CLIENT = DEMO_CLIENTS.find((client) => client.clientId === 'gatehouse-gateway')!;
/** This node's id in `GET /api/v1/gateway/nodes`. */
const GATEWAY_NODE_ID = 'demo-gateway';

/**
 * The control-plane port, listening first so the issuer URL carries the real port (port 0 picks
 * a free one); the dev OpenID provider is built for that issuer. The admin API joins the same
 * listener once the store is open and seeded.
 */
async function listenControlPlanePort(): Promise<{ server: Server; url: string; issuer: string; idp: DevIdentityProvider }> {
  const server: Server = createHttpServer();
  try {
    await new Promise<void>((resolveListen, rejectListen) => {
      server.once('error', rejectListen);
      server.listen(ports.controlPlane, host, () => resolveListen());
    });
  } catch (error) {
    return fail(listenFailure('control plane / OpenID provider', ports.controlPlane, error), { listener: 'control-plane' });
  }
  const address = server.address() as { port: number };
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  const issuer = `${url}/oidc`;
  const idp = await createDevIdentityProvider({
    issuer,
    audience: DEMO_AUDIENCE,
    ...demoIdentities(),
    adminRedirectUris: [`${url}/auth/callback`],
    logger: createAppLogger({ component: 'dev-idp', level: env.LOG_LEVEL }),
  });
  closers.push({
    name: 'oidc',
    close: async () => {
      await idp.close();
      // The control plane closed the listener already unless the start failed before it joined.
      server.closeAllConnections();
      if (server.listening) await new Promise((resolveClose) => server.close(resolveClose));
    },
  });
  return { server, url, issuer, idp };
}

const controlPlanePort = await listenControlPlanePort();
const { issuer } = controlPlanePort;

const odoo = await startSimulator('odoo-simulator', ports.odoo, () =>
  startOdooSimulator({
    port: ports.odoo,
    database: DEMO_ODOO_DATABASE,
    apiKeys: [credentials.values.ODOO_API_KEY],
    users: [{ uid: 2, login: DEMO_ODOO_LOGIN, apiKey: credentials.values.ODOO_API_KEY }],
  }),
);
const salesforce = await startSimulator('salesforce-simulator', ports.salesforce, () =>
  startSalesforceSimulator({
    port: ports.salesforce,
    clients: [{ clientId: DEMO_SALESFORCE_CLIENT_ID, clientSecret: credentials.values.SALESFORCE_CLIENT_SECRET }],
  }),
);
const zendesk = await startSimulator('zendesk-simulator', ports.zendesk, () =>
  startZendeskSimulator({ port: ports.zendesk, email: DEMO_ZENDESK_EMAIL, apiToken: credentials.values.ZENDESK_API_TOKEN }),
);
// The simulators record every call for tests; a long-running demo has no use for the history.
const forgetCalls = setInterval(() => [odoo, salesforce, zendesk].forEach((sim) => sim.resetCalls()), 60_000);
forgetCalls.unref();
closers.push({ name: 'call-history', close: async () => clearInterval(forgetCalls) });

/** Binds and releases a port, so a taken gateway port fails the start before the store is touched. */
function assertPortFree(what: string, port: number): Promise<void> {
  return new Promise((resolveFree) => {
    const probe = createServer();
    probe.once('error', (error) => void fail(listenFailure(what, port, error), { listener: what, port }));
    probe.listen(port, host, () => probe.close(() => resolveFree()));
  });
}
// A second demo started on other ports must not open (let alone seed) the running demo's store.
if (ports.gateway !== 0) await assertPortFree('gateway traffic', ports.gateway);
if (ports.status !== 0) await assertPortFree('gateway status', ports.status);

const storeLabel = databaseUrl === undefined ? sqliteFile : 'PostgreSQL (DATABASE_URL)';
let openedStore: Store | undefined;
try {
  openedStore = await openStore({ ...(databaseUrl === undefined ? {} : { databaseUrl }), sqliteFile, logger: controlPlaneLogger });
} catch (error) {
  await fail(`cannot open the store (${storeLabel}): ${(error as Error).message}`);
}
const store = openedStore!;
closers.push({ name: 'store', close: () => store.close() });

// The catalogue the gateway enforces: seeded once into an empty store; a store with one is left as it is.
const endpoints: DemoEndpoints = { issuer, odooUrl: odoo.url, salesforceUrl: salesforce.url, zendeskUrl: zendesk.url };
try {
  const seeded = await seedDemoCatalogue(store, { endpoints, logger: controlPlaneLogger });
  if (seeded.seeded) logger.info('demo catalogue seeded', { store: storeLabel, apis: seeded.apis, consumers: seeded.consumers, auditEvents: seeded.auditEvents });
  else logger.info('store holds a catalogue already; not seeding', { store: storeLabel });
} catch (error) {
  await fail(`cannot seed the demo catalogue into ${storeLabel}: ${(error as Error).message}`);
}
for (const detail of await demoCatalogueDrift(store, endpoints)) {
  logger.warn('the stored demo catalogue points elsewhere than this run; start with the ports it was seeded with, or remove the store to seed afresh', { store: storeLabel, detail });
}

// Notifications: webhooks may reach this machine in the demo (a receiver beside it); email when NOTIFY_SMTP_URL is set.
let notifications: NotificationSettings | undefined;
let lintRuleset: RulesetExtension | undefined;
try {
  notifications = notificationSettingsFromEnv(env, { allowLoopback: true });
  if (env.LINT_RULESET_FILE !== undefined && env.LINT_RULESET_FILE !== '') lintRuleset = loadRulesetFile(env.LINT_RULESET_FILE);
} catch (error) {
  await fail((error as Error).message);
}
const controlPlane: ControlPlaneServer = attachControlPlane(controlPlanePort.server, {
  store,
  logger: controlPlaneLogger,
  auth: { issuer, audience: DEMO_AUDIENCE, serviceClients: DEMO_SERVICE_CLIENT_ROLES as Record<string, Role[]> },
  oidcCallback: controlPlanePort.idp.callback,
  notifications: notifications!,
  ...(lintRuleset === undefined ? {} : { lintRuleset }),
});
// Before the store closes (closers run in reverse): the publisher stops and waiting long polls answer.
closers.push({ name: 'control-plane', close: () => controlPlane.close() });
logger.info('listening', { listener: 'control-plane', url: controlPlanePort.url });
logger.info('listening', { listener: 'oidc', url: issuer });

const accessLog = createAccessLog({ file: accessLogFile });
closers.push({ name: 'access-log', close: () => accessLog.close() });
const gatewayMetrics = createGatewayMetrics({ defaultMetrics: true });
// One token for the node's snapshot long poll and its access-record shipping.
const controlPlaneTokens = createControlPlaneTokenSource({
  issuer,
  clientId: GATEWAY_CLIENT.clientId,
  clientSecret: GATEWAY_CLIENT.clientSecret,
  logger: gatewayLogger,
  // GATEWAY_HOST may be a non-loopback address: the provider is in this very process.
  allowInsecureHttp: true,
});
let openedSpool: AccessSpool | undefined;
try {
  openedSpool = createAccessSpool({ dir: spoolDir, logger: gatewayLogger, metrics: gatewayMetrics });
} catch (error) {
  await fail(`cannot open the access-record spool ${spoolDir}: ${(error as Error).message}`);
}
const spool = openedSpool!;
// Records the last run left are shipped too: the control plane stores each batch once.
const shipper = createAccessShipper({
  spool,
  controlPlaneUrl: controlPlanePort.url,
  nodeId: GATEWAY_NODE_ID,
  getToken: (signal) => controlPlaneTokens.get(signal),
  invalidateToken: () => controlPlaneTokens.invalidate(),
  logger: gatewayLogger,
  metrics: gatewayMetrics,
});
// Closers run in reverse: after the gateway, the spool writes what it holds, then the shipper
// stops after the batch in flight, both while the control plane still listens.
closers.push({ name: 'access-shipper', close: () => shipper.close(2000) });
closers.push({ name: 'access-spool', close: () => spool.close() });
// The async delivery queue (an fsynced log in the data dir), so versions may bind async-delivery.
let asyncStore: AsyncStore | undefined;
try {
  asyncStore = createFileAsyncStore({ dir: join(dataDir, 'async'), logger: gatewayLogger });
} catch (error) {
  await fail(`cannot open the async delivery queue in ${join(dataDir, 'async')}: ${(error as Error).message}`);
}
closers.push({ name: 'async-queue', close: () => asyncStore!.close() });
const gateway = createGateway({
  asyncStore: asyncStore!,
  // Fed like any distributed node: no cache file, the control plane lives and dies with this process.
  snapshotSource: createControlPlaneSnapshotSource({
    controlPlaneUrl: controlPlanePort.url,
    nodeId: GATEWAY_NODE_ID,
    tokens: controlPlaneTokens,
    logger: gatewayLogger,
  }),
  logger: gatewayLogger,
  accessLog: teeAccessLog([accessLog, spool]),
  metrics: gatewayMetrics,
  // The demo's own credentials first, then the environment (an API changed through the admin API may name others).
  resolveSecret: (name) => (Object.hasOwn(credentials.values, name) ? credentials.values[name as DemoSecretName] : env[name]),
});
let servers: GatewayServers | undefined;
try {
  servers = await listenGateway({ gateway, host, port: ports.gateway, statusPort: ports.status });
} catch (error) {
  const err = error as { port?: number };
  const which = err.port === ports.status ? 'gateway status' : 'gateway traffic';
  closers.push({ name: 'gateway', close: () => gateway.close() });
  await fail(listenFailure(which, err.port === ports.status ? ports.status : ports.gateway, error), { listener: which });
}
const gatewayServers = servers!;
// Closed first (closers run in reverse): requests in flight finish while the simulators, the
// access log, the spool and the control plane are still there; closing also ends the gateway's long poll.
closers.push({ name: 'gateway', close: () => gatewayServers.close(5000) });
logger.info('listening', { listener: 'gateway', url: gatewayServers.trafficUrl });
logger.info('listening', { listener: 'gateway-status', url: gatewayServers.statusUrl });

const applied = await new Promise<{ hash: string } | { error: string }>((resolveApplied) => {
  const settle = (result: { hash: string } | { error: string }): void => {
    clearTimeout(timer);
    gateway.events.off('rejected', onRejected);
    resolveApplied(result);
  };
  const onRejected = (error: string): void => settle({ error });
  const timer = setTimeout(() => settle({ error: 'no snapshot applied within 10 s (the control-plane log says why)' }), 10_000);
  gateway.events.on('rejected', onRejected);
  void gateway.waitForSnapshot().then((hash) => settle({ hash }));
});
if ('error' in applied) await fail(`the control plane's snapshot was not applied: ${applied.error}`);

function printBanner(): void {
  const examplePorts = {
    gatewayPort: Number(new URL(gatewayServers.trafficUrl).port),
    statusPort: Number(new URL(gatewayServers.statusUrl).port),
    controlPlanePort: Number(new URL(controlPlanePort.url).port),
  };
  const shown = (path: string): string => {
    const rel = relative(process.cwd(), path);
    return rel.startsWith('..') ? path : rel;
  };
  const first = DEMO_EXAMPLES[0]!;
  const nodes = ADMIN_EXAMPLES.find((example) => example.id === 'admin-gateway-nodes')!;
  const lines = [
    '',
    'Gatehouse demo is running.',
    '',
    `  Gateway        ${gatewayServers.trafficUrl}   /erp-sales/v1  /erp-rpc/v1  /crm/v1  /service-desk/v1`,
    `  Status         ${gatewayServers.statusUrl}   /health/ready  /metrics`,
    `  Control plane  ${controlPlanePort.url}   admin API /api/v1 (described at /api/v1/openapi.json)`,
    `  OpenID         ${issuer}   (dev provider: clients storefront, crm-sync, service-desk, finance-jobs, gatehouse-automation)`,
    `  Odoo           ${odoo.url}   (simulator)`,
    `  Salesforce     ${salesforce.url}   (simulator)`,
    `  Zendesk        ${zendesk.url}   (simulator)`,
    '',
    `  Store          ${databaseUrl === undefined ? shown(sqliteFile) : storeLabel}   (the catalogue; the gateway gets its snapshot from the control plane)`,
    `  Access log     ${accessLogFile === '-' ? 'stdout' : shown(accessLogFile)}`,
    `  Access spool   ${shown(spoolDir)}   (shipped to the control plane's access audit)`,
    '',
    `Try it: ${first.title.charAt(0).toLowerCase()}${first.title.slice(1)}`,
    `  ${renderTokenCommand(DEMO_TOKEN_COMMANDS[0]!, examplePorts)}`,
    `  ${renderCurlCommand(first, examplePorts)}`,
    '',
    `The admin API: ${nodes.title.charAt(0).toLowerCase()}${nodes.title.slice(1)}`,
    `  ${renderTokenCommand(ADMIN_TOKEN_COMMAND, examplePorts)}`,
    `  ${renderCurlCommand(nodes, examplePorts)}`,
    '',
    'Ctrl+C stops everything.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
printBanner();
