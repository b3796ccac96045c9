/**
 * @module The admin audit chain: every mutating admin call appends one event in the same
 * transaction as its change. Each event's hash is the SHA-256 of the canonical JSON (RFC 8785)
 * of its content plus the previous event's hash, so changing, removing or reordering a stored
 * event breaks every link after it; `verifyAuditChain` names the first broken one. Appends
 * are serialised by a lock on the single `audit_head` row (PostgreSQL `FOR UPDATE`; SQLite
 * serialises write transactions itself).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { canonicalJson } from '../../contracts/index.js';
import type { Dialect } from '../store/db.js';
import type { AuditEventsTable, Database } from '../store/schema.js';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditInput {
  actor: string;
  role: string;
  /** e.g. `api.create`, `version.approve`, `subscription.revoke`. */
  action: string;
  /** e.g. `apis/erp-sales/versions/1.2.0`. */
  target: string;
  before?: unknown;
  after?: unknown;
  comment?: string | null;
  requestId?: string | null;
}

/** What the hash covers: every column but the hash itself. */
function hashOf(event: Omit<AuditEventsTable, 'hash'>): string {
  return createHash('sha256').update(canonicalJson(event)).digest('hex');
}

/**
 * Appends one event inside `trx` (the caller's transaction, so the event and the change
 * commit or roll back together). Never put secrets in `before` / `after`.
 *
 * @example
 * await db.transaction().execute(async (trx) => {
 *   await trx.insertInto('teams').values(team).execute();
 *   await appendAudit(trx, dialect, clock.now(), { actor, role, action: 'team.create', target: `teams/${team.id}`, after: team });
 * });
 */
export async function appendAudit(trx: Transaction<Database>, dialect: Dialect, nowMs: number, input: AuditInput): Promise<AuditEventsTable> {
  let headQuery = trx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1);
  if (dialect === 'postgres') headQuery = headQuery.forUpdate();
  const head = await headQuery.executeTakeFirstOrThrow();
  const content: Omit<AuditEventsTable, 'hash'> = {
    seq: head.seq + 1,
    id: randomUUID(),
    at: new Date(nowMs).toISOString(),
    actor: input.actor,
    role: input.role,
    action: input.action,
    target: input.target,
    before: input.before === undefined ? null : JSON.stringify(input.before),
    after: input.after === undefined ? null : JSON.stringify(input.after),
    comment: input.comment ?? null,
    request_id: input.requestId ?? null,
    prev_hash: head.hash,
  };
  const event: AuditEventsTable = { ...content, hash: hashOf(content) };
  await trx.insertInto('audit_events').values(event).execute();
  await trx.updateTable('audit_head').set({ seq: event.seq, hash: event.hash }).where('id', '=', 1).execute();
  return event;
}

export type ChainVerdict =
  | { intact: true; events: number; head: string }
  | { intact: false; events: number; brokenAt: { seq: number; id: string | null; reason: string } };

/**
 * Recomputes the chain from the first event, in pages, and compares it with the head row.
 *
 * @example
 * const verdict = await verifyAuditChain(store.db);
 * if (!verdict.intact) console.log(verdict.brokenAt);
 */
export async function verifyAuditChain(db: Kysely<Database>, pageSize = 1000): Promise<ChainVerdict> {
  let expectedSeq = 1;
  let prev = GENESIS_HASH;
  let count = 0;
  for (;;) {
    const page = await db.selectFrom('audit_events').selectAll().where('seq', '>=', expectedSeq).orderBy('seq').limit(pageSize).execute();
    for (const row of page) {
      const { hash, ...content } = row;
      if (row.seq !== expectedSeq) return { intact: false, events: count, brokenAt: { seq: expectedSeq, id: null, reason: `event ${expectedSeq} is missing` } };
      if (row.prev_hash !== prev) return { intact: false, events: count, brokenAt: { seq: row.seq, id: row.id, reason: 'prev_hash does not match the previous event' } };
      if (hashOf({ ...content, seq: Number(content.seq) }) !== hash) return { intact: false, events: count, brokenAt: { seq: row.seq, id: row.id, reason: 'content does not match its hash' } };
      prev = hash;
      expectedSeq++;
      count++;
    }
    if (page.length < pageSize) break;
  }
  const head = await db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
  if (Number(head.seq) !== count || head.hash !== prev) {
    return { intact: false, events: count, brokenAt: { seq: count + 1, id: null, reason: 'events after the last stored one were removed (head is ahead)' } };
  }
  return { intact: true, events: count, head: prev };
}
