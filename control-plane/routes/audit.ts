/**
 * @module The audit trail for security reviewers (auditors and admins only):
 * - `GET /audit/events?kind=admin|access`: admin events (filters: time range, actor, action,
 *   target) or the gateways' access records (filters: time range, consumer, subject, api,
 *   version, operation, status class, decision code, traceId, node), newest first, cursor paging;
 * - `GET /audit/export?kind=…&format=ndjson|csv`: the same filters, every match oldest first,
 *   streamed page by page with backpressure;
 * - `GET /audit/verify`: both hash chains recomputed, each intact or its first broken link;
 * - `POST /audit/purge`: access records older than the retention period removed now (admins;
 *   the control plane also purges on its own once an hour); each purge is an admin audit event.
 */
import { Router, type Request, type Response } from 'express';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import type { RouteModule } from '../app.js';
import { actingRole, principalOf, requireRole } from '../auth.js';
import { appendAudit, verifyAuditChain } from '../audit/chain.js';
import { accessRecordView, purgeAccessRecords, verifyAccessChain, type AccessPurge } from '../access/store.js';
import { decodeAccessCursor, encodeAccessCursor, pagesOfAccess, searchAccess, type AccessFilter } from '../access/search.js';
import { ControlPlaneError, requestIdOf, type Clock } from '../errors.js';
import { pageParams, sendResource, toPage } from '../http.js';
import type { OpenApiFragment } from '../openapi.js';
import type { Store } from '../store/db.js';
import type { AuditEventsTable, Database } from '../store/schema.js';
import type { Kysely, SelectQueryBuilder } from 'kysely';

export interface AuditEventView {
  seq: number;
  id: string;
  at: string;
  actor: string;
  role: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
  comment: string | null;
  requestId: string | null;
  prevHash: string;
  hash: string;
}

const parse = (text: string | null): unknown => (text === null ? null : (JSON.parse(text) as unknown));

export const auditEventView = (row: AuditEventsTable): AuditEventView => ({
  seq: Number(row.seq),
  id: row.id,
  at: row.at,
  actor: row.actor,
  role: row.role,
  action: row.action,
  target: row.target,
  before: parse(row.before),
  after: parse(row.after),
  comment: row.comment,
  requestId: row.request_id,
  prevHash: row.prev_hash,
  hash: row.hash,
});

/** Default retention of access records, days. */
export const DEFAULT_RETENTION_DAYS = 90;

const invalid = (name: string, detail: string): ControlPlaneError =>
  new ControlPlaneError('request.validation_failed', `${name} ${detail}.`, { extensions: { errors: [{ pointer: `/query/${name}`, detail }] } });

function isoParam(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw invalid(name, 'must be an ISO 8601 date-time');
  return new Date(value).toISOString();
}

function textParam(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 500) throw invalid(name, 'must be a non-empty string of at most 500 characters');
  return value;
}

function kindOf(req: Request): 'admin' | 'access' {
  const kind = req.query.kind;
  if (kind === undefined || kind === 'admin') return 'admin';
  if (kind === 'access') return 'access';
  throw invalid('kind', 'must be admin or access');
}

const ACCESS_FILTERS = ['from', 'to', 'consumer', 'subject', 'api', 'version', 'operation', 'statusClass', 'decision', 'traceId', 'node'] as const;
const ADMIN_FILTERS = ['from', 'to', 'actor', 'action', 'target'] as const;

/** Filters that belong to the other kind are refused rather than silently ignored. */
function refuseForeign(req: Request, allowed: readonly string[]): void {
  for (const name of Object.keys(req.query)) {
    if (!['kind', 'limit', 'cursor', 'format', ...allowed].includes(name)) throw invalid(name, `is not a filter of kind=${kindOf(req)} (filters: ${allowed.join(', ')})`);
  }
}

function accessFilterOf(req: Request): AccessFilter {
  refuseForeign(req, ACCESS_FILTERS);
  const filter: AccessFilter = {};
  for (const name of ['consumer', 'subject', 'api', 'version', 'operation', 'decision', 'traceId', 'node'] as const) {
    const value = textParam(req, name);
    if (value !== undefined) filter[name] = value;
  }
  const from = isoParam(req, 'from');
  const to = isoParam(req, 'to');
  if (from !== undefined) filter.from = from;
  if (to !== undefined) filter.to = to;
  const statusClass = req.query.statusClass;
  if (statusClass !== undefined) {
    const match = typeof statusClass === 'string' ? /^([1-5])(xx)?$/.exec(statusClass) : null;
    if (match === null) throw invalid('statusClass', 'must be 1xx, 2xx, 3xx, 4xx or 5xx');
    filter.statusClass = Number(match[1]);
  }
  return filter;
}

type AdminQuery = SelectQueryBuilder<Database, 'audit_events', AuditEventsTable>;

function adminQueryOf(db: Kysely<Database>, req: Request): AdminQuery {
  refuseForeign(req, ADMIN_FILTERS);
  let query = db.selectFrom('audit_events').selectAll() as AdminQuery;
  const from = isoParam(req, 'from');
  const to = isoParam(req, 'to');
  const actor = textParam(req, 'actor');
  const action = textParam(req, 'action');
  const target = textParam(req, 'target');
  if (from !== undefined) query = query.where('at', '>=', from);
  if (to !== undefined) query = query.where('at', '<', to);
  if (actor !== undefined) query = query.where('actor', '=', actor);
  if (action !== undefined) query = query.where('action', '=', action);
  // A target filter matches the resource and everything under it (`apis/erp-sales` finds its versions too).
  if (target !== undefined) query = query.where((eb) => eb.or([eb('target', '=', target), eb('target', 'like', `${target.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`)]));
  return query;
}

const ACCESS_COLUMNS = ['time', 'traceId', 'requestId', 'nodeId', 'api', 'version', 'operation', 'method', 'path', 'status', 'decision', 'latencyMs', 'upstreamLatencyMs', 'upstreamStatus', 'consumer', 'subject', 'clientAddress', 'snapshotHash', 'aborted'] as const;
const ADMIN_COLUMNS = ['seq', 'id', 'at', 'actor', 'role', 'action', 'target', 'before', 'after', 'comment', 'requestId', 'prevHash', 'hash'] as const;

/** A spreadsheet would run a cell starting with these as a formula (CSV injection): quoted with a leading `'`. */
const FORMULA = /^[=+\-@\t\r]/;
const cell = (value: unknown): string | number | boolean | null => {
  if (value === null || value === undefined) return null;
  if (typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'string' && FORMULA.test(value)) return `'${value}`;
  return value as string | number | boolean;
};

/** Writes `chunk`, waiting for the socket to drain when its buffer is full. */
async function write(res: Response, chunk: string): Promise<void> {
  if (!res.write(chunk)) await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

/**
 * Runs a retention purge in its own transaction and records it in the admin audit chain.
 *
 * @example
 * await runRetention(store, clock, 90, { actor: 'gatehouse-retention', role: 'system' });
 */
export async function runRetention(store: Store, clock: Clock, retentionDays: number, who: { actor: string; role: string; requestId?: string }): Promise<AccessPurge> {
  const cutoff = new Date(clock.now() - retentionDays * 86_400_000).toISOString();
  return store.db.transaction().execute(async (trx) => {
    const purge = await purgeAccessRecords(trx, store.dialect, cutoff);
    if (purge.batches > 0) {
      await appendAudit(trx, store.dialect, clock.now(), {
        actor: who.actor,
        role: who.role,
        action: 'audit.purge',
        target: 'audit/access-records',
        after: { ...purge, retentionDays },
        comment: `access records older than ${retentionDays} days removed`,
        requestId: who.requestId ?? null,
      });
    }
    return purge;
  });
}

/**
 * @param retentionDays how long access records are kept (default 90)
 * @example
 * createControlPlane({ store, logger, auth, routes: [createAuditRoutes(90)] });
 */
export function createAuditRoutes(retentionDays = DEFAULT_RETENTION_DAYS): RouteModule {
  return (deps) => {
    const { store, clock } = deps;
    const router = Router();

    router.get('/audit/events', requireRole('auditor'), async (req, res) => {
      const { limit, after } = pageParams(req);
      if (kindOf(req) === 'access') {
        const filter = accessFilterOf(req);
        const cursor = after === undefined ? undefined : decodeAccessCursor(after);
        if (after !== undefined && cursor === undefined) throw invalid('cursor', 'is not one this API issued');
        const page = await searchAccess(store.db, filter, limit, cursor);
        sendResource(res, 200, { items: page.rows.map(accessRecordView), ...(page.next === undefined ? {} : { nextCursor: encodeAccessCursor(page.next) }) });
        return;
      }
      let query = adminQueryOf(store.db, req).orderBy('seq', 'desc').limit(limit + 1);
      if (after !== undefined) {
        const seq = Number(after);
        if (!Number.isInteger(seq)) throw invalid('cursor', 'is not one this API issued');
        query = query.where('seq', '<', seq);
      }
      sendResource(res, 200, toPage(await query.execute(), limit, (row) => String(row.seq), auditEventView));
    });

    router.get('/audit/export', requireRole('auditor'), async (req, res) => {
      const kind = kindOf(req);
      const format = req.query.format ?? 'ndjson';
      if (format !== 'ndjson' && format !== 'csv') throw invalid('format', 'must be ndjson or csv');
      const pages: AsyncGenerator<readonly object[]> =
        kind === 'access'
          ? (async function* () {
              for await (const rows of pagesOfAccess(store.db, accessFilterOf(req))) yield rows.map(accessRecordView);
            })()
          : (async function* () {
              const base = adminQueryOf(store.db, req);
              let seq = 0;
              for (;;) {
                const rows = await base.where('seq', '>', seq).orderBy('seq').limit(1000).execute();
                if (rows.length === 0) return;
                yield rows.map(auditEventView);
                seq = Number(rows[rows.length - 1]!.seq);
              }
            })();
      // Validation runs in the first page: pull it before answering so a bad filter is a 400.
      const first = await pages.next();
      const stamp = new Date(clock.now()).toISOString().replace(/[:.]/g, '-');
      res.status(200).set({
        'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
        'content-disposition': `attachment; filename="gatehouse-${kind}-${stamp}.${format === 'csv' ? 'csv' : 'ndjson'}"`,
        'cache-control': 'no-store',
        'x-request-id': requestIdOf(res),
      });
      const columns = kind === 'access' ? ACCESS_COLUMNS : ADMIN_COLUMNS;
      let header = true;
      const emit = async (rows: readonly object[]): Promise<void> => {
        if (format === 'ndjson') {
          await write(res, rows.map((row) => `${JSON.stringify(row)}\n`).join(''));
          return;
        }
        // csv-stringify quotes per RFC 4180; the header goes with the first page (alone when nothing matched).
        const records = rows.map((row) => columns.map((column) => cell((row as Record<string, unknown>)[column])));
        await write(res, stringifyCsv(records, { header, columns: [...columns], cast: { boolean: (value) => String(value) } }));
        header = false;
      };
      if (first.done === true) await emit([]);
      else await emit(first.value);
      for await (const rows of pages) {
        if (res.destroyed) return;
        await emit(rows);
      }
      res.end();
    });

    router.get('/audit/verify', requireRole('auditor'), async (_req, res) => {
      const admin = await verifyAuditChain(store.db);
      const access = await verifyAccessChain(store.db);
      sendResource(res, 200, { ...admin, intact: admin.intact && access.intact, admin: { intact: admin.intact }, access });
    });

    router.post('/audit/purge', requireRole('admin'), async (_req, res) => {
      const principal = principalOf(res);
      const purge = await runRetention(store, clock, retentionDays, { actor: principal.subject, role: actingRole(principal), requestId: requestIdOf(res) });
      sendResource(res, 200, { ...purge, retentionDays });
    });

    return router;
  };
}

/** The routes with the control plane's retention (`retentionDays`, AUDIT_RETENTION_DAYS). */
export const auditRoutes: RouteModule = (deps) => createAuditRoutes(deps.retentionDays)(deps);

const problem = { $ref: '#/components/responses/Problem' };
const filterParams = [
  { name: 'kind', in: 'query', schema: { type: 'string', enum: ['admin', 'access'], default: 'admin' } },
  { name: 'from', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'Inclusive.' },
  { name: 'to', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'Exclusive.' },
  { name: 'actor', in: 'query', schema: { type: 'string' }, description: 'kind=admin.' },
  { name: 'action', in: 'query', schema: { type: 'string' }, description: 'kind=admin.' },
  { name: 'target', in: 'query', schema: { type: 'string' }, description: 'kind=admin: the resource and everything under it.' },
  ...['consumer', 'subject', 'api', 'version', 'operation', 'decision', 'traceId', 'node'].map((name) => ({ name, in: 'query', schema: { type: 'string' }, description: 'kind=access.' })),
  { name: 'statusClass', in: 'query', schema: { type: 'string', enum: ['1xx', '2xx', '3xx', '4xx', '5xx'] }, description: 'kind=access.' },
];

export const auditOpenApi: OpenApiFragment = {
  paths: {
    '/audit/events': {
      get: {
        summary: 'Admin audit events or gateway access records, newest first',
        description:
          'Roles: auditor, admin. `kind=admin` (default): every mutating admin call wrote one, in the same transaction as its change. `kind=access`: every request a gateway node handled, as it shipped them. ' +
          'A filter of the other kind is refused (400). Cursor paging.',
        parameters: [...filterParams, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } }, { name: 'cursor', in: 'query', schema: { type: 'string' } }],
        responses: { '200': { description: 'A page.' }, '400': problem, '401': problem, '403': problem },
      },
    },
    '/audit/export': {
      get: {
        summary: 'Export audit events or access records (NDJSON or CSV)',
        description: 'Roles: auditor, admin. The filters of /audit/events; every match, oldest first, streamed. CSV (RFC 4180) has a header row; cells a spreadsheet would run as formulas start with `\'`.',
        parameters: [...filterParams, { name: 'format', in: 'query', schema: { type: 'string', enum: ['ndjson', 'csv'], default: 'ndjson' } }],
        responses: { '200': { description: 'The export (`application/x-ndjson` or `text/csv`).' }, '400': problem, '401': problem, '403': problem },
      },
    },
    '/audit/verify': {
      get: {
        summary: 'Verify both hash chains',
        description:
          'Roles: auditor, admin. `intact` when both hold. Admin chain: `events`, `head`, or `brokenAt: { seq, id, reason }`; `access`: `{ intact, batches, records, head }` or `brokenAt: { seq, nodeId, batchId, reason }` (each batch\'s hash covers its records and the previous batch).',
        responses: { '200': { description: 'The verdicts.' }, '401': problem, '403': problem },
      },
    },
    '/audit/purge': {
      post: {
        summary: 'Remove access records older than the retention period now',
        description: 'Role: admin. Whole batches, oldest first; the access chain\'s base moves past them so it still verifies. Recorded as an `audit.purge` admin event. The control plane also runs it once an hour.',
        responses: { '200': { description: '`{ cutoff, batches, records, baseSeq, baseHash, retentionDays }`.' }, '401': problem, '403': problem },
      },
    },
  },
};
