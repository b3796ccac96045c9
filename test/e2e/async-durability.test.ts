/**
 * @module Issue 7's durability acceptance for async delivery. With the Odoo simulator down, 500
 * async requests — 125 orders, each a sequence of four creates (customer, sale order, delivery,
 * invoice) sharing the order reference as ordering key — are accepted by gateway processes
 * (`gateway/main.ts` from a snapshot file). Odoo comes back (answering slowly, and carrying out
 * requests whose client left, as a real worker does); once deliveries are under way a gateway is
 * killed with SIGKILL and started again. When the queue has drained, Odoo has received each
 * create exactly once, each order's steps in sequence. A permanently failing request ends in the
 * dead-letter list and replays after the fix (the missing customer created); refusals, dead
 * letters and admin actions are in the access records with their decision codes. Run with the
 * embedded queue (one node, fsynced log) and with Redis Streams (two nodes, one of them killed).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestContext } from 'node:test';
import type { AccessRecord } from '../../policies/index.js';
import { twoKeyedConsumers } from '../support/consumers.js';
import { buildSnapshot, singleVersionApi } from '../support/gateway-harness.js';
import { requireRedis } from '../support/redis.js';
import { startOdooSimulator, type OdooSimulatorHandle } from '../simulators/index.js';
import { freePorts } from '../support/ports.js';
import { until } from '../support/until.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STOREFRONT_KEY = 'gh_live_Durable1.PLANTED-storefront-secret-9';
const CRM_KEY = 'gh_live_Durable2.PLANTED-crm-secret-8';
const ODOO_KEY = 'PLANTED-odoo-key-durable-3e7f';
const ADMIN_TOKEN = 'PLANTED-admin-token-durable-0123456789';
const ORDERS = 125;

/** The four steps of an order, in the order they must reach Odoo; each keyed and probed by the order reference. */
const STEPS = [
  { id: 'createCustomer', model: 'res.partner', field: 'ref', vals: (ref: string) => ({ name: `Customer of ${ref}`, ref }) },
  { id: 'createOrder', model: 'sale.order', field: 'client_order_ref', vals: (ref: string) => ({ partner_id: 10, client_order_ref: ref }) },
  { id: 'createDelivery', model: 'stock.picking', field: 'origin', vals: (ref: string) => ({ partner_id: 10, origin: ref }) },
  { id: 'createInvoice', model: 'account.move', field: 'ref', vals: (ref: string) => ({ move_type: 'out_invoice', partner_id: 10, ref }) },
] as const;

function snapshotFor(odooUrl: string): string {
  const operations = Object.fromEntries(
    STEPS.map((step) => [
      step.id,
      {
        orderingKey: `/vals_list/0/${step.field}`,
        maxAttempts: 1000,
        baseDelayMs: 50,
        maxDelayMs: 400,
        probe: { method: 'POST', path: `/${step.model}/search`, body: { domain: [[step.field, '=', { $pointer: `/vals_list/0/${step.field}` }]] } },
      },
    ]),
  );
  const api = singleVersionApi(
    'erp',
    { kind: 'odoo-json2', baseUrl: `${odooUrl}/json/2`, connectTimeoutMs: 500, responseTimeoutMs: 1500, settings: { database: 'retail', apiKey: { env: 'ODOO_KEY' } } },
    STEPS.map((step) => ({ id: step.id, method: 'POST' as const, path: `/${step.model}/create` })),
    { policies: [{ policy: 'api-key', config: {} }, { policy: 'subscription', config: {} }, { policy: 'async-delivery', config: { operations } }] },
  );
  return JSON.stringify(buildSnapshot({ apis: [api], plans: [{ id: 'standard', name: 'Standard', scopes: [] }], consumers: twoKeyedConsumers(['erp'], { storefront: STOREFRONT_KEY, crm: CRM_KEY }) }));
}

/** Processes here restart: a probe that fails to connect means "not yet". */
const POLL = { ignoreErrors: true, intervalMs: 50 };

interface Node {
  readonly name: string;
  readonly url: string;
  readonly statusUrl: string;
  child: ChildProcess;
  output: string;
  start(): Promise<void>;
  kill(): Promise<void>;
}

/** A gateway process from the snapshot file; the same ports, queue and logs on every start. */
function gatewayNode(name: string, ports: [number, number], env: Record<string, string>, children: Set<ChildProcess>): Node {
  const node: Node = {
    name,
    url: `http://127.0.0.1:${ports[0]}`,
    statusUrl: `http://127.0.0.1:${ports[1]}`,
    child: undefined as unknown as ChildProcess,
    output: '',
    async start() {
      const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/main.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(ports[0]), GATEWAY_STATUS_PORT: String(ports[1]), GATEWAY_NODE_ID: name, LOG_LEVEL: 'info', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      child.stdout!.on('data', (chunk: Buffer) => (node.output += chunk.toString('utf8')));
      child.stderr!.on('data', (chunk: Buffer) => (node.output += chunk.toString('utf8')));
      node.child = child;
      await until(`${name} ready`, async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited:\n${node.output}`);
        return (await fetch(`${node.statusUrl}/health/ready`)).ok ? true : undefined;
      }, POLL);
    },
    async kill() {
      const child = node.child;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
  return node;
}

async function post(node: Node, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; location: string | null; json: any }> {
  const res = await fetch(`${node.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': STOREFRONT_KEY, ...headers }, body: JSON.stringify(body) });
  return { status: res.status, location: res.headers.get('location'), json: await res.json() };
}

async function statusOf(node: Node, location: string): Promise<any> {
  const res = await fetch(`${node.url}${location}`, { headers: { 'x-api-key': STOREFRONT_KEY } });
  return res.json();
}

async function admin(node: Node, method: string, path: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${node.statusUrl}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return { status: res.status, json: await res.json() };
}

async function accessRecords(files: readonly string[]): Promise<AccessRecord[]> {
  const texts = await Promise.all(files.map((file) => readFile(file, 'utf8').catch(() => '')));
  return texts
    .join('\n')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as AccessRecord);
}

const createPath = (model: string): string => `/json/2/${model}/create`;

/**
 * The scenario for one or two nodes. `envFor(i)` gives node i its queue settings; node 0 is the
 * one killed.
 */
async function durability(t: TestContext, nodeCount: 1 | 2, envFor: (i: number, dir: string) => Record<string, string>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-async-durability-'));
  const children = new Set<ChildProcess>();
  const odoo: OdooSimulatorHandle = await startOdooSimulator({ database: 'retail', apiKeys: [], users: [{ uid: 2, login: 'bot@shop.example', apiKey: ODOO_KEY }], completeAbandoned: true });
  t.after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await odoo.close();
    await rm(dir, { recursive: true, force: true });
  });
  const snapshotFile = join(dir, 'snapshot.json');
  await writeFile(snapshotFile, snapshotFor(odoo.url));
  await odoo.goDown();

  const ports = await freePorts(2 * nodeCount);
  const logs: string[] = [];
  const nodes = Array.from({ length: nodeCount }, (_, i) => {
    const accessLog = join(dir, `access-${i}.log`);
    logs.push(accessLog);
    return gatewayNode(`gw-${i}`, [ports[2 * i]!, ports[2 * i + 1]!], { GATEWAY_SNAPSHOT_FILE: snapshotFile, GATEWAY_ACCESS_LOG: accessLog, GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN, ODOO_KEY, GATEWAY_ASYNC_CONCURRENCY: '8', ...envFor(i, dir) }, children);
  });
  await Promise.all(nodes.map((node) => node.start()));
  try {
    await scenario(t, nodes, odoo, logs);
  } catch (error) {
    // What the nodes logged last explains most failures.
    for (const node of nodes) t.diagnostic(`${node.name} output (tail):\n${node.output.slice(-6000)}`);
    throw error;
  }
}

async function scenario(t: TestContext, nodes: Node[], odoo: OdooSimulatorHandle, logs: string[]): Promise<void> {
  const nodeCount = nodes.length;

  // 1. Odoo is down: all 500 are accepted. Each order's steps are sent one after the other (the
  //    next once the previous was accepted), over the nodes in turn; orders run side by side.
  const refs = Array.from({ length: ORDERS }, (_, i) => `ORD-${String(i + 1).padStart(4, '0')}`);
  const locations: Array<{ ref: string; step: number; node: Node; location: string }> = [];
  let turn = 0;
  async function sendOrder(ref: string): Promise<void> {
    for (let step = 0; step < STEPS.length; step++) {
      const node = nodes[turn++ % nodes.length]!;
      const answer = await post(node, `/erp/v1/${STEPS[step]!.model}/create`, { vals_list: [STEPS[step]!.vals(ref)] });
      assert.equal(answer.status, 202, `${ref} step ${step + 1}: ${JSON.stringify(answer.json)}`);
      locations.push({ ref, step, node, location: answer.location! });
    }
  }
  const lanes = 25;
  await Promise.all(Array.from({ length: lanes }, async (_, lane) => {
    for (let i = lane; i < refs.length; i += lanes) await sendOrder(refs[i]!);
  }));
  assert.equal(locations.length, ORDERS * STEPS.length);
  assert.equal(odoo.calls.length, 0, 'nothing reached Odoo while it was down');

  // 2. Odoo is back (slow: each call takes 15 ms); once deliveries are under way, node 0 dies.
  odoo.slow(15);
  await odoo.comeUp();
  const creates = (): number => odoo.calls.filter((c) => c.path.endsWith('/create')).length;
  await until('deliveries under way', () => (creates() >= 120 ? true : undefined), POLL);
  await nodes[0]!.kill();
  const atKill = creates();
  t.diagnostic(`SIGKILL after ${atKill} of ${locations.length} creates reached Odoo`);
  await nodes[0]!.start();
  odoo.normal();

  // 3. Drained: every request delivered (asked of a node that can see it), Odoo holding each create once.
  const all = (ref: string, model: string, field: string): number => odoo.records(model).filter((r) => r[field] === ref).length;
  await until('every create carried out', () => (STEPS.every((s) => refs.every((ref) => all(ref, s.model, s.field) >= 1)) ? true : undefined), { ...POLL, timeoutMs: 45_000 });
  const viewer = nodes[0]!;
  let pending = locations.filter(() => true);
  await until('every status delivered', async () => {
    const states = await Promise.all(pending.map(async (entry) => ({ entry, state: await statusOf(nodeCount === 1 ? viewer : entry.node, entry.location) })));
    pending = states.filter((s) => s.state.status !== 'delivered').map((s) => s.entry);
    return pending.length === 0 ? true : undefined;
  }, POLL);
  // Anything sent twice would have arrived by now.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const probes = nodes.reduce((sum, node) => sum + (node.output.match(/had been applied \(probe\)/g) ?? []).length, 0);
  t.diagnostic(`outcomes lost in the crash and found applied by the probe: ${probes}`);

  for (const ref of refs) {
    const sent = odoo.calls.filter((c) => c.path.endsWith('/create') && c.body.includes(`"${ref}"`)).map((c) => c.path);
    assert.deepEqual(sent, STEPS.map((s) => createPath(s.model)), `${ref}: each step received once, in sequence`);
    for (const step of STEPS) assert.equal(all(ref, step.model, step.field), 1, `${ref}: one ${step.model}`);
  }

  // 4. A permanent refusal: an order for a customer Odoo does not have yet is dead-lettered.
  const missing = Math.max(...odoo.records('res.partner').map((p) => p.id)) + 1;
  const failing = await post(nodes[nodeCount - 1]!, '/erp/v1/sale.order/create', { vals_list: [{ partner_id: missing, client_order_ref: 'ORD-DEAD' }] });
  assert.equal(failing.status, 202);
  const id = failing.location!.split('/').pop()!;
  const dead = await until('dead-lettered', async () => {
    const state = await statusOf(nodes[nodeCount - 1]!, failing.location!);
    return state.status === 'dead' ? state : undefined;
  }, POLL);
  assert.equal(dead.error.code, 'upstream.validation_failed');
  const listed = await admin(nodes[0]!, 'GET', '/admin/async/dead-letters');
  assert.ok(listed.json.items.some((item: { id: string }) => item.id === id), 'in the dead-letter list');
  // The fix, upstream: the customer now exists (with the id the order names).
  const fixed = await fetch(`${odoo.url}/json/2/res.partner/create`, {
    method: 'POST',
    headers: { authorization: `bearer ${ODOO_KEY}`, 'x-odoo-database': 'retail', 'content-type': 'application/json' },
    body: JSON.stringify({ vals_list: [{ name: 'Late customer' }] }),
  });
  assert.deepEqual(await fixed.json(), [missing]);
  const replayed = await admin(nodes[0]!, 'POST', `/admin/async/dead-letters/${id}/replay`);
  assert.equal(replayed.status, 200);
  const delivered = await until('replayed and delivered', async () => {
    const state = await statusOf(nodes[nodeCount - 1]!, failing.location!);
    return state.status === 'delivered' ? state : undefined;
  }, POLL);
  assert.equal(delivered.upstream.status, 200);
  assert.equal(odoo.records('sale.order').filter((o) => o.client_order_ref === 'ORD-DEAD').length, 1);

  // 5. A refusal at the gateway (no ordering key): never queued.
  const refused = await post(nodes[nodeCount - 1]!, '/erp/v1/sale.order/create', { vals_list: [{ partner_id: 10 }] });
  assert.equal(refused.status, 400);
  assert.equal(refused.json.code, 'async.key_missing');

  // 6. Each in the access records with its decision code.
  const records = await until('access records written', async () => {
    const found = await accessRecords(logs);
    const wanted = ['async.dead_letter', 'async.replayed', 'async.key_missing'];
    return wanted.every((decision) => found.some((r) => r.decision === decision)) && found.some((r) => r.decision === 'async.delivered' && r.operation === 'createOrder' && r.traceId === found.find((x) => x.decision === 'async.dead_letter')?.traceId) ? found : undefined;
  }, POLL);
  const deadRecord = records.find((r) => r.decision === 'async.dead_letter')!;
  assert.equal(deadRecord.status, 422);
  assert.equal(deadRecord.consumer, 'storefront');
  assert.equal(records.find((r) => r.decision === 'async.replayed')!.subject, 'admin:gateway-admin');
  assert.equal(records.find((r) => r.decision === 'async.key_missing')!.status, 400);
  // The caller's key never reached Odoo nor any stored record.
  assert.ok(odoo.calls.every((c) => c.headers['x-api-key'] === undefined));
  const stored = (await Promise.all(logs.map((file) => readFile(file, 'utf8').catch(() => '')))).join('');
  assert.equal(stored.includes(STOREFRONT_KEY.split('.')[1]!), false);
}

describe('async delivery survives a gateway SIGKILL while the ERP recovers', { timeout: 120_000 }, () => {
  it('embedded queue (fsynced log), one node: each of 500 requests delivered exactly once, in per-order sequence', async (t) => {
    await durability(t, 1, (_i, dir) => ({ GATEWAY_ASYNC_DIR: join(dir, 'async'), REDIS_URL: '' }));
  });

  it('Redis Streams, two nodes: the same, with one node killed and its partitions taken over', async (t) => {
    const redis = await requireRedis(t);
    if (redis === undefined) return;
    t.after(() => redis.close());
    await durability(t, 2, () => ({
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      GATEWAY_ASYNC_REDIS_PREFIX: redis.prefix,
      GATEWAY_ASYNC_PARTITIONS: '8',
      GATEWAY_ASYNC_LEASE_MS: '1500',
    }));
  });
});
