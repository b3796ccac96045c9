/** @module Access records for what happens to queued requests after their 202: deliveries, dead letters and admin actions. */
import type { AccessRecord, AsyncRecord } from '../../policies/index.js';

/** Decision codes of the records the async queue writes (the 202 itself is recorded as `allow`). */
export type AsyncDecision = 'async.delivered' | 'async.dead_letter' | 'async.replayed' | 'async.discarded';

export interface AsyncRecordInput {
  record: AsyncRecord;
  decision: AsyncDecision;
  at: number;
  requestId: string;
  status: number;
  latencyMs: number;
  upstreamLatencyMs: number | null;
  upstreamStatus: number | null;
  snapshotHash: string;
  /** Version that delivered it (default: the one that accepted it). */
  version?: string;
  /** Admin actions: the route and the admin's label (as `subject`). */
  method?: string;
  path?: string;
  subject?: string | null;
}

/**
 * @example
 * accessLog.write(asyncAccessRecord({ record, decision: 'async.dead_letter', at: Date.now(), requestId, status: 422, ... }));
 */
export function asyncAccessRecord(input: AsyncRecordInput): AccessRecord {
  const { record } = input;
  return {
    time: new Date(input.at).toISOString(),
    traceId: record.traceId,
    requestId: input.requestId,
    api: record.api,
    version: input.version ?? record.version,
    operation: record.operationId,
    method: input.method ?? record.method,
    path: input.path ?? `/${record.api}/v${record.major}${record.path}`,
    status: input.status,
    decision: input.decision,
    latencyMs: Math.round(input.latencyMs * 1000) / 1000,
    upstreamLatencyMs: input.upstreamLatencyMs === null ? null : Math.round(input.upstreamLatencyMs * 1000) / 1000,
    upstreamStatus: input.upstreamStatus,
    consumer: record.consumer,
    subject: input.subject === undefined ? record.subject : input.subject,
    // Sent by the gateway itself, not by a client.
    clientAddress: '',
    snapshotHash: input.snapshotHash,
    aborted: false,
  };
}
