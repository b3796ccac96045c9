/**
 * @module Auditor queries over the shipped access records: filters (time range, consumer,
 * subject, api, version, operation, status class, decision code, traceId, node) on indexed
 * columns, keyset paging newest first, and oldest-first pages for streaming exports.
 */
import type { Kysely, SelectQueryBuilder } from 'kysely';
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

function filtered(db: Kysely<Database>, filter: AccessFilter): Query {
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
  if (filter.traceId !== undefined) query = query.where('trace_id', '=', filter.traceId);
  if (filter.node !== undefined) query = query.where('node_id', '=', filter.node);
  return query;
}

/**
 * One page, newest first; `after` continues from a page's last record.
 *
 * @example
 * const page = await searchAccess(store.db, { consumer: 'storefront', from, to }, 50);
 */
export async function searchAccess(db: Kysely<Database>, filter: AccessFilter, limit: number, after?: AccessCursor): Promise<{ rows: AccessRecordsTable[]; next?: AccessCursor }> {
  let query = filtered(db, filter);
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
  for (;;) {
    let query = filtered(db, filter);
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
