/**
 * @module End-to-end check of `npm start`: spawns `gateway/demo/start.ts` on free ports with a
 * temporary data directory (control plane with a seeded SQLite store, dev IdP, simulators, a
 * gateway fed by the control plane), runs every README curl example from
 * `gateway/demo/examples.ts` verbatim (the gateway's and the admin API's), and expects a clean
 * exit on SIGTERM; started again on the same store, it does not seed twice and serves the same
 * catalogue. Planted credentials must never surface in output, logs or answers.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  ADMIN_EXAMPLES,
  ADMIN_TOKEN_COMMAND,
  DEMO_EXAMPLES,
  DEMO_TOKEN_COMMANDS,
  renderCurlCommand,
  renderTokenCommand,
  type DemoTokenCommand,
  type ExamplePorts,
} from '../../gateway/demo/examples.js';
import { loginAs } from '../control-plane/dev-idp-login.js';
import { freePorts } from '../support/ports.js';
import { until } from '../support/until.js';
import { GATEWAY_NODE_FLAGS } from '../../gateway/node-flags.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PLANTED = {
  ODOO_API_KEY: 'planted-odoo-key-5f0c1d9e2b7a',
  SALESFORCE_CLIENT_SECRET: 'planted-sf-secret-8c3e0a41d6b2',
  ZENDESK_API_TOKEN: 'planted-zd-token-1a9b7e3c5d20',
};

interface Demo {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every child this file started, so none outlives the run whatever fails. */
const spawned: Demo[] = [];

function spawnDemo(env: Record<string, string>): Demo {
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/demo/start.ts'], {
    cwd: ROOT,
    // DATABASE_URL cleared: the demo's store is SQLite in the test's own data directory.
    env: { ...process.env, LOG_LEVEL: 'info', DATABASE_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const demo = { child, output: () => text, exited };
  spawned.push(demo);
  return demo;
}

function killHard(demo: Demo): void {
  if (demo.child.exitCode === null && demo.child.signalCode === null) demo.child.kill('SIGKILL');
}

async function waitUntilReady(demo: Demo, statusPort: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void demo.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`demo exited before it was ready:\n${demo.output()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${statusPort}/health/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`demo not ready within ${timeoutMs} ms:\n${demo.output()}`);
}

interface CurlAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  raw: string;
}

/**
 * Runs one README command line through `sh`, exactly as printed, with the token variables the
 * README's token commands set.
 */
function runShell(script: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', script], { encoding: 'utf8', maxBuffer: 4 * 1024 * 1024, timeout: 60_000, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${script} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

/** The README's token lines, run in one shell; returns the variables they set. */
async function runTokenCommands(ports: ExamplePorts, commands: readonly DemoTokenCommand[] = [...DEMO_TOKEN_COMMANDS, ADMIN_TOKEN_COMMAND]): Promise<Record<string, string>> {
  const script = [...commands.map((c) => renderTokenCommand(c, ports)), ...commands.map((c) => `printf '%s\\n' "$${c.variable}"`)].join('\n');
  const values = (await runShell(script)).trim().split('\n');
  const tokens: Record<string, string> = {};
  commands.forEach((c, i) => {
    assert.match(values[i] ?? '', /^[\w-]+\.[\w-]+\.[\w-]+$/, `${c.variable} is not a JWT`);
    tokens[c.variable] = values[i]!;
  });
  return tokens;
}

function runCurl(command: string, tokens: Record<string, string>): Promise<CurlAnswer> {
  return runShell(command.replace(/^curl /, 'curl --max-time 10 '), tokens).then((stdout) => {
    {
      // `curl -i`: header block(s), blank line, body. Skip interim 1xx blocks.
      let rest = stdout;
      let head = '';
      do {
        const end = rest.indexOf('\r\n\r\n');
        head = end === -1 ? rest : rest.slice(0, end);
        rest = end === -1 ? '' : rest.slice(end + 4);
      } while (/^HTTP\/\S+ 1\d\d/.test(head));
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      return { status: Number(statusLine.split(' ')[1]), headers, body: rest, raw: stdout.replaceAll('\r\n', '\n') };
    }
  });
}

/** What each example's answer must say beyond its status and excerpts. */
const CHECKS: Record<string, (answer: CurlAnswer) => void> = {
  'erp-sales-orders': ({ body }) => {
    const orders = JSON.parse(body) as Array<{ name: string; invoice_status: string }>;
    assert.equal(orders.length, 3);
    assert.deepEqual(orders.map((o) => o.name), ['S00007', 'S00004', 'S00003']);
    // One canonical status vocabulary, whatever Odoo's fields say (README: canonical order status).
    for (const order of orders as Array<{ gatehouse_status?: string }>) assert.ok(['quotation', 'confirmed', 'partially_shipped', 'shipped', 'invoiced', 'paid', 'cancelled'].includes(order.gatehouse_status ?? ''), JSON.stringify(order));
  },
  'ownership-refused': ({ body }) => {
    const problem = JSON.parse(body) as { code: string; entity: string; owners: string[] };
    assert.deepEqual([problem.code, problem.entity, problem.owners], ['ownership.write_denied', 'order', ['erp']]);
  },
  'erp-sales-invoice': ({ body }) => {
    assert.deepEqual(JSON.parse(body), [
      { id: 42, name: 'INV/2025/00002', invoice_origin: 'S00002', amount_total: 1000.67, amount_residual: 400, payment_state: 'partial' },
    ]);
  },
  'erp-rpc-partners': ({ body }) => {
    const answer = JSON.parse(body) as { result: Array<{ name: string }>; error?: unknown };
    assert.equal(answer.error, undefined);
    assert.deepEqual(answer.result.map((p) => p.name), ['Harbor Outfitters', 'Lumen Home Goods', 'Northwind Cycles']);
  },
  'crm-soql': ({ body }) => {
    const answer = JSON.parse(body) as { totalSize: number; records: Array<{ Name: string }> };
    assert.equal(answer.totalSize, 3);
    assert.deepEqual(answer.records.map((r) => r.Name), ['Harbor Outfitters', 'Northwind Cycles', 'Priya Shah']);
  },
  'crm-account': ({ body }) => {
    const account = JSON.parse(body) as Record<string, unknown>;
    assert.equal(account.Name, 'Harbor Outfitters');
    assert.equal(account.ERP_Customer_Id__c, 'C-1001');
  },
  'service-desk-tickets': ({ body }) => {
    const answer = JSON.parse(body) as { tickets: Array<{ id: number }> };
    assert.deepEqual(answer.tickets.map((t) => t.id), [1001, 1002]);
  },
  'service-desk-create': ({ body }) => {
    const answer = JSON.parse(body) as { ticket: { id: number; subject: string; external_id: string } };
    assert.equal(typeof answer.ticket.id, 'number');
    assert.equal(answer.ticket.external_id, 'S00001');
  },
  'no-token': ({ headers, body }) => {
    assert.equal(headers['www-authenticate'], 'Bearer realm="gatehouse"');
    assert.equal((JSON.parse(body) as { code: string }).code, 'auth.token_missing');
  },
  'not-subscribed': ({ body }) => {
    assert.equal((JSON.parse(body) as { code: string }).code, 'access.not_subscribed');
  },
  'scope-missing': ({ body }) => {
    const problem = JSON.parse(body) as { code: string; scope: string };
    assert.deepEqual([problem.code, problem.scope], ['access.scope_missing', 'invoices:read']);
  },
  'contract-refused': ({ headers, body }) => {
    assert.equal(headers['content-type'], 'application/problem+json');
    const problem = JSON.parse(body) as { code: string; errors: unknown };
    assert.equal(problem.code, 'contract.request_invalid');
    assert.deepEqual(problem.errors, [{ pointer: '/body/ticket/comment', detail: 'is required' }]);
  },
  'hygiene-refused': ({ headers, body }) => {
    assert.equal(headers['content-type'], 'application/problem+json');
    const problem = JSON.parse(body) as Record<string, unknown>;
    assert.equal(problem.code, 'request.invalid_path');
    assert.equal(problem.status, 400);
    assert.match(String(problem.traceId), /^[0-9a-f]{32}$/);
  },
  'undeclared-method': ({ headers, body }) => {
    assert.equal(headers.allow, 'GET, HEAD, PATCH');
    assert.equal((JSON.parse(body) as { code: string }).code, 'route.method_not_allowed');
  },
  'undeclared-operation': ({ headers, body }) => {
    assert.equal(headers['content-type'], 'application/problem+json');
    assert.equal((JSON.parse(body) as { code: string }).code, 'route.not_found');
  },
  'health-ready': ({ body }) => {
    const ready = JSON.parse(body) as { status: string; snapshot: string };
    assert.equal(ready.status, 'ready');
    assert.match(ready.snapshot, /^[0-9a-f]{64}$/);
  },
  metrics: ({ headers, body }) => {
    assert.match(headers['content-type'] ?? '', /^text\/plain/);
    // The examples above ran first: two erp-sales 200s and one refused DELETE.
    assert.match(body, /^gatehouse_requests_total\{api="erp-sales",version="1\.0\.0",status="200"\} 2$/m);
    assert.match(body, /^gatehouse_requests_total\{api="crm",version="1\.0\.0",status="405"\} 1$/m);
  },
};

interface AdminAnswers {
  /** The snapshot hash `/health/ready` reported. */
  readyHash: string;
}

/** What each admin API example's answer must say. */
const ADMIN_CHECKS: Record<string, (answer: CurlAnswer, context: AdminAnswers) => void> = {
  'admin-gateway-nodes': ({ body }, { readyHash }) => {
    const page = JSON.parse(body) as { snapshot: { hash: string }; items: Array<{ nodeId: string; appliedHash: string; current: boolean; error: string | null }> };
    // The gateway serves what the control plane publishes, and says so.
    assert.equal(page.snapshot.hash, readyHash);
    assert.deepEqual(
      page.items.map((n) => [n.nodeId, n.appliedHash, n.current, n.error]),
      [['demo-gateway', readyHash, true, null]],
    );
  },
  'admin-version-transitions': ({ body }) => {
    const transitions = (JSON.parse(body) as { items: Array<{ from: string; to: string; actor: string }> }).items;
    assert.deepEqual(
      transitions.map((t) => `${t.from}>${t.to} ${t.actor}`),
      ['draft>in_review olivia.owner', 'in_review>approved rafael.reviewer', 'approved>published olivia.owner'],
    );
  },
  'admin-subscriptions': ({ body }) => {
    const items = (JSON.parse(body) as { items: Array<{ api: string; status: string; plan: string }> }).items;
    assert.deepEqual(items.map((s) => `${s.api} ${s.plan} ${s.status}`).sort(), ['erp-rpc finance active', 'erp-sales finance active']);
  },
  'admin-version-impact': ({ body }) => {
    const report = JSON.parse(body) as { usage: { versions: string[]; consumers: Array<{ consumer: string; calls: number }> }; breaking: unknown };
    assert.deepEqual([report.usage.versions, report.breaking], [['1.0.0'], null]);
    // Records reach the control plane within a second or two of the calls; the test waits for them below.
    for (const caller of report.usage.consumers) assert.ok(['storefront', 'crm-sync', 'service-desk', 'finance-jobs'].includes(caller.consumer), caller.consumer);
  },
  'admin-audit-verify': ({ body }) => {
    const verdict = JSON.parse(body) as { intact: boolean; events: number; head: string };
    assert.equal(verdict.intact, true);
    // The seed's events; node reports and reads are never audited.
    assert.equal(verdict.events, 54);
    assert.match(verdict.head, /^[0-9a-f]{64}$/);
  },
};

/** fetch against the demo's admin API with a bearer token; JSON answer. */
async function adminGet(port: number, path: string, token: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, json: await res.json() };
}

// Generous on purpose: on a starved machine (CI once ran where a busy process got a tenth of a
// core) the demo took over 20 s to become ready. These bounds only catch a hang.
const READY_WITHIN_MS = 120_000;

describe('demo start (npm start)', { timeout: 600_000 }, () => {
  let dataDir: string;
  let ports: { gateway: number; status: number; odoo: number; salesforce: number; zendesk: number; controlPlane: number };
  let demoEnv: Record<string, string>;

  before(async () => {
    await new Promise<void>((resolve, reject) =>
      execFile('curl', ['--version'], (error) => (error ? reject(new Error('curl is needed to run the README examples')) : resolve())),
    );
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-demo-'));
    const [gateway, status, odoo, salesforce, zendesk, controlPlane] = (await freePorts(6)) as [number, number, number, number, number, number];
    ports = { gateway, status, odoo, salesforce, zendesk, controlPlane };
    demoEnv = {
      GATEWAY_PORT: String(ports.gateway),
      GATEWAY_STATUS_PORT: String(ports.status),
      ODOO_SIM_PORT: String(ports.odoo),
      SALESFORCE_SIM_PORT: String(ports.salesforce),
      ZENDESK_SIM_PORT: String(ports.zendesk),
      CONTROL_PLANE_PORT: String(ports.controlPlane),
      DEMO_DATA_DIR: dataDir,
      GATEWAY_ACCESS_LOG: '',
      ...PLANTED,
    };
  });

  after(async () => {
    spawned.forEach(killHard);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves every README example (gateway and admin API), then stops cleanly on SIGTERM', async () => {
    const demo = spawnDemo(demoEnv);
    await waitUntilReady(demo, ports.status, READY_WITHIN_MS);

    const examplePorts: ExamplePorts = { gatewayPort: ports.gateway, statusPort: ports.status, controlPlanePort: ports.controlPlane };
    const tokens = await runTokenCommands(examplePorts);
    const answers: string[] = [];
    let readyHash = '';
    for (const example of DEMO_EXAMPLES) {
      const answer = await runCurl(renderCurlCommand(example, examplePorts), tokens);
      answers.push(answer.raw);
      assert.equal(answer.status, example.expect.status, `${example.id}: status\n${answer.raw}`);
      for (const text of example.expect.contains) {
        assert.ok(answer.raw.includes(text), `${example.id}: expected ${JSON.stringify(text)} in\n${answer.raw}`);
      }
      const check = CHECKS[example.id];
      assert.ok(check !== undefined, `${example.id}: no check in this test`);
      check(answer);
      if (example.id === 'health-ready') readyHash = (JSON.parse(answer.body) as { snapshot: string }).snapshot;
    }
    for (const example of ADMIN_EXAMPLES) {
      const answer = await runCurl(renderCurlCommand(example, examplePorts), tokens);
      answers.push(answer.raw);
      assert.equal(answer.status, example.expect.status, `${example.id}: status\n${answer.raw}`);
      for (const text of example.expect.contains) {
        assert.ok(answer.raw.includes(text), `${example.id}: expected ${JSON.stringify(text)} in\n${answer.raw}`);
      }
      const check = ADMIN_CHECKS[example.id];
      assert.ok(check !== undefined, `${example.id}: no check in this test`);
      check(answer, { readyHash });
    }

    // The examples' calls travel gateway → spool → control plane: the impact names their callers.
    const callers = await until(
      'callers in the impact',
      async () => {
        const impact = await adminGet(ports.controlPlane, '/apis/erp-sales/versions/1.0.0/impact?days=7', tokens.ADMIN_TOKEN!);
        const names = (impact.json.usage.consumers as Array<{ consumer: string }>).map((c) => c.consumer);
        return names.length > 0 && names;
      },
      { intervalMs: 100 },
    );
    assert.ok(callers.includes('storefront'), `erp-sales v1 callers: ${callers.join(', ')}`);

    // A person logs in as a browser would (authorization code + PKCE) and reads the same.
    const { accessToken } = await loginAs('ada.auditor', 'demo-auditor', {
      issuer: `http://127.0.0.1:${ports.controlPlane}/oidc`,
      redirectUri: `http://127.0.0.1:${ports.controlPlane}/auth/callback`,
    });
    const nodes = await adminGet(ports.controlPlane, '/gateway/nodes', accessToken);
    assert.equal(nodes.status, 200);
    assert.equal(nodes.json.items[0].appliedHash, readyHash);
    // What the gateway enforces is the catalogue the control plane publishes.
    const snapshot = await adminGet(ports.controlPlane, '/gateway/snapshot', tokens.ADMIN_TOKEN!);
    assert.equal(snapshot.status, 200);
    assert.equal(snapshot.json.hash, readyHash);
    assert.deepEqual(snapshot.json.apis.map((a: { slug: string }) => a.slug), ['crm', 'erp-rpc', 'erp-sales', 'service-desk']);
    const versions = await adminGet(ports.controlPlane, '/apis/crm/versions', accessToken);
    assert.deepEqual(
      versions.json.items.map((v: { version: string; status: string; createdBy: string; approvedBy: string }) => [v.version, v.status, v.createdBy, v.approvedBy]),
      [['1.0.0', 'published', 'adam.admin', 'rafael.reviewer']],
    );

    demo.child.kill('SIGTERM');
    const exit = await demo.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, demo.output());

    const output = demo.output();
    const logLines = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { message: string; listener?: string; url?: string });
    const listening = logLines.filter((line) => line.message === 'listening');
    assert.deepEqual(
      listening.map((line) => `${line.listener} ${line.url}`).sort(),
      [
        `control-plane http://127.0.0.1:${ports.controlPlane}`,
        `gateway http://127.0.0.1:${ports.gateway}`,
        `gateway-status http://127.0.0.1:${ports.status}`,
        `oidc http://127.0.0.1:${ports.controlPlane}/oidc`,
        `odoo-simulator http://127.0.0.1:${ports.odoo}`,
        `salesforce-simulator http://127.0.0.1:${ports.salesforce}`,
        `zendesk-simulator http://127.0.0.1:${ports.zendesk}`,
      ].sort(),
    );
    assert.ok(logLines.some((line) => line.message === 'demo catalogue seeded'), 'the empty store was seeded');
    assert.match(output, /Gatehouse demo is running\./);
    assert.match(output, new RegExp(`curl -sS -i -X POST http://127\\.0\\.0\\.1:${ports.gateway}/erp-sales/v1/sale\\.order/search_read`));
    assert.ok(logLines.some((line) => line.message === 'stopped'), 'shutdown logged');

    // Written on shutdown at the latest: one record per gateway request, rejections included.
    const records = (await readFile(join(dataDir, 'access.log'), 'utf8'))
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as { decision: string; status: number; api: string | null; consumer?: string | null; upstreamStatus: number | null });
    const gatewayExamples = DEMO_EXAMPLES.filter((e) => e.args.some((a) => a.includes('{{GATEWAY_PORT}}')));
    assert.equal(records.length, gatewayExamples.length);
    assert.ok(records.some((r) => r.decision === 'request.invalid_path' && r.status === 400));
    assert.ok(records.some((r) => r.decision === 'route.method_not_allowed' && r.api === 'crm'));
    // The contract refused the ticket before the proxy: no upstream answer was recorded.
    assert.deepEqual(
      records.filter((r) => r.decision === 'contract.request_invalid').map((r) => [r.status, r.consumer, r.upstreamStatus]),
      [[400, 'service-desk', null]],
    );
    // Each consuming system is named in its records: tokens for three, the API key for finance.
    for (const consumer of ['storefront', 'crm-sync', 'service-desk', 'finance-jobs']) {
      assert.ok(records.some((r) => r.consumer === consumer && r.status < 300), `no successful record for ${consumer}`);
    }

    const everything = [output, answers.join('\n'), await readFile(join(dataDir, 'access.log'), 'utf8')].join('\n');
    for (const [name, secret] of Object.entries(PLANTED)) assert.ok(!everything.includes(secret), `${name} leaked`);
    assert.ok(!everything.includes('demo-gateway-secret'), 'the gateway node\'s client secret leaked');
  });

  it('started again on the same store, does not seed twice, serves the same catalogue, and feeds a second gateway node (README: distributed mode)', async () => {
    const demo = spawnDemo(demoEnv);
    await waitUntilReady(demo, ports.status, READY_WITHIN_MS);
    const examplePorts: ExamplePorts = { gatewayPort: ports.gateway, statusPort: ports.status, controlPlanePort: ports.controlPlane };
    const tokens = await runTokenCommands(examplePorts, [ADMIN_TOKEN_COMMAND]);
    const invoice = DEMO_EXAMPLES.find((e) => e.id === 'erp-sales-invoice')!;
    assert.equal((await runCurl(renderCurlCommand(invoice, examplePorts), tokens)).status, 200);
    const transitions = ADMIN_EXAMPLES.find((e) => e.id === 'admin-version-transitions')!;
    ADMIN_CHECKS[transitions.id]!(await runCurl(renderCurlCommand(transitions, examplePorts), tokens), { readyHash: '' });
    const verify = ADMIN_EXAMPLES.find((e) => e.id === 'admin-audit-verify')!;
    ADMIN_CHECKS[verify.id]!(await runCurl(renderCurlCommand(verify, examplePorts), tokens), { readyHash: '' });

    // A gateway node alone (`npm run gateway`: gateway/main.ts with the node flags), fed by the demo's control plane as the README shows.
    const [nodePort, nodeStatusPort] = (await freePorts(2)) as [number, number];
    const node = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, '--import', 'tsx', 'gateway/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...PLANTED,
        CONTROL_PLANE_URL: `http://127.0.0.1:${ports.controlPlane}`,
        OIDC_ISSUER: `http://127.0.0.1:${ports.controlPlane}/oidc`,
        GATEWAY_CLIENT_ID: 'gatehouse-gateway',
        GATEWAY_CLIENT_SECRET: 'demo-gateway-secret',
        GATEWAY_NODE_ID: 'gw-2',
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_PORT: String(nodePort),
        GATEWAY_STATUS_PORT: String(nodeStatusPort),
        GATEWAY_SNAPSHOT_CACHE: join(dataDir, 'gw-2-snapshot.json'),
        GATEWAY_ACCESS_LOG: join(dataDir, 'gw-2-access.log'),
        GATEWAY_SPOOL_DIR: join(dataDir, 'gw-2-spool'),
        GATEWAY_ASYNC_DIR: join(dataDir, 'gw-2-async'),
        REDIS_URL: '',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let nodeOutput = '';
    node.stdout!.on('data', (chunk: Buffer) => (nodeOutput += chunk.toString('utf8')));
    node.stderr!.on('data', (chunk: Buffer) => (nodeOutput += chunk.toString('utf8')));
    const nodeExited = new Promise<number | null>((resolve) => node.once('exit', (code) => resolve(code)));
    try {
      const nodeAsDemo: Demo = { child: node, output: () => nodeOutput, exited: nodeExited.then((code) => ({ code, signal: null })) };
      await waitUntilReady(nodeAsDemo, nodeStatusPort, READY_WITHIN_MS);
      const nodePorts: ExamplePorts = { ...examplePorts, gatewayPort: nodePort, statusPort: nodeStatusPort };
      assert.equal((await runCurl(renderCurlCommand(invoice, nodePorts), tokens)).status, 200);
      const ready = JSON.parse((await runCurl(`curl -sS -i http://127.0.0.1:${nodeStatusPort}/health/ready`, tokens)).body) as { snapshot: string };
      const listed = await until(
        'both nodes current',
        async () => {
          const items = (await adminGet(ports.controlPlane, '/gateway/nodes', tokens.ADMIN_TOKEN!)).json.items as Array<{ nodeId: string; appliedHash: string; current: boolean }>;
          return items.filter((n) => n.current).length >= 2 && items;
        },
        { intervalMs: 100 },
      );
      assert.deepEqual(
        listed.map((n) => [n.nodeId, n.appliedHash, n.current]),
        [
          ['demo-gateway', ready.snapshot, true],
          ['gw-2', ready.snapshot, true],
        ],
      );
    } finally {
      node.kill('SIGTERM');
      assert.equal(await nodeExited, 0, nodeOutput);
    }

    demo.child.kill('SIGTERM');
    assert.deepEqual(await demo.exited, { code: 0, signal: null }, demo.output());
    assert.match(demo.output(), /store holds a catalogue already; not seeding/);
    assert.doesNotMatch(demo.output(), /demo catalogue seeded|points elsewhere/);
    for (const secret of [...Object.values(PLANTED), 'demo-gateway-secret']) assert.ok(!nodeOutput.includes(secret));
  });

  it('fails with exit code 1 naming the port when a port is taken', async () => {
    const [odoo, salesforce, zendesk, status, controlPlane] = (await freePorts(5)) as [number, number, number, number, number];
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = (holder.address() as { port: number }).port;
    const busyDir = await mkdtemp(join(tmpdir(), 'gatehouse-demo-busy-'));
    try {
      const demo = spawnDemo({
        GATEWAY_PORT: String(taken),
        GATEWAY_STATUS_PORT: String(status),
        ODOO_SIM_PORT: String(odoo),
        SALESFORCE_SIM_PORT: String(salesforce),
        ZENDESK_SIM_PORT: String(zendesk),
        CONTROL_PLANE_PORT: String(controlPlane),
        DEMO_DATA_DIR: busyDir,
      });
      const exit = await demo.exited;
      assert.deepEqual(exit, { code: 1, signal: null }, demo.output());
      assert.match(demo.output(), new RegExp(`port ${taken} \\(gateway traffic\\) is already in use`));
      // Refused before the store is opened: a running demo's store is never touched.
      await assert.rejects(readFile(join(busyDir, 'gatehouse.db')), { code: 'ENOENT' });
    } finally {
      spawned.forEach(killHard);
      await new Promise((resolve) => holder.close(resolve));
      await rm(busyDir, { recursive: true, force: true });
    }
  });
});
