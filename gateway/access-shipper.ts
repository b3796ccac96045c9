/**
 * @module Ships a node's closed spool segments to the control plane, oldest first, one batch per
 * segment: `POST {controlPlaneUrl}/api/v1/audit/access-batches` with an `AccessBatch`. A receipt
 * deletes the segment; the control plane stores each (nodeId, batchId) once and answers a re-sent
 * batch with `duplicate: true`, so a batch whose answer was lost (timeout, crash) is simply sent
 * again. 401: a fresh token, then again. 400/413/422: the content will never be taken, so the
 * segment moves to `rejected/` and the queue goes on. Anything else: the segment stays and is
 * retried with exponential backoff and jitter.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { describeControlPlaneFailure } from './snapshot/control-plane-token.js';
import { equalJitterBackoff, type AccessBatch, type AccessBatchReceipt, type Clock, type Logger } from '../contracts/index.js';
import type { AccessSpoolQueue, AccessSpoolSegment } from './access-spool.js';
import { readAtScrape, type GatewayMetrics } from './metrics.js';

export interface AccessShipperOptions {
  spool: AccessSpoolQueue;
  /** Base URL of the control plane, e.g. `http://control-plane:4000` (`/api/v1/...` is appended). */
  controlPlaneUrl: string;
  /** This node's id (the same as in its snapshot reports). */
  nodeId: string;
  /** A bearer token with the control plane's `gateway` role (see createControlPlaneTokenSource). */
  getToken: (signal: AbortSignal) => Promise<string>;
  /** Called when the control plane answers 401, so the next `getToken` mints a fresh token. */
  invalidateToken?: () => void;
  fetch?: typeof fetch;
  logger: Logger;
  clock?: Clock;
  /** First retry delay after a failure. Default 500 ms. */
  backoffBaseMs?: number;
  /** Longest retry delay. Default 30000 ms. */
  backoffMaxMs?: number;
  /** A batch unanswered this long is abandoned and sent again later. Default 30000 ms. */
  requestTimeoutMs?: number;
  /** Jitter source in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Shipped, failed and rejected batches are read from the shipper at scrape time. */
  metrics?: GatewayMetrics;
}

export interface AccessShipperStatus {
  /** When the control plane last took a batch (ISO 8601), or null. */
  lastSuccessAt: string | null;
  /** Why the last attempt failed; null once one succeeds. Never carries a token. */
  lastError: string | null;
  /** Segments in the spool not yet shipped, the open one included. */
  pendingSegments: number;
  shippedBatches: number;
  shippedRecords: number;
  /** Attempts that failed and will be retried. */
  failedAttempts: number;
  /** Batches the control plane refused, moved to `rejected/`. */
  rejectedBatches: number;
}

export interface AccessShipper {
  status(): AccessShipperStatus;
  /**
   * Ships nothing more; a request in flight may finish for up to `graceMs` (default 5000), then is
   * aborted (its segment stays and is sent again by the next run).
   */
  close(graceMs?: number): Promise<void>;
}

/** Statuses that mean "this content will never be taken": retrying would block the queue forever. */
const REFUSED = new Set([400, 413, 422]);
const MAX_DETAIL_CHARS = 500;

/** A failure worth a log line, carrying only what is safe to log. */
class ShipError extends Error {
  override readonly name = 'ShipError';
}

type Outcome = { kind: 'shipped'; receipt: AccessBatchReceipt; records: number } | { kind: 'unauthorized' } | { kind: 'refused'; status: number; code: string; detail: string };

/** Problem code and detail of an answer, if it is a problem document. */
function problemOf(text: string): { code: string; detail: string } {
  try {
    const problem = JSON.parse(text) as { code?: unknown; detail?: unknown };
    return { code: typeof problem.code === 'string' ? problem.code : '', detail: typeof problem.detail === 'string' ? problem.detail.slice(0, MAX_DETAIL_CHARS) : '' };
  } catch {
    return { code: '', detail: '' };
  }
}

function isReceipt(value: unknown, batchId: string): value is AccessBatchReceipt {
  const receipt = value as Partial<AccessBatchReceipt> | null;
  return typeof receipt === 'object' && receipt !== null && receipt.batchId === batchId && typeof receipt.accepted === 'number' && typeof receipt.duplicate === 'boolean';
}

/**
 * Starts shipping at once and keeps going until `close()`.
 *
 * @param options.backoffBaseMs default 500; options.backoffMaxMs default 30000
 * @param options.requestTimeoutMs default 30000
 * @example
 * const tokens = createControlPlaneTokenSource({ issuer, clientId, clientSecret, logger });
 * const spool = createAccessSpool({ dir: './data/spool', logger });
 * const shipper = createAccessShipper({
 *   spool, controlPlaneUrl: 'http://control-plane:4000', nodeId: 'gw-1', logger,
 *   getToken: (signal) => tokens.get(signal), invalidateToken: () => tokens.invalidate(),
 * });
 * // on shutdown: await spool.close(); await shipper.close();
 */
export function createAccessShipper(options: AccessShipperOptions): AccessShipper {
  const { spool, logger, nodeId } = options;
  const base = options.controlPlaneUrl.replace(/\/+$/, '');
  const url = `${base}/api/v1/audit/access-batches`;
  const fetchFn = options.fetch ?? fetch;
  const clock = options.clock ?? { now: Date.now };
  const random = options.random ?? Math.random;
  const backoffBaseMs = options.backoffBaseMs ?? 500;
  const backoffMaxMs = Math.max(options.backoffMaxMs ?? 30_000, backoffBaseMs);
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  /** Aborted on close: nothing new starts, sleeps and waits end. */
  const stopping = new AbortController();
  /** Aborted after the grace period: the request in flight ends. */
  const aborting = new AbortController();

  const counts = { shippedBatches: 0, shippedRecords: 0, failedAttempts: 0, rejectedBatches: 0 };
  let lastSuccessAt: number | undefined;
  let lastError: string | undefined;
  /** The batch body of the segment at the head of the queue, kept across retries (read and logged once). */
  let prepared: { segment: AccessSpoolSegment; body: string; records: number } | undefined;

  if (options.metrics !== undefined) {
    const { metrics } = options;
    readAtScrape(metrics, 'access_batches_shipped_total', 'Access-record batches the control plane took.', 'counter', () => counts.shippedBatches);
    readAtScrape(metrics, 'access_batch_failures_total', 'Attempts to ship an access-record batch that failed and are retried.', 'counter', () => counts.failedAttempts);
    readAtScrape(metrics, 'access_batches_rejected_total', 'Access-record batches the control plane refused (moved to rejected/).', 'counter', () => counts.rejectedBatches);
  }

  /** Waits `ms`, or less when stopping starts (then it resolves at once). */
  function sleep(ms: number): Promise<void> {
    return delay(ms, undefined, { signal: stopping.signal }).catch(() => undefined);
  }

  async function prepare(segment: AccessSpoolSegment): Promise<{ body: string; records: number } | undefined> {
    if (prepared?.segment === segment) return prepared;
    let records;
    try {
      records = await spool.readSegment(segment);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      // Deleted behind the spool's back: retrying would block the queue forever.
      logger.warn('access spool segment vanished before it was shipped', { batchId: segment.batchId, records: segment.records });
      return undefined;
    }
    if (records.length === 0) return undefined;
    const batch: AccessBatch = { nodeId, batchId: segment.batchId, records };
    prepared = { segment, body: JSON.stringify(batch), records: records.length };
    return prepared;
  }

  async function send(segment: AccessSpoolSegment, body: string, records: number): Promise<Outcome> {
    const signal = AbortSignal.any([aborting.signal, AbortSignal.timeout(requestTimeoutMs)]);
    const token = await options.getToken(signal);
    const res = await fetchFn(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body,
      signal,
    });
    const text = await res.text();
    if (res.status === 401) return { kind: 'unauthorized' };
    if (REFUSED.has(res.status)) return { kind: 'refused', status: res.status, ...problemOf(text) };
    if (!res.ok) {
      const { code } = problemOf(text);
      throw new ShipError(`the control plane answered ${res.status}${code === '' ? '' : ` ${code}`}`);
    }
    let receipt: unknown;
    try {
      receipt = JSON.parse(text);
    } catch {
      receipt = undefined;
    }
    // Deleting on an answer that is not this batch's receipt could lose it: sent again instead.
    if (!isReceipt(receipt, segment.batchId)) throw new ShipError(`the control plane answered ${res.status} without a receipt for batch ${segment.batchId}`);
    return { kind: 'shipped', receipt, records };
  }

  async function run(): Promise<void> {
    let failures = 0;
    let retriedAfter401 = false;
    while (!stopping.signal.aborted) {
      const segment = spool.oldestClosed();
      if (segment === undefined) {
        await spool.waitForClosed(stopping.signal);
        continue;
      }
      let failure: string;
      try {
        const batch = await prepare(segment);
        if (batch === undefined) {
          // Nothing but a torn line (or the file is gone): no batch to send.
          await spool.removeSegment(segment);
          continue;
        }
        const outcome = await send(segment, batch.body, batch.records);
        if (outcome.kind === 'shipped') {
          await spool.removeSegment(segment);
          prepared = undefined;
          counts.shippedBatches += 1;
          counts.shippedRecords += outcome.records;
          lastSuccessAt = clock.now();
          lastError = undefined;
          retriedAfter401 = false;
          if (failures > 0) logger.info('access batches reach the control plane again', { url: base, failures });
          failures = 0;
          if (outcome.receipt.duplicate) logger.debug('access batch had arrived before; the control plane kept the first copy', { batchId: segment.batchId });
          continue;
        }
        if (outcome.kind === 'refused') {
          const file = await spool.rejectSegment(segment);
          prepared = undefined;
          counts.rejectedBatches += 1;
          lastError = `batch ${segment.batchId} refused: ${outcome.status}${outcome.code === '' ? '' : ` ${outcome.code}`}`;
          logger.error('the control plane refused an access batch; moved aside and not sent again (inspect it, fix, and copy it back to the spool to resend)', {
            batchId: segment.batchId,
            records: batch.records,
            status: outcome.status,
            code: outcome.code,
            detail: outcome.detail,
            file,
          });
          continue;
        }
        options.invalidateToken?.();
        // A token that expired or was revoked: one fresh try at once; a second 401 is an outage.
        if (!retriedAfter401) {
          retriedAfter401 = true;
          logger.debug('the control plane refused the token; sending again with a fresh one', { batchId: segment.batchId });
          continue;
        }
        failure = 'the control plane answered 401 to a fresh token (does the client hold the gateway role?)';
      } catch (error) {
        if (stopping.signal.aborted) break;
        retriedAfter401 = false;
        failure = error instanceof ShipError ? error.message : describeControlPlaneFailure(error);
      }
      failures += 1;
      counts.failedAttempts += 1;
      lastError = failure;
      const delayMs = equalJitterBackoff(failures, backoffBaseMs, backoffMaxMs, random);
      const meta = { url: base, nodeId, batchId: segment.batchId, failures, retryInMs: delayMs, pending: spool.depth(), error: failure };
      // One warning per outage, the retries at debug: a long outage does not flood the log.
      if (failures === 1) logger.warn('access batch not shipped; retrying with backoff (records stay in the spool)', meta);
      else logger.debug('access batch still not shipped', meta);
      await sleep(delayMs);
    }
  }

  const loop = run().catch((error: unknown) => {
    // Not expected (every step above catches): said loudly, since records then wait for a restart.
    logger.error('access shipper stopped unexpectedly; records stay in the spool until the next start', { error: (error as Error).message });
  });

  return {
    status: () => ({
      lastSuccessAt: lastSuccessAt === undefined ? null : new Date(lastSuccessAt).toISOString(),
      lastError: lastError ?? null,
      pendingSegments: spool.depth().segments,
      ...counts,
    }),
    async close(graceMs = 5000) {
      stopping.abort();
      const timer = setTimeout(() => aborting.abort(), graceMs);
      try {
        await loop;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
