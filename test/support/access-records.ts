/** @module Access records as a gateway writes them, for tests that ship them to the control plane. */
import type { AccessRecord } from '../../contracts/index.js';

/**
 * An access record as a gateway writes it, with `overrides` applied.
 *
 * @example
 * accessRecord({ consumer: 'store-app', operation: 'updateOrder' });
 */
export function accessRecord(overrides: Partial<AccessRecord>): AccessRecord {
  return {
    time: new Date().toISOString(),
    traceId: '0af7651916cd43dd8448eb211c80319c',
    requestId: `req-${Math.random().toString(36).slice(2)}`,
    api: 'erp-orders',
    version: '1.0.0',
    operation: 'listOrders',
    method: 'GET',
    path: '/orders',
    status: 200,
    decision: 'allow',
    latencyMs: 1.25,
    upstreamLatencyMs: 0.75,
    upstreamStatus: 200,
    consumer: null,
    subject: null,
    clientAddress: '127.0.0.1',
    snapshotHash: 'a'.repeat(64),
    aborted: false,
    ...overrides,
  };
}

