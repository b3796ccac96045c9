/**
 * @module The gateway's Redis connection (node-redis) for shared counters, idempotency records
 * and cached answers. Commands fail at once while the connection is down (no offline queue),
 * so each policy's declared fail mode decides instead of requests piling up; the client keeps
 * reconnecting in the background.
 */
import { createClient } from 'redis';
import type { Logger, RedisClient } from '../policies/index.js';

export interface RedisConnection {
  client: RedisClient;
  /** Resolves on the first successful connection (never rejects; failures are logged). */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * @example
 * const redis = createRedisConnection({ url: process.env.REDIS_URL!, logger });
 * const gateway = createGateway({ ..., redis: redis.client });
 */
export function createRedisConnection(options: { url: string; logger: Logger; connectTimeoutMs?: number }): RedisConnection {
  const { logger } = options;
  // The URL may carry a password: log only where it points.
  const where = (() => {
    try {
      const u = new URL(options.url);
      return `${u.protocol}//${u.host}${u.pathname}`;
    } catch {
      return 'redis';
    }
  })();
  const client: RedisClient = createClient({
    url: options.url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 2000,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2000),
    },
  });
  let down = false;
  client.on('error', (error: Error) => {
    // One line per outage, not one per reconnect attempt.
    if (down) return;
    down = true;
    logger.error('redis connection lost; policies apply their fail modes', { redis: where, error: error.message });
  });
  client.on('ready', () => {
    if (down) logger.info('redis connection restored', { redis: where });
    down = false;
  });
  const ready = client.connect().then(
    () => undefined,
    (error: Error) => logger.error('redis connection failed', { redis: where, error: error.message }),
  );
  return {
    client,
    ready,
    async close() {
      if (client.isOpen) await client.close().catch(() => client.destroy());
      else client.destroy();
    },
  };
}
