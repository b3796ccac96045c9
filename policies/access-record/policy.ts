/**
 * @module `access-record`: one record per request, written by an end hook when the exchange closes, so
 * rejections, upstream failures and client aborts are all recorded. Runs first (priority
 * 10000). Never records a header value or a sensitive query value.
 */
import { performance } from 'node:perf_hooks';
import { definePolicy, type AccessRecord } from '../define-policy.js';
import { accessRecordSchema, type AccessRecordConfig } from './schema.js';

/** Replaces the values of sensitive query parameters; keeps names so the call stays readable. */
export function redactQuery(url: string, sensitive: ReadonlySet<string>): string {
  const queryAt = url.indexOf('?');
  if (queryAt === -1) return url;
  const parts = url.slice(queryAt + 1).split('&');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const eq = part.indexOf('=');
    let name = eq === -1 ? part : part.slice(0, eq);
    try {
      name = decodeURIComponent(name.replace(/\+/g, ' '));
    } catch {
      // undecodable name: judge the raw text
    }
    if (sensitive.has(name.toLowerCase())) parts[i] = `${part.slice(0, eq === -1 ? part.length : eq)}=[redacted]`;
  }
  return `${url.slice(0, queryAt)}?${parts.join('&')}`;
}

/** "000Z" … "999Z": the millisecond part of an ISO time. */
const MILLIS = Array.from({ length: 1000 }, (_, ms) => `${String(ms).padStart(3, '0')}Z`);

/**
 * ISO time of a millisecond, `new Date(ms).toISOString()` without a Date per record: the
 * text up to the second is kept per second, and the millisecond part comes from a table.
 * At a few thousand records a second nearly every one falls in a new millisecond.
 */
export function createIsoClock(): (ms: number) => string {
  let second = Number.NaN;
  // Undefined outside years 0–9999, where the ISO text has another shape: formatted in full.
  let prefix: string | undefined;
  return (ms) => {
    const whole = Math.floor(ms);
    const s = Math.floor(whole / 1000);
    if (s !== second) {
      second = s;
      const text = new Date(s * 1000).toISOString();
      prefix = text.length === 24 ? text.slice(0, 20) : undefined; // "2026-11-27T19:22:33."
    }
    return prefix === undefined ? new Date(whole).toISOString() : prefix + MILLIS[whole - s * 1000]!;
  };
}

export const accessRecordPolicy = definePolicy<AccessRecordConfig>({
  name: 'access-record',
  priority: 10_000,
  schema: accessRecordSchema,
  create(config, deps) {
    const sensitive = new Set(config.sensitiveQueryParams.map((name) => name.toLowerCase()));
    const { accessLog } = deps;
    const isoTime = createIsoClock();

    return {
      onEnd: function writeAccessRecord(req, res, ctx) {
        const url = ctx.path;
        const record: AccessRecord = {
          time: isoTime(ctx.receivedAt),
          traceId: ctx.traceId,
          requestId: ctx.requestId,
          api: ctx.api ?? null,
          version: ctx.version ?? null,
          operation: ctx.operationId ?? null,
          method: req.method ?? '',
          path: url.includes('?') ? redactQuery(url, sensitive) : url,
          status: res.headersSent ? res.statusCode : 499,
          decision: ctx.decision,
          latencyMs: Math.round((performance.now() - ctx.startedAt) * 1000) / 1000,
          upstreamLatencyMs: ctx.upstreamLatencyMs ?? null,
          upstreamStatus: ctx.upstreamStatus ?? null,
          consumer: ctx.consumer?.id ?? null,
          subject: ctx.subject ?? null,
          clientAddress: ctx.clientAddress,
          snapshotHash: ctx.snapshotHash,
          aborted: !res.writableFinished,
        };
        accessLog.write(record);
      },
    };
  },
});
