/** @module An order creation as the `async-delivery` policy queues it, for tests of the async stores and deliverer. */
import type { AsyncRecord } from '../../policies/async-delivery/queue.js';

/**
 * The storefront's `createOrder` on erp v1 for order `ref`, its id minted by the store; override
 * the body, trace or delivery plan where a test needs to.
 *
 * @example
 * const record = queuedOrder(store.mintId.bind(store), 'S-1', { plan: { ...plan, maxAttempts: 5 } });
 */
export function queuedOrder(mintId: (key: string) => string, ref: string, overrides: Partial<AsyncRecord> = {}): AsyncRecord {
  const key = `storefront\nerp/v1\n${ref}`;
  const id = mintId(key);
  return {
    id,
    txid: id,
    consumer: 'storefront',
    subject: null,
    api: 'erp',
    major: 1,
    version: '1.0.0',
    operationId: 'createOrder',
    method: 'POST',
    path: '/sale.order/create',
    headers: { 'content-type': 'application/json' },
    body: Buffer.alloc(64, 'x').toString('base64'),
    orderingKey: key,
    receivedAt: Date.now(),
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    withholdAnswer: false,
    plan: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 20, maxStoredResponseBytes: 1024, probe: null },
    ...overrides,
  };
}
