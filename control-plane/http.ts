/**
 * @module What every admin route shares: body validation with ajv against the schemas in
 * `contracts/` (400 `request.validation_failed` listing `{ pointer, detail }`), ETags from a
 * row's revision with `If-Match` (412 on a stale write), opaque cursor paging, and
 * `mutate`: one transaction for a change and its audit event.
 */
import type { Request, Response } from 'express';
import type { Transaction } from 'kysely';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { actingRole, principalOf } from './auth.js';
import { appendAudit, type AuditInput } from './audit/chain.js';
import { ControlPlaneError, requestIdOf, type Clock } from './errors.js';
import type { Store } from './store/db.js';
import type { Database } from './store/schema.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** One ajv for the admin API's request bodies: all errors, no coercion, no defaults applied. */
export function createAdminAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  return ajv;
}

/**
 * A body validator: returns the typed body or throws 400 with every problem.
 *
 * @example
 * const readTeam = bodyValidator<TeamInput>(ajv, teamInputSchema);
 * const input = readTeam(req);
 */
export function bodyValidator<T>(ajv: Ajv, schema: object): (req: Request) => T {
  const validate: ValidateFunction = ajv.compile(schema);
  return (req) => {
    const body: unknown = req.body;
    if (body === undefined || body === null || typeof body !== 'object') {
      throw new ControlPlaneError('request.validation_failed', 'Send a JSON object body (Content-Type: application/json).', { extensions: { errors: [{ pointer: '/body', detail: 'must be a JSON object' }] } });
    }
    if (!validate(body)) {
      const errors = (validate.errors ?? []).slice(0, 20).map((e) => ({
        pointer: `/body${e.instancePath}${e.keyword === 'required' ? `/${String((e.params as { missingProperty?: string }).missingProperty)}` : e.keyword === 'additionalProperties' ? `/${String((e.params as { additionalProperty?: string }).additionalProperty)}` : ''}`,
        detail: e.keyword === 'additionalProperties' ? 'is not a known property' : (e.message ?? 'is invalid'),
      }));
      throw new ControlPlaneError('request.validation_failed', `The request body is invalid: ${errors.map((e) => `${e.pointer} ${e.detail}`).join('; ')}.`, { extensions: { errors } });
    }
    return body as T;
  };
}

/** Weak-free strong ETag of a resource revision. */
export function etagOf(kind: string, id: string, revision: number): string {
  return `"${kind}-${Buffer.from(id).toString('base64url')}-${revision}"`;
}

/**
 * Checks `If-Match` against the current revision: missing → 428, stale → 412. Updates and
 * transitions of versioned resources require it, so two reviewers never overwrite each other.
 */
export function checkIfMatch(req: Request, current: string): void {
  const header = req.headers['if-match'];
  if (header === undefined) throw new ControlPlaneError('request.precondition_required', 'Send If-Match with the ETag you read, so a concurrent change is not overwritten.');
  const tags = header.split(',').map((t) => t.trim());
  if (!tags.includes('*') && !tags.includes(current)) {
    throw new ControlPlaneError('request.precondition_failed', 'The resource changed since you read it; read it again and retry.', { extensions: { currentEtag: current } });
  }
}

export interface Page<T> {
  items: T[];
  /** Pass as `?cursor=` for the next page; absent on the last page. */
  nextCursor?: string;
}

/** `?limit=` (1–200, default 50) and `?cursor=` (opaque; decodes to the last key seen). */
export function pageParams(req: Request): { limit: number; after: string | undefined } {
  const rawLimit = req.query.limit;
  const limit = rawLimit === undefined ? 50 : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) {
    throw new ControlPlaneError('request.validation_failed', 'limit must be an integer from 1 to 200.', { extensions: { errors: [{ pointer: '/query/limit', detail: 'must be an integer from 1 to 200' }] } });
  }
  const cursor = req.query.cursor;
  if (cursor === undefined) return { limit, after: undefined };
  if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) {
    throw new ControlPlaneError('request.validation_failed', 'cursor is not one this API issued.', { extensions: { errors: [{ pointer: '/query/cursor', detail: 'is malformed' }] } });
  }
  return { limit, after: Buffer.from(cursor, 'base64url').toString('utf8') };
}

/** Builds a page from `limit + 1` rows fetched in key order. */
export function toPage<Row, T>(rows: Row[], limit: number, keyOf: (row: Row) => string, view: (row: Row) => T): Page<T> {
  const items = rows.slice(0, limit);
  const page: Page<T> = { items: items.map(view) };
  if (rows.length > limit && items.length > 0) page.nextCursor = Buffer.from(keyOf(items[items.length - 1]!)).toString('base64url');
  return page;
}

export interface MutationContext {
  trx: Transaction<Database>;
  /** Records the audit event of this change, in this transaction. */
  audit(event: Omit<AuditInput, 'actor' | 'role' | 'requestId'>): Promise<void>;
}

/**
 * Runs a change and its audit event in one transaction, as the calling principal. Calls
 * `onCommitted` (snapshot recompilation, notifications) only after the commit.
 *
 * @example
 * const team = await mutate(store, clock, res, async ({ trx, audit }) => {
 *   await trx.insertInto('teams').values(row).execute();
 *   await audit({ action: 'team.create', target: `teams/${row.id}`, after: row });
 *   return row;
 * });
 */
export async function mutate<T>(store: Store, clock: Clock, res: Response, change: (ctx: MutationContext) => Promise<T>, onCommitted?: () => void): Promise<T> {
  const principal = principalOf(res);
  const requestId = requestIdOf(res);
  const result = await store.db.transaction().execute(async (trx) =>
    change({
      trx,
      audit: async (event) => {
        await appendAudit(trx, store.dialect, clock.now(), { ...event, actor: principal.subject, role: actingRole(principal), requestId });
      },
    }),
  );
  onCommitted?.();
  return result;
}

/** Sends JSON with the ETag of a versioned resource. */
export function sendResource(res: Response, status: number, body: unknown, etag?: string): void {
  if (etag !== undefined) res.setHeader('etag', etag);
  res.setHeader('x-request-id', requestIdOf(res));
  res.status(status).json(body);
}
