/**
 * @module Benchmark target (c): a real gateway, configured as in production (winston access
 * log to a file, metrics on), on a pass-through route `/bench/v1` in front of the bench
 * upstream. Prints `LISTENING <port>` once it serves.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { computeSnapshotHash } from '../../../contracts/index.js';
import { createGateway } from '../../../gateway/gateway.js';
import { createAccessLog, createAppLogger } from '../../../gateway/logging.js';
import { createGatewayMetrics } from '../../../gateway/metrics.js';
import { listenGateway } from '../../../gateway/server.js';
import type { SnapshotSink } from '../../../gateway/snapshot/source.js';

const { values } = parseArgs({
  options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' }, chain: { type: 'string', default: 'none' }, jwks: { type: 'string' } },
});
if (values.upstream === undefined) throw new Error('--upstream is required');

// `--chain auth`: jwt-auth + subscription + rbac against a JWKS the runner wrote (served here,
// fetched once), for tokens the runner signed for the `bench-client` consumer.
export const BENCH_ISSUER = 'https://bench.gatehouse.local';
let jwksUrl = '';
if (values.chain === 'auth') {
  if (values.jwks === undefined) throw new Error('--chain auth needs --jwks <file>');
  const jwks = readFileSync(values.jwks, 'utf8');
  const jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
}
const authPolicies =
  values.chain === 'auth'
    ? [
        { policy: 'jwt-auth', config: { issuers: [{ issuer: BENCH_ISSUER, jwksUri: jwksUrl, audiences: ['gatehouse'] }] } },
        { policy: 'subscription', config: {} },
        { policy: 'rbac', config: { requiredScopes: { listItems: ['items:read'], createOrder: ['orders:write'] } } },
      ]
    : [];

const body = {
  formatVersion: 1,
  generatedAt: new Date().toISOString(),
  gateway: { policies: [] },
  apis: [
    {
      slug: 'bench',
      title: 'Benchmark pass-through',
      versions: [
        {
          version: '1.0.0',
          status: 'published' as const,
          upstream: { kind: 'http' as const, baseUrl: values.upstream, connectTimeoutMs: 2000, responseTimeoutMs: 10_000, settings: {} },
          operations: [
            { id: 'listItems', method: 'GET' as const, path: '/items' },
            { id: 'createOrder', method: 'POST' as const, path: '/orders' },
          ],
          policies: authPolicies,
        },
      ],
    },
  ],
  plans: [{ id: 'bench', name: 'Bench', scopes: ['items:read', 'orders:write'] }],
  consumers: [{ id: 'bench-client', name: 'Bench client', team: 'bench', clientIds: ['bench-client'], apiKeys: [], subscriptions: [{ api: 'bench', major: 1, plan: 'bench' }] }],
};
const snapshot = { ...body, hash: computeSnapshotHash(body) };

mkdirSync('.bench', { recursive: true });
const logger = createAppLogger({ component: 'gateway', level: 'warn' });
const gateway = createGateway({
  snapshotSource: {
    describe: () => 'bench (inline)',
    start: (sink: SnapshotSink) => void sink(JSON.stringify(snapshot), 'bench'),
    close: async () => {},
  },
  logger,
  accessLog: process.env.BENCH_ACCESS_LOG === 'none' ? { write() {} } : createAccessLog({ file: '.bench/access.log' }),
  metrics: createGatewayMetrics({ defaultMetrics: true }),
  resolveSecret: () => undefined,
});
await gateway.waitForSnapshot();
const servers = await listenGateway({ gateway, host: '127.0.0.1', port: Number(values.port) });
process.stdout.write(`LISTENING ${new URL(servers.trafficUrl).port}\n`);
// Exit normally on a signal so `node --cpu-prof` writes its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0));
