/**
 * @module Benchmark target (c): a real gateway, configured as in production (winston access
 * log to a file, metrics on), on a pass-through route `/bench/v1` in front of the bench
 * upstream. Prints `LISTENING <port>` once it serves.
 */
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { computeSnapshotHash } from '../../../contracts/index.js';
import { createGateway } from '../../../gateway/gateway.js';
import { createAccessLog, createAppLogger } from '../../../gateway/logging.js';
import { createGatewayMetrics } from '../../../gateway/metrics.js';
import { listenGateway } from '../../../gateway/server.js';
import type { SnapshotSink } from '../../../gateway/snapshot/source.js';

const { values } = parseArgs({ options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' } } });
if (values.upstream === undefined) throw new Error('--upstream is required');

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
          policies: [],
        },
      ],
    },
  ],
  plans: [],
  consumers: [],
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
