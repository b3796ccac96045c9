/**
 * @module Real Redis for tests (127.0.0.1:6379 on these machines, or `TEST_REDIS_URL`). When
 * it is missing the test says so loudly and skips; under `CI=true` it fails instead, so CI can
 * never pass without the Redis tests having run. Each test gets its own key prefix and its
 * keys are deleted afterwards.
 */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { createClient } from 'redis';
import type { RedisClient } from '../../policies/index.js';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestRedis {
  /** A connected client with no offline queue (commands fail at once while Redis is down). */
  client: RedisClient;
  /** Unique per call: prefix every key with it. */
  prefix: string;
  /** Another connected client (a second gateway node). */
  connect(): Promise<RedisClient>;
  /** Deletes the prefix's keys and closes every client made here. */
  close(): Promise<void>;
}

async function connectOnce(): Promise<RedisClient> {
  const client: RedisClient = createClient({
    url: TEST_REDIS_URL,
    disableOfflineQueue: true,
    socket: { connectTimeout: 1000, reconnectStrategy: (retries: number) => (retries > 50 ? false : 50) },
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/**
 * Connects, or skips (locally) / fails (CI) with a clear message.
 *
 * @example
 * it('shares counts', async (t) => {
 *   const redis = await requireRedis(t);
 *   if (redis === undefined) return;
 *   t.after(() => redis.close());
 * });
 */
export async function requireRedis(t: TestContext): Promise<TestRedis | undefined> {
  let client: RedisClient;
  try {
    client = await connectOnce();
  } catch (error) {
    const message = `Redis is not reachable at ${TEST_REDIS_URL} (${(error as Error).message}); start it (redis-server) to run this test`;
    if (process.env.CI === 'true') throw new Error(`${message}. CI=true: Redis tests must run.`);
    process.stderr.write(`\n*** SKIPPED: ${message} ***\n\n`);
    t.skip(message);
    return undefined;
  }
  const clients: RedisClient[] = [client];
  const prefix = `gatehouse-test:${randomBytes(6).toString('hex')}:`;
  return {
    client,
    prefix,
    async connect() {
      const another = await connectOnce();
      clients.push(another);
      return another;
    },
    async close() {
      try {
        if (client.isReady) {
          for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
            if (keys.length > 0) await client.del(keys);
          }
        }
      } finally {
        for (const c of clients) c.destroy();
      }
    },
  };
}
