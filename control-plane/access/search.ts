/**
 * @module Auditor queries over the shipped access records: filters (time range, consumer,
 * subject, api, version, operation, status class, decision code, traceId, node) on indexed
 * columns, keyset paging newest first, and oldest-first pages for streaming exports.
 */
import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { AccessRecordsTable, Database } from '../store/schema.js';

export interface AccessFilter {
  /** ISO date-times: `from` inclusive, `to` exclusive. */
  from?: string;
  to?: string;
  consumer?: string;
  subject?: string;
  api?: string;
  version?: string;
  operation?: string;
  /** 1–5: 1xx … 5xx. */
  statusClass?: number;
  decision?: string;
  traceId?: string;
  node?: string;
}

/** Where a page ends: the last record's time and position. */
export interface AccessCursor {
  at: string;
  batchSeq: number;
  idx: number;
}

type Query = SelectQueryBuilder<Database, 'access_records', AccessRecordsTable>;

const HOUR_MS = 3_600_000;
/**
 * A traceId is looked up hour by hour (the index is keyed by `substr(at, 1, 13)` first, see
 * migration 009) over at most this many hours, a year and more of records; records spread
 * wider than that (a node with a wrong clock) are searched by traceId alone: slower, as right.
 */
const MAX_TRACE_HOURS = 24 * 400;

/**
 * The hours ('YYYY-MM-DDTHH', as the trace index keys them) that can hold records in the
 * filter's time range: those covered by some stored batch's first to last record. An empty
 * list: no record can match. Undefined: too many to probe one by one.
 */
async function traceHours(db: Kysely<Database>, filter: AccessFilter): Promise<readonly string[] | undefined> {
  let query = db.selectFrom('access_batches').select(['first_at', 'last_at']);
  if (filter.from !== undefined) query = query.where('last_at', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('first_at', '<', filter.to);
  const from = filter.from === undefined ? -Infinity : Date.parse(filter.from);
  const to = filter.to === undefined ? Infinity : Date.parse(filter.to);
  const hours = new Set<string>();
  for (const batch of await query.execute()) {
    const first = Math.max(from, Date.parse(batch.first_at));
    const last = Math.min(to, Date.parse(batch.last_at));
    for (let ms = first - (first % HOUR_MS); ms <= last; ms += HOUR_MS) {
      hours.add(new Date(ms).toISOString().slice(0, 13));
      if (hours.size > MAX_TRACE_HOURS) return undefined;
    }
  }
  return [...hours];
}

function filtered(db: Kysely<Database>, filter: AccessFilter, hours: readonly string[] | undefined): Query {
  let query = db.selectFrom('access_records').selectAll() as Query;
  if (filter.from !== undefined) query = query.where('at', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('at', '<', filter.to);
  if (filter.consumer !== undefined) query = query.where('consumer', '=', filter.consumer);
  if (filter.subject !== undefined) query = query.where('subject', '=', filter.subject);
  if (filter.api !== undefined) query = query.where('api', '=', filter.api);
  if (filter.version !== undefined) query = query.where('version', '=', filter.version);
  if (filter.operation !== undefined) query = query.where('operation', '=', filter.operation);
  if (filter.statusClass !== undefined) query = query.where('status', '>=', filter.statusClass * 100).where('status', '<', filter.statusClass * 100 + 100);
  if (filter.decision !== undefined) query = query.where('decision', '=', filter.decision);
  if (filter.traceId !== undefined) {
    query = query.where('trace_id', '=', filter.traceId);
    if (hours !== undefined) query = query.where(sql<string>`substr(at, 1, 13)`, 'in', hours);
  }
  if (filter.node !== undefined) query = query.where('node_id', '=', filter.node);
  return query;
}

/**
 * The records matching `filter`, to be ordered and paged by the caller. A traceId matches a
 * handful of records: they are found first through the trace index (a materialised CTE, so
 * neither planner walks the time index instead, as PostgreSQL without statistics would),
 * then ordered. Undefined when no record can match.
 */
async function matching(db: Kysely<Database>, filter: AccessFilter): Promise<Query | undefined> {
  if (filter.traceId === undefined) return filtered(db, filter, undefined);
  const hours = await traceHours(db, filter);
  if (hours !== undefined && hours.length === 0) return undefined;
  const matched = db.with((cte) => cte('matched').materialized(), () => filtered(db, filter, hours)).selectFrom('matched').selectAll();
  // Same columns under another name; callers refer to them unqualified, so it pages as the table does.
  return matched as unknown as Query;
}

/**
 * One page, newest first; `after` continues from a page's last record.
 *
 * @example
 * const page = await searchAccess(store.db, { consumer: 'storefront', from, to }, 50);
 */
export async function searchAccess(db: Kysely<Database>, filter: AccessFilter, limit: number, after?: AccessCursor): Promise<{ rows: AccessRecordsTable[]; next?: AccessCursor }> {
  let query = await matching(db, filter);
  if (query === undefined) return { rows: [] };
  // A row comparison, not the equivalent OR of its terms: both engines then read the filter's
  // index (which ends with at, batch_seq, idx) from the cursor on, in order, and stop after a page.
  if (after !== undefined) query = query.where((eb) => eb(eb.refTuple('at', 'batch_seq', 'idx'), '<', eb.tuple(after.at, after.batchSeq, after.idx)));
  const rows = await query.orderBy('at', 'desc').orderBy('batch_seq', 'desc').orderBy('idx', 'desc').limit(limit + 1).execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return rows.length > limit && last !== undefined ? { rows: page, next: { at: last.at, batchSeq: Number(last.batch_seq), idx: Number(last.idx) } } : { rows: page };
}

/**
 * Every matching record, oldest first, a page at a time (for exports: memory stays flat).
 *
 * @example
 * for await (const rows of pagesOfAccess(store.db, { api: 'erp-sales' })) write(rows);
 */
export async function* pagesOfAccess(db: Kysely<Database>, filter: AccessFilter, pageSize = 1000): AsyncGenerator<AccessRecordsTable[]> {
  let after: AccessCursor | undefined;
  const base = await matching(db, filter);
  if (base === undefined) return;
  for (;;) {
    let query = base;
    if (after !== undefined) {
      const a = after;
      query = query.where((eb) => eb(eb.refTuple('at', 'batch_seq', 'idx'), '>', eb.tuple(a.at, a.batchSeq, a.idx)));
    }
    const rows = await query.orderBy('at').orderBy('batch_seq').orderBy('idx').limit(pageSize).execute();
    if (rows.length === 0) return;
    yield rows;
    if (rows.length < pageSize) return;
    const last = rows[rows.length - 1]!;
    after = { at: last.at, batchSeq: Number(last.batch_seq), idx: Number(last.idx) };
  }
}

export const encodeAccessCursor = (cursor: AccessCursor): string => Buffer.from(`${cursor.at}|${cursor.batchSeq}|${cursor.idx}`).toString('base64url');

export function decodeAccessCursor(text: string): AccessCursor | undefined {
  const [at, batchSeq, idx] = text.split('|');
  if (at === undefined || Number.isNaN(Date.parse(at)) || !/^\d+$/.test(batchSeq ?? '') || !/^\d+$/.test(idx ?? '')) return undefined;
  return { at, batchSeq: Number(batchSeq), idx: Number(idx) };
}
