/**
 * @module Issue 8's durability acceptance: access records survive a gateway SIGKILL and a
 * control-plane outage. A gateway process fed by a control plane answers keyed calls while the
 * control plane is unreachable (a TCP relay in front of it is shut); it is killed with SIGKILL
 * mid-run and started again on the same spool; once the control plane is back, every answered
 * request's record is stored exactly once — none missing, none duplicated — and the access
 * chain verifies. A planted sensitive query value is stored redacted.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createGatewayRoutes } from '../../control-plane/routes/gateway.js';
import { ADMIN_ROUTES } from '../../control-plane/routes/index.js';
import { contractFor, KEYED_POLICIES } from '../control-plane/snapshot-rows.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { startRecordingUpstream } from '../support/upstream.js';
import { freePorts } from '../support/ports.js';
import { until } from '../support/until.js';

/** A TCP relay that can be shut (connections refused, open ones cut) and opened again on the same port. */
async function startRelay(target: number): Promise<{ port: number; open(): Promise<void>; shut(): Promise<void>; close(): Promise<void> }> {
  let server: TcpServer | undefined;
  const sockets = new Set<Socket>();
  let port = 0;
  const open = async (): Promise<void> => {
    server = createTcpServer((client) => {
      const upstream = connect(target, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  };
  const shut = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  };
  await open();
  return { port, open, shut, close: shut };
}

/** Processes here restart: a probe that fails to connect means "not yet". */
const POLL = { ignoreErrors: true, intervalMs: 100 };

describe('access records survive a gateway SIGKILL and a control-plane outage', { timeout: 120_000 }, () => {
  it('stores every answered request exactly once', async (t) => {
    const upstream = await startRecordingUpstream();
    const gatewayRoutes = createGatewayRoutes({ debounceMs: 10 });
    const cp = (await startTestControlPlane(t, 'sqlite', { routes: [...ADMIN_ROUTES, gatewayRoutes.routes] })) as TestControlPlane;
    const relay = await startRelay(Number(new URL(cp.url).port));
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-durability-'));
    const children = new Set<ChildProcess>();
    t.after(async () => {
      for (const child of children) child.kill('SIGKILL');
      await relay.close();
      await gatewayRoutes.close();
      await cp.close();
      await upstream.close();
      await rm(dir, { recursive: true, force: true });
    });

    const ok = async (reply: ReturnType<TestControlPlane['call']>, status: number) => {
      const res = await reply;
      assert.equal(res.status, status, res.text);
      return res;
    };
    const act = async (who: string, path: string, action: string) => {
      const etag = (await ok(cp.call('ada.auditor', 'GET', path), 200)).headers.get('etag')!;
      await ok(cp.call(who, 'POST', `${path}/${action}`, undefined, { 'if-match': etag }), 200);
    };
    await ok(cp.call('adam.admin', 'POST', '/api/v1/teams', { id: 'erp-team', name: 'ERP' }), 201);
    await ok(cp.call('adam.admin', 'POST', '/api/v1/plans', { id: 'standard', name: 'Standard', scopes: [] }), 201);
    await ok(cp.call('olivia.owner', 'POST', '/api/v1/apis', { slug: 'erp-orders', title: 'Orders', team: 'erp-team', upstream: { kind: 'http', baseUrl: upstream.url, settings: {}, connectTimeoutMs: 1000, responseTimeoutMs: 2000 } }), 201);
    await ok(cp.call('olivia.owner', 'POST', '/api/v1/consumers', { id: 'storefront', name: 'Web shop', team: 'erp-team' }), 201);
    const key = (await ok(cp.call('olivia.owner', 'POST', '/api/v1/consumers/storefront/credentials'), 201)).json.key as string;
    await ok(cp.call('olivia.owner', 'POST', '/api/v1/apis/erp-orders/versions', { version: '1.0.0', contract: contractFor('Orders', '1.0.0', [{ id: 'listOrders', method: 'GET', path: '/orders' }]), policies: KEYED_POLICIES }), 201);
    for (const [who, action] of [['olivia.owner', 'submit'], ['rafael.reviewer', 'approve'], ['olivia.owner', 'publish']] as const) await act(who, '/api/v1/apis/erp-orders/versions/1.0.0', action);
    const sub = (await ok(cp.call('olivia.owner', 'POST', '/api/v1/subscriptions', { consumer: 'storefront', api: 'erp-orders', major: 1, plan: 'standard' }), 201)).json.id as string;
    await act('olivia.owner', `/api/v1/subscriptions/${sub}`, 'approve');

    const [port, statusPort] = await freePorts(2);
    const startGateway = (): ChildProcess => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/main.ts'], {
        env: {
          PATH: process.env.PATH,
          CONTROL_PLANE_URL: `http://127.0.0.1:${relay.port}`,
          OIDC_ISSUER: cp.idp.idp.issuer,
          GATEWAY_CLIENT_ID: 'gatehouse-gateway',
          GATEWAY_CLIENT_SECRET: 'demo-gateway-secret',
          GATEWAY_NODE_ID: 'gw-durable',
          GATEWAY_HOST: '127.0.0.1',
          GATEWAY_PORT: String(port),
          GATEWAY_STATUS_PORT: String(statusPort),
          GATEWAY_SPOOL_DIR: join(dir, 'spool'),
          GATEWAY_SNAPSHOT_CACHE: join(dir, 'snapshot.json'),
          GATEWAY_ASYNC_DIR: join(dir, 'async'),
          GATEWAY_ACCESS_LOG: join(dir, 'access.log'),
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    };
    const answered: string[] = [];
    const call = async (i: number): Promise<void> => {
      const res = await fetch(`http://127.0.0.1:${port}/erp-orders/v1/orders?token=planted-query-secret-${i}`, { headers: { 'x-api-key': key } });
      await res.body?.cancel();
      assert.equal(res.status, 200);
      answered.push(res.headers.get('x-request-id')!);
    };

    let gateway = startGateway();
    await until('gateway ready', async () => ((await fetch(`http://127.0.0.1:${statusPort}/health/ready`)).ok ? true : undefined), POLL);
    // The control plane goes away; the gateway keeps answering from its snapshot.
    await relay.shut();
    for (let i = 0; i < 150; i++) await call(i);
    // Killed mid-run, without a chance to flush anything.
    await new Promise((resolve) => setTimeout(resolve, 10));
    const died = new Promise((resolve) => gateway.once('exit', resolve));
    gateway.kill('SIGKILL');
    await died;
    await relay.open();
    gateway = startGateway();
    await until('gateway ready again', async () => ((await fetch(`http://127.0.0.1:${statusPort}/health/ready`)).ok ? true : undefined), POLL);
    for (let i = 150; i < 249; i++) await call(i);
    // One call carries a W3C trace: the same trace id reaches the upstream and the stored record.
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const traced = await fetch(`http://127.0.0.1:${port}/erp-orders/v1/orders?token=planted-query-secret-traced`, { headers: { 'x-api-key': key, traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    await traced.body?.cancel();
    answered.push(traced.headers.get('x-request-id')!);
    assert.match(String(upstream.seen.at(-1)!.headers.traceparent), new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const stored = await until('every record stored', async () => {
      const rows = await cp.store.db.selectFrom('access_records').select(['request_id', 'path']).where('node_id', '=', 'gw-durable').execute();
      return rows.length >= answered.length ? rows : undefined;
    }, POLL);
    const ids = stored.map((r) => r.request_id);
    assert.equal(new Set(ids).size, ids.length, 'none duplicated');
    assert.deepEqual([...ids].sort(), [...answered].sort(), 'none missing, none extra');
    for (const row of stored) assert.equal(row.path, '/erp-orders/v1/orders?token=[redacted]');
    const byTrace = await cp.call('ada.auditor', 'GET', `/api/v1/audit/events?kind=access&traceId=${traceId}`);
    assert.deepEqual(byTrace.json.items.map((r: { requestId: string }) => r.requestId), [answered.at(-1)]);
    // Planted secrets (the API key, the sensitive query values) appear nowhere stored or exported.
    const everything = JSON.stringify(await cp.store.db.selectFrom('access_records').selectAll().execute()) + (await cp.call('ada.auditor', 'GET', '/api/v1/audit/export?kind=access&format=csv')).text;
    for (const secret of [key, key.split('.')[1]!, 'planted-query-secret']) assert.equal(everything.includes(secret), false, `${secret.slice(0, 8)}… stored`);
    const verdict = await cp.call('ada.auditor', 'GET', '/api/v1/audit/verify');
    assert.equal(verdict.json.access.intact, true);
    assert.equal(verdict.json.access.records, 250);
  });
});
