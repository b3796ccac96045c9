/**
 * @module Access records shipped by the gateway nodes: stored once per node and batch id, and
 * chained like the admin audit. A batch's hash is the SHA-256 of the canonical JSON of its row
 * (the hash aside) plus the digest of its records as stored, so changing, removing or
 * reordering a record or a batch breaks every link after it; `verifyAccessChain` names the
 * first broken one. Appends are serialised by a lock on the single `access_batch_head` row.
 */
import { createHash } from 'node:crypto';
import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import { canonicalJson, type AccessBatch, type AccessBatchReceipt, type AccessRecord } from '../../contracts/index.js';
import type { Dialect } from '../store/db.js';
import type { AccessBatchesTable, AccessRecordsTable, Database } from '../store/schema.js';

export const ACCESS_GENESIS_HASH = '0'.repeat(64);

/**
 * Every column of an access record row with its PostgreSQL type. A `Record` over the table's
 * keys, so a column added to the table and forgotten here fails the type check.
 */
const RECORD_COLUMN_TYPES: Readonly<Record<keyof AccessRecordsTable, 'integer' | 'text'>> = {
  batch_seq: 'integer',
  idx: 'integer',
  at: 'text',
  node_id: 'text',
  trace_id: 'text',
  request_id: 'text',
  api: 'text',
  version: 'text',
  operation: 'text',
  method: 'text',
  path: 'text',
  status: 'integer',
  decision: 'text',
  latency_us: 'integer',
  upstream_latency_us: 'integer',
  upstream_status: 'integer',
  consumer: 'text',
  subject: 'text',
  client_address: 'text',
  snapshot_hash: 'text',
  aborted: 'integer',
};
const RECORD_COLUMNS = Object.keys(RECORD_COLUMN_TYPES) as ReadonlyArray<keyof AccessRecordsTable>;

/**
 * A batch's records go in with one statement fed one JSON array: the records' canonical JSON,
 * the very text the batch hash covers. No multi-row VALUES with thousands of bound parameters
 * to parse, plan and bind (21 per record), and no query builder walking them.
 */
const INSERT_RECORDS_POSTGRES =
  `insert into access_records (${RECORD_COLUMNS.join(', ')}) select ${RECORD_COLUMNS.join(', ')} ` +
  `from json_to_recordset($1::json) as r(${RECORD_COLUMNS.map((column) => `${column} ${RECORD_COLUMN_TYPES[column]}`).join(', ')})`;
// SQLite's JSON functions answer integers, text and null as themselves; jsonb() parses the text once.
const INSERT_RECORDS_SQLITE = `insert into access_records (${RECORD_COLUMNS.join(', ')}) select ${RECORD_COLUMNS.map((column) => `value ->> '${column}'`).join(', ')} from jsonb_each(jsonb(?))`;

const micros = (ms: number | null): number | null => (ms === null ? null : Math.min(2_147_483_647, Math.round(ms * 1000)));

/** A record as stored, but for its batch_seq (known only under the head lock). */
function recordRow(idx: number, nodeId: string, record: AccessRecord): Omit<AccessRecordsTable, 'batch_seq'> {
  return {
    idx,
    at: new Date(record.time).toISOString(),
    node_id: nodeId,
    trace_id: record.traceId,
    request_id: record.requestId,
    api: record.api,
    version: record.version,
    operation: record.operation,
    method: record.method,
    path: record.path,
    status: record.status,
    decision: record.decision,
    latency_us: micros(record.latencyMs)!,
    upstream_latency_us: micros(record.upstreamLatencyMs),
    upstream_status: record.upstreamStatus,
    consumer: record.consumer,
    subject: record.subject,
    client_address: record.clientAddress,
    snapshot_hash: record.snapshotHash,
    aborted: record.aborted ? 1 : 0,
  };
}

/** PostgreSQL answers integers as numbers, SQLite too; counts may come back as strings. */
function normalise(row: AccessRecordsTable): AccessRecordsTable {
  return {
    ...row,
    batch_seq: Number(row.batch_seq),
    idx: Number(row.idx),
    status: Number(row.status),
    latency_us: Number(row.latency_us),
    upstream_latency_us: row.upstream_latency_us === null ? null : Number(row.upstream_latency_us),
    upstream_status: row.upstream_status === null ? null : Number(row.upstream_status),
    aborted: Number(row.aborted),
  };
}

/** A stored integer as the hash sees it: a number (a driver may answer a string), never NaN or infinite (RFC 8785 has neither). */
function integer(value: number | string): number {
  const number = Number(value);
  if (!Number.isFinite(number)) throw new Error(`${Number.isNaN(number) ? 'NaN' : 'Infinity'} is not allowed`);
  return number;
}

/**
 * A record's canonical JSON, `canonicalJson(normalise(row))`, in two parts around the value of
 * its `batch_seq`: `${before}${seq}${after}`. The batch's seq is known only under the head lock,
 * which serialises every node's appends, so the rest is serialised before it is taken.
 *
 * Written out rather than walked generically (three times faster; every stored record is
 * hashed when it arrives and again by `verifyAccessChain`): `JSON.stringify` writes an object's
 * keys in insertion order and strings, finite numbers and null exactly as RFC 8785 does, so
 * object literals holding the columns in sorted order (UTF-16 code units, as RFC 8785 sorts
 * keys) give the same bytes. A test compares them with `canonicalJson`.
 */
function canonicalParts(row: Omit<AccessRecordsTable, 'batch_seq'>): { before: string; after: string } {
  const before = JSON.stringify({ aborted: integer(row.aborted), api: row.api, at: row.at });
  const after = JSON.stringify({
    client_address: row.client_address,
    consumer: row.consumer,
    decision: row.decision,
    idx: integer(row.idx),
    latency_us: integer(row.latency_us),
    method: row.method,
    node_id: row.node_id,
    operation: row.operation,
    path: row.path,
    request_id: row.request_id,
    snapshot_hash: row.snapshot_hash,
    status: integer(row.status),
    subject: row.subject,
    trace_id: row.trace_id,
    upstream_latency_us: row.upstream_latency_us === null ? null : integer(row.upstream_latency_us),
    upstream_status: row.upstream_status === null ? null : integer(row.upstream_status),
    version: row.version,
  });
  return { before: `${before.slice(0, -1)},"batch_seq":`, after: `,${after.slice(1)}` };
}

/**
 * The RFC 8785 canonical JSON of a stored record row, as its batch's hash covers it.
 *
 * @example
 * canonicalRecordRow(row) === canonicalJson(row); // for any row as stored, only faster
 */
export function canonicalRecordRow(row: AccessRecordsTable): string {
  const { before, after } = canonicalParts(row);
  return `${before}${integer(row.batch_seq)}${after}`;
}

/** SHA-256 over the records' canonical JSON, one per line. */
function digestLines(lines: readonly string[]): string {
  const hash = createHash('sha256');
  for (const line of lines) hash.update(`${line}\n`);
  return hash.digest('hex');
}

function batchHash(batch: Omit<AccessBatchesTable, 'hash'>, recordsDigest: string): string {
  const content = { ...batch, seq: Number(batch.seq), records: Number(batch.records), recordsDigest };
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/** The record as the API shows it. */
export function accessRecordView(row: AccessRecordsTable): AccessRecord & { nodeId: string; batchSeq: number } {
  const r = normalise(row);
  return {
    time: r.at,
    traceId: r.trace_id,
    requestId: r.request_id,
    api: r.api,
    version: r.version,
    operation: r.operation,
    method: r.method,
    path: r.path,
    status: r.status,
    decision: r.decision,
    latencyMs: r.latency_us / 1000,
    upstreamLatencyMs: r.upstream_latency_us === null ? null : r.upstream_latency_us / 1000,
    upstreamStatus: r.upstream_status,
    consumer: r.consumer,
    subject: r.subject,
    clientAddress: r.client_address,
    snapshotHash: r.snapshot_hash,
    aborted: r.aborted === 1,
    nodeId: r.node_id,
    batchSeq: r.batch_seq,
  };
}

/**
 * Stores a batch and its records in one transaction, unless this node sent this batch id
 * before (then it answers with the stored batch, `duplicate: true`).
 *
 * @example
 * const receipt = await appendAccessBatch(store.db, store.dialect, clock.now(), { nodeId: 'gw-1', batchId: '0001', records });
 */
export async function appendAccessBatch(db: Kysely<Database>, dialect: Dialect, nowMs: number, batch: AccessBatch): Promise<AccessBatchReceipt> {
  // What does not depend on the batch's place in the chain is done before the head lock: the
  // lock serialises every node's appends, so work done under it is waited for by all of them.
  const rows = batch.records.map((record, idx) => recordRow(idx, batch.nodeId, record));
  const parts = rows.map(canonicalParts);
  let firstAt = rows[0]!.at;
  let lastAt = firstAt;
  for (const { at } of rows) {
    if (at < firstAt) firstAt = at;
    if (at > lastAt) lastAt = at;
  }
  return db.transaction().execute(async (trx: Transaction<Database>) => {
    let headQuery = trx.selectFrom('access_batch_head').select(['seq', 'hash']).where('id', '=', 1);
    if (dialect === 'postgres') headQuery = headQuery.forUpdate();
    const head = await headQuery.executeTakeFirstOrThrow();
    // Under the head lock, so a concurrent re-send of the same batch waits and finds it.
    const existing = await trx.selectFrom('access_batches').select(['seq', 'hash']).where('node_id', '=', batch.nodeId).where('batch_id', '=', batch.batchId).executeTakeFirst();
    if (existing !== undefined) return { batchId: batch.batchId, accepted: 0, duplicate: true, seq: Number(existing.seq), hash: existing.hash };
    const seq = Number(head.seq) + 1;
    const lines = parts.map(({ before, after }) => `${before}${seq}${after}`);
    const content: Omit<AccessBatchesTable, 'hash'> = {
      seq,
      node_id: batch.nodeId,
      batch_id: batch.batchId,
      received_at: new Date(nowMs).toISOString(),
      records: rows.length,
      first_at: firstAt,
      last_at: lastAt,
      prev_hash: head.hash,
    };
    const hash = batchHash(content, digestLines(lines));
    await trx.insertInto('access_batches').values({ ...content, hash }).execute();
    await trx.executeQuery(CompiledQuery.raw(dialect === 'postgres' ? INSERT_RECORDS_POSTGRES : INSERT_RECORDS_SQLITE, [`[${lines.join(',')}]`]));
    await trx.updateTable('access_batch_head').set({ seq, hash }).where('id', '=', 1).execute();
    return { batchId: batch.batchId, accepted: rows.length, duplicate: false, seq, hash };
  });
}

export type AccessChainVerdict =
  | { intact: true; batches: number; records: number; head: string }
  | { intact: false; batches: number; records: number; brokenAt: { seq: number; nodeId: string | null; batchId: string | null; reason: string } };

/**
 * Recomputes the access chain from the first batch, each batch's records included.
 *
 * @example
 * const verdict = await verifyAccessChain(store.db);
 */
export async function verifyAccessChain(db: Kysely<Database>, pageSize = 200): Promise<AccessChainVerdict> {
  // Retention purges whole batches from the start; the head remembers where the kept chain begins.
  const start = await db.selectFrom('access_batch_head').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
  const baseSeq = Number(start.base_seq ?? 0);
  let expectedSeq = baseSeq + 1;
  let prev = start.base_hash ?? ACCESS_GENESIS_HASH;
  let batches = 0;
  let records = 0;
  for (;;) {
    const page = await db.selectFrom('access_batches').selectAll().where('seq', '>=', expectedSeq).orderBy('seq').limit(pageSize).execute();
    for (const row of page) {
      const seq = Number(row.seq);
      const broken = (reason: string) => ({ intact: false as const, batches, records, brokenAt: { seq, nodeId: row.node_id, batchId: row.batch_id, reason } });
      if (seq !== expectedSeq) return { intact: false, batches, records, brokenAt: { seq: expectedSeq, nodeId: null, batchId: null, reason: `batch ${expectedSeq} is missing` } };
      if (row.prev_hash !== prev) return broken('prev_hash does not match the previous batch');
      const stored = await db.selectFrom('access_records').selectAll().where('batch_seq', '=', seq).orderBy('idx').execute();
      if (stored.length !== Number(row.records) || stored.some((record, i) => Number(record.idx) !== i)) return broken('records of the batch were removed or added');
      const { hash, ...content } = row;
      if (batchHash(content, digestLines(stored.map(canonicalRecordRow))) !== hash) return broken('the batch or its records do not match its hash');
      prev = hash;
      expectedSeq++;
      batches++;
      records += stored.length;
    }
    if (page.length < pageSize) break;
  }
  const head = await db.selectFrom('access_batch_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
  if (Number(head.seq) !== baseSeq + batches || head.hash !== prev) {
    return { intact: false, batches, records, brokenAt: { seq: baseSeq + batches + 1, nodeId: null, batchId: null, reason: 'batches after the last stored one were removed (head is ahead)' } };
  }
  return { intact: true, batches, records, head: prev };
}

export interface AccessPurge {
  cutoff: string;
  batches: number;
  records: number;
  /** The kept chain now starts after this batch. */
  baseSeq: number;
  baseHash: string;
}

/**
 * Deletes whole batches, oldest first, whose newest record is older than `cutoff`, and moves
 * the chain's base past them so the kept chain still verifies. Stops at the first batch that
 * must stay, so the kept chain has no holes. Run inside the caller's transaction (the purge is
 * audited with it).
 *
 * @example
 * const purge = await purgeAccessRecords(trx, store.dialect, new Date(now - 90 * 86_400_000).toISOString());
 */
export async function purgeAccessRecords(trx: Transaction<Database>, dialect: Dialect, cutoff: string, maxBatches = 10_000): Promise<AccessPurge> {
  let headQuery = trx.selectFrom('access_batch_head').selectAll().where('id', '=', 1);
  if (dialect === 'postgres') headQuery = headQuery.forUpdate();
  const head = await headQuery.executeTakeFirstOrThrow();
  const baseSeq = Number(head.base_seq ?? 0);
  const candidates = await trx.selectFrom('access_batches').select(['seq', 'last_at', 'hash', 'records']).where('seq', '>', baseSeq).orderBy('seq').limit(maxBatches).execute();
  let last: { seq: number; hash: string } | undefined;
  let records = 0;
  for (const batch of candidates) {
    if (batch.last_at >= cutoff) break;
    last = { seq: Number(batch.seq), hash: batch.hash };
    records += Number(batch.records);
  }
  if (last === undefined) return { cutoff, batches: 0, records: 0, baseSeq, baseHash: head.base_hash ?? ACCESS_GENESIS_HASH };
  await trx.deleteFrom('access_records').where('batch_seq', '>', baseSeq).where('batch_seq', '<=', last.seq).execute();
  await trx.deleteFrom('access_batches').where('seq', '>', baseSeq).where('seq', '<=', last.seq).execute();
  await trx.updateTable('access_batch_head').set({ base_seq: last.seq, base_hash: last.hash }).where('id', '=', 1).execute();
  return { cutoff, batches: last.seq - baseSeq, records, baseSeq: last.seq, baseHash: last.hash };
}
