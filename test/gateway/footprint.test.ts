/**
 * @module What a gateway node holds in its heap: the Redis client is loaded only when a node
 * uses Redis, and the ReDoS checker never (it runs in a thread of its own while a snapshot compiles). Each is megabytes of heap that every major GC marks, and
 * that pause is the gateway's worst request latency (README, Benchmark). The node is the shipped
 * entry point, `gateway/main.ts`, fed from a snapshot file.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RESP_TYPES } from 'redis';
import { GATEWAY_NODE_FLAGS } from '../../gateway/node-flags.js';
import { RESP_BLOB_STRING } from '../../policies/index.js';
import { buildSnapshot, httpApi } from '../support/gateway-harness.js';
import { freePorts } from '../support/ports.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const PRELOAD = join(ROOT, 'test/support/loaded-packages.ts');

const OPERATIONS = [{ id: 'createOrder', method: 'POST' as const, path: '/orders' }];

function snapshotText(pattern: string | undefined): string {
  const extra = pattern !== undefined
    ? {
        policies: [{ policy: 'contract-validation', config: { mode: 'enforce' } }],
        contract: {
          openapi: '3.1.0',
          info: { title: 'Orders', version: '1.0.0' },
          paths: {
            '/orders': {
              post: {
                operationId: 'createOrder',
                requestBody: {
                  required: true,
                  content: { 'application/json': { schema: { type: 'object', properties: { sku: { type: 'string', pattern } } } } },
                },
                responses: { '201': { description: 'Created.' } },
              },
            },
          },
        },
      }
    : {};
  return JSON.stringify(buildSnapshot({ apis: [httpApi('orders', 'http://127.0.0.1:1', OPERATIONS, extra)] }));
}

describe('gateway node footprint', () => {
  let dir: string;
  let child: ChildProcess;
  let output = '';
  let statusUrl: string;
  const snapshotFile = (): string => join(dir, 'snapshot.json');

  /** Packages the node has loaded, as its preload reports them on SIGUSR2. */
  async function loaded(): Promise<string[]> {
    const from = output.length;
    child.kill('SIGUSR2');
    for (let waited = 0; waited < 5000; waited += 20) {
      const line = /LOADED (\[.*\])\n/.exec(output.slice(from));
      if (line?.[1] !== undefined) return JSON.parse(line[1]) as string[];
      await new Promise((done) => setTimeout(done, 20));
    }
    throw new Error(`no LOADED line:\n${output}`);
  }

  async function readyWith(hash: string): Promise<void> {
    for (let waited = 0; waited < 20_000; waited += 50) {
      if (child.exitCode !== null) throw new Error(`gateway exited:\n${output}`);
      const body = (await fetch(`${statusUrl}/health/ready`).then((r) => r.json(), () => ({}))) as { snapshot?: string };
      if (body.snapshot === hash) return;
      await new Promise((done) => setTimeout(done, 50));
    }
    throw new Error(`snapshot ${hash} not applied:\n${output}`);
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-footprint-'));
    await writeFile(snapshotFile(), snapshotText(undefined));
    const [port, statusPort] = await freePorts(2);
    statusUrl = `http://127.0.0.1:${statusPort}`;
    child = spawn(process.execPath, ['--import', 'tsx', '--import', PRELOAD, 'gateway/main.ts'], {
      cwd: ROOT,
      // No REDIS_URL: the embedded default.
      env: {
        PATH: process.env.PATH ?? '',
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_PORT: String(port),
        GATEWAY_STATUS_PORT: String(statusPort),
        GATEWAY_SNAPSHOT_FILE: snapshotFile(),
        GATEWAY_ACCESS_LOG: join(dir, 'access.log'),
        GATEWAY_ASYNC_DIR: join(dir, 'async'),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  });

  after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('loads neither the Redis client nor recheck without Redis and without a pattern to check', async () => {
    await readyWith((JSON.parse(snapshotText(undefined)) as { hash: string }).hash);
    const packages = await loaded();
    // The probe works: what every node needs is listed.
    assert.ok(packages.includes('http-proxy'), packages.join(', '));
    assert.ok(!packages.includes('redis') && !packages.includes('@redis/client'), `redis loaded: ${packages.join(', ')}`);
    assert.ok(!packages.includes('recheck'), `recheck loaded: ${packages.join(', ')}`);
  });

  it('judges a snapshot\'s patterns with recheck in a thread of its own, never in the node\'s heap', async () => {
    const safe = snapshotText('^SKU-[0-9]{5}$');
    await writeFile(snapshotFile(), safe);
    await readyWith((JSON.parse(safe) as { hash: string }).hash);
    let packages = await loaded();
    assert.ok(!packages.includes('recheck'), `recheck loaded: ${packages.join(', ')}`);

    // The checker did judge: a pattern that backtracks catastrophically is refused, whole snapshot.
    const from = output.length;
    await writeFile(snapshotFile(), snapshotText('^(a+)+$'));
    for (let waited = 0; !output.slice(from).includes('snapshot rejected') && waited < 20_000; waited += 50) {
      await new Promise((done) => setTimeout(done, 50));
    }
    assert.match(output.slice(from), /snapshot rejected.*catastrophic backtracking/s);
    await readyWith((JSON.parse(safe) as { hash: string }).hash);
    packages = await loaded();
    assert.ok(!packages.includes('recheck') && !packages.includes('@redis/client'), packages.join(', '));
  });

  it('warns, naming them, when started without the gateway node flags', () => {
    // Logged at start, before the node served (the tests above waited for that).
    const warning = output.split('\n').find((line) => line.includes('started without the gateway node flags'));
    assert.ok(warning !== undefined, output);
    for (const flag of GATEWAY_NODE_FLAGS) assert.ok(warning.includes(flag), warning);
  });

  it('names the RESP bulk-string type as node-redis does', () => {
    assert.equal(RESP_BLOB_STRING, RESP_TYPES.BLOB_STRING);
  });
});
