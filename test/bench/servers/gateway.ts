/**
 * @module Benchmark target (c): a real gateway, configured as in production (winston access
 * log to a file, metrics on), on a pass-through route `/bench/v1` in front of the bench
 * upstream. Prints `LISTENING <port>` once it serves.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
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
  options: {
    upstream: { type: 'string' },
    port: { type: 'string', default: '0' },
    chain: { type: 'string', default: 'none' },
    jwks: { type: 'string' },
    redis: { type: 'string' },
  },
});
if (values.upstream === undefined) throw new Error('--upstream is required');

// `--chain auth`: jwt-auth + subscription + rbac against a JWKS the runner wrote (served here,
// fetched once), for tokens the runner signed for the `bench-client` consumer. `--chain full`
// adds rate-limit and contract-validation (the version's OpenAPI contract below), counting in
// memory or, with `--redis <url>`, in Redis shared as by several nodes.
export const BENCH_ISSUER = 'https://bench.gatehouse.local';
let jwksUrl = '';
const authenticated = values.chain === 'auth' || values.chain === 'full';
if (authenticated) {
  if (values.jwks === undefined) throw new Error(`--chain ${values.chain} needs --jwks <file>`);
  const jwks = readFileSync(values.jwks, 'utf8');
  const jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
}
const authPolicies = authenticated
  ? [
      { policy: 'jwt-auth', config: { issuers: [{ issuer: BENCH_ISSUER, jwksUri: jwksUrl, audiences: ['gatehouse'] }] } },
      { policy: 'subscription', config: {} },
      { policy: 'rbac', config: { requiredScopes: { listItems: ['items:read'], createOrder: ['orders:write'] } } },
    ]
  : [];
const fullPolicies =
  values.chain === 'full'
    ? [
        { policy: 'rate-limit', config: { keyPrefix: `gatehouse:bench:${process.pid}:` } },
        { policy: 'contract-validation', config: { mode: 'enforce' } },
      ]
    : [];

/** The bench API's contract: a retail order as a storefront posts it. */
const CONTRACT = {
  openapi: '3.1.0',
  info: { title: 'Bench orders', version: '1.0.0' },
  paths: {
    '/items': {
      get: {
        operationId: 'listItems',
        security: [{ oauth: ['items:read'] }],
        parameters: [{ name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100 } }],
        responses: { '200': { description: 'Items.' } },
      },
    },
    '/orders': {
      post: {
        operationId: 'createOrder',
        security: [{ oauth: ['orders:write'] }],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                additionalProperties: false,
                required: ['customerRef', 'lines', 'currency'],
                properties: {
                  customerRef: { type: 'string', pattern: '^C-[0-9]{1,10}$', maxLength: 12 },
                  currency: { type: 'string', enum: ['EUR', 'USD', 'GBP'] },
                  lines: {
                    type: 'array',
                    minItems: 1,
                    maxItems: 200,
                    items: {
                      type: 'object',
                      additionalProperties: false,
                      required: ['sku', 'qty', 'unitPrice'],
                      properties: {
                        sku: { type: 'string', pattern: '^SKU-[0-9]{5}$', maxLength: 9 },
                        qty: { type: 'integer', minimum: 1, maximum: 1000 },
                        unitPrice: { type: 'number', minimum: 0 },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'Created.' }, '400': { description: 'Invalid.' } },
      },
    },
  },
  components: { securitySchemes: { oauth: { type: 'oauth2', flows: { clientCredentials: { tokenUrl: 'https://bench.gatehouse.local/token', scopes: { 'items:read': '', 'orders:write': '' } } } } } },
};

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
          policies: [...authPolicies, ...fullPolicies],
          ...(values.chain === 'full' ? { contract: CONTRACT } : {}),
        },
      ],
    },
  ],
  // A rate far above what the bench can send: every request is counted, none refused.
  plans: [
    {
      id: 'bench',
      name: 'Bench',
      scopes: ['items:read', 'orders:write'],
      limits: { rates: [{ requests: 1_000_000_000, windowSeconds: 60 }], quotas: [], onStoreFailure: 'failClosed' as const },
    },
  ],
  consumers: [{ id: 'bench-client', name: 'Bench client', team: 'bench', clientIds: ['bench-client'], apiKeys: [], subscriptions: [{ api: 'bench', major: 1, plan: 'bench' }] }],
};
const snapshot = { ...body, hash: computeSnapshotHash(body) };

mkdirSync('.bench', { recursive: true });
const logger = createAppLogger({ component: 'gateway', level: 'warn' });
// Each server its own file, removed when it stops: appended across runs, one file grew to
// gigabytes, and the kernel writing it back to disk became part of every later figure.
const accessLogFile = `.bench/access-${process.pid}.log`;
// As gateway/main.ts does: the Redis client is loaded only when Redis is configured.
const redis = values.redis === undefined ? undefined : (await import('../../../gateway/redis.js')).createRedisConnection({ url: values.redis, logger });
if (redis !== undefined) await redis.ready;
const gateway = createGateway({
  ...(redis === undefined ? {} : { redis: redis.client }),
  snapshotSource: {
    describe: () => 'bench (inline)',
    start: (sink: SnapshotSink) => void sink(JSON.stringify(snapshot), 'bench'),
    close: async () => {},
  },
  logger,
  accessLog: process.env.BENCH_ACCESS_LOG === 'none' ? { write() {} } : createAccessLog({ file: accessLogFile }),
  metrics: createGatewayMetrics({ defaultMetrics: true }),
  resolveSecret: () => undefined,
});
await gateway.waitForSnapshot();
const servers = await listenGateway({ gateway, host: '127.0.0.1', port: Number(values.port) });
process.stdout.write(`LISTENING ${new URL(servers.trafficUrl).port}\n`);
// Exit normally on a signal so `node --cpu-prof` writes its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    rmSync(accessLogFile, { force: true });
    process.exit(0);
  });
}
