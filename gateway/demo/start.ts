/**
 * @module What `npm start` runs: the demo landscape in one process. Starts the development
 * OpenID provider (under `/oidc` on the control-plane port), the Odoo, Salesforce and Zendesk
 * simulators, writes the demo snapshot to a file and runs a gateway from that file (edit it
 * and the gateway reloads it). This launcher is the composition root of the embedded mode
 * (DESIGN §2: one process runs both planes), the one file that may import both `gateway/`
 * and `control-plane/` (test/architecture.test.ts names it). The only demo file that reads
 * the environment:
 *
 * - `GATEWAY_HOST` (default `127.0.0.1`), `GATEWAY_PORT` (8080), `GATEWAY_STATUS_PORT` (8081)
 * - `CONTROL_PLANE_PORT` (4000): the dev OpenID provider at `/oidc` (the control plane joins it)
 * - `ODOO_SIM_PORT` (8069), `SALESFORCE_SIM_PORT` (8070), `ZENDESK_SIM_PORT` (8071)
 * - `DEMO_DATA_DIR` (`./data`): holds `demo-snapshot.json` and, unless
 *   `GATEWAY_ACCESS_LOG` says otherwise, `access.log`
 * - `ODOO_API_KEY`, `SALESFORCE_CLIENT_SECRET`, `ZENDESK_API_TOKEN`: the upstream credentials
 *   the simulators accept and the gateway uses; random ones are generated when unset
 * - `LOG_LEVEL` (default `info`)
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { createGateway } from '../gateway.js';
import { createAccessLog, createAppLogger } from '../logging.js';
import { createGatewayMetrics } from '../metrics.js';
import { listenGateway, type GatewayServers } from '../server.js';
import { createFileSnapshotSource } from '../snapshot/file-source.js';
import {
  startOdooSimulator,
  startSalesforceSimulator,
  startZendeskSimulator,
  type SimulatorHandle,
} from '../../test/simulators/index.js';
import { createDevIdentityProvider } from '../../control-plane/dev-idp/dev-idp.js';
import { demoIdentities } from '../../control-plane/dev-idp/demo-identities.js';
import { DEMO_EXAMPLES, DEMO_TOKEN_COMMANDS, renderCurlCommand, renderTokenCommand } from './examples.js';
import {
  buildDemoSnapshot,
  DEMO_AUDIENCE,
  DEMO_SALESFORCE_CLIENT_ID,
  DEMO_ODOO_DATABASE,
  DEMO_ODOO_LOGIN,
  DEMO_SECRET_NAMES,
  DEMO_ZENDESK_EMAIL,
  type DemoSecretName,
} from './snapshot.js';

const env = process.env;
const logger = createAppLogger({ component: 'demo', level: env.LOG_LEVEL });
const gatewayLogger = createAppLogger({ component: 'gateway', level: env.LOG_LEVEL });

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
/** SIGINT / SIGTERM: stop the gateway (requests in flight finish), flush the access log, stop the simulators. */
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
const snapshotFile = join(dataDir, 'demo-snapshot.json');
const accessLogFile = env.GATEWAY_ACCESS_LOG === undefined || env.GATEWAY_ACCESS_LOG === '' ? join(dataDir, 'access.log') : env.GATEWAY_ACCESS_LOG;
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

/**
 * The dev OpenID provider under `/oidc` on the control-plane port. Listening first, so the
 * issuer URL carries the real port (port 0 picks a free one).
 */
async function startIdentityProvider(): Promise<{ issuer: string }> {
  const server: Server = createHttpServer();
  try {
    await new Promise<void>((resolveListen, rejectListen) => {
      server.once('error', rejectListen);
      server.listen(ports.controlPlane, host, () => resolveListen());
    });
  } catch (error) {
    return fail(listenFailure('control plane / OpenID provider', ports.controlPlane, error), { listener: 'oidc' });
  }
  const address = server.address() as { port: number };
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/oidc`;
  const idp = await createDevIdentityProvider({
    issuer,
    audience: DEMO_AUDIENCE,
    ...demoIdentities(),
    adminRedirectUris: [`http://${host}:${address.port}/auth/callback`],
    logger: createAppLogger({ component: 'dev-idp', level: env.LOG_LEVEL }),
  });
  server.on('request', (req, res) => {
    if (req.url === '/oidc' || req.url?.startsWith('/oidc/') || req.url?.startsWith('/oidc?')) {
      idp.callback(req, res);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ type: 'about:blank', title: 'Not found', status: 404, detail: 'Only the dev OpenID provider (/oidc) runs here so far.' }));
  });
  closers.push({
    name: 'oidc',
    close: async () => {
      await idp.close();
      server.closeAllConnections();
      await new Promise((resolveClose) => server.close(resolveClose));
    },
  });
  logger.info('listening', { listener: 'oidc', url: issuer });
  return { issuer };
}

const { issuer } = await startIdentityProvider();

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

/** Binds and releases a port, so a taken gateway port fails the start before the snapshot file is touched. */
function assertPortFree(what: string, port: number): Promise<void> {
  return new Promise((resolveFree) => {
    const probe = createServer();
    probe.once('error', (error) => void fail(listenFailure(what, port, error), { listener: what, port }));
    probe.listen(port, host, () => probe.close(() => resolveFree()));
  });
}
// A second demo started on other simulator ports must not rewrite the running demo's snapshot.
if (ports.gateway !== 0) await assertPortFree('gateway traffic', ports.gateway);
if (ports.status !== 0) await assertPortFree('gateway status', ports.status);

// Written whole under a temporary name and renamed, so the watching gateway never reads half a file.
try {
  await mkdir(dataDir, { recursive: true });
  const snapshot = buildDemoSnapshot({ odooUrl: odoo.url, salesforceUrl: salesforce.url, zendeskUrl: zendesk.url, issuer });
  await writeFile(`${snapshotFile}.tmp`, `${JSON.stringify(snapshot, null, 2)}\n`);
  await rename(`${snapshotFile}.tmp`, snapshotFile);
} catch (error) {
  await fail(`cannot write the demo snapshot to ${snapshotFile}: ${(error as Error).message}`);
}
logger.info('demo snapshot written', { path: snapshotFile });

const accessLog = createAccessLog({ file: accessLogFile });
closers.push({ name: 'access-log', close: () => accessLog.close() });
const gateway = createGateway({
  snapshotSource: createFileSnapshotSource({ path: snapshotFile, logger: gatewayLogger }),
  logger: gatewayLogger,
  accessLog,
  metrics: createGatewayMetrics({ defaultMetrics: true }),
  // The demo's own credentials first, then the environment (a snapshot edit may name others).
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
// Closed first (closers run in reverse): requests in flight finish while the simulators and the
// access log are still open.
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
  const timer = setTimeout(() => settle({ error: 'no snapshot applied within 10 s' }), 10_000);
  gateway.events.on('rejected', onRejected);
  void gateway.waitForSnapshot().then((hash) => settle({ hash }));
});
if ('error' in applied) await fail(`the demo snapshot was not applied: ${applied.error}`);

function printBanner(): void {
  const examplePorts = {
    gatewayPort: Number(new URL(gatewayServers.trafficUrl).port),
    statusPort: Number(new URL(gatewayServers.statusUrl).port),
    oidcPort: Number(new URL(issuer).port),
  };
  const shown = (path: string): string => {
    const rel = relative(process.cwd(), path);
    return rel.startsWith('..') ? path : rel;
  };
  const first = DEMO_EXAMPLES[0]!;
  const lines = [
    '',
    'Gatehouse demo is running.',
    '',
    `  Gateway      ${gatewayServers.trafficUrl}   /erp-sales/v1  /erp-rpc/v1  /crm/v1  /service-desk/v1`,
    `  Status       ${gatewayServers.statusUrl}   /health/ready  /metrics`,
    `  OpenID       ${issuer}   (dev provider: clients storefront, crm-sync, service-desk, finance-jobs)`,
    `  Odoo         ${odoo.url}   (simulator)`,
    `  Salesforce   ${salesforce.url}   (simulator)`,
    `  Zendesk      ${zendesk.url}   (simulator)`,
    '',
    `  Snapshot     ${shown(snapshotFile)}   (edit it: the gateway reloads it)`,
    `  Access log   ${accessLogFile === '-' ? 'stdout' : shown(accessLogFile)}`,
    '',
    `Try it: ${first.title.charAt(0).toLowerCase()}${first.title.slice(1)}`,
    `  ${renderTokenCommand(DEMO_TOKEN_COMMANDS[0]!, examplePorts)}`,
    `  ${renderCurlCommand(first, examplePorts)}`,
    '',
    'Ctrl+C stops everything.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
printBanner();
