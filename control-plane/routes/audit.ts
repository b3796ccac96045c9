/**
 * @module Admin audit for auditors: `GET /audit/events` (filters: time range, actor, action,
 * target; newest first; cursor paging) and `GET /audit/verify` (the hash chain recomputed
 * from the first event; intact, or the first broken link). Auditors and admins only. Access
 * records of the gateways join these with the audit issue.
 */
import { Router } from 'express';
import type { RouteModule } from '../app.js';
import { requireRole } from '../auth.js';
import { verifyAuditChain } from '../audit/chain.js';
import { ControlPlaneError } from '../errors.js';
import { pageParams, sendResource, toPage } from '../http.js';
import type { OpenApiFragment } from '../openapi.js';
import type { AuditEventsTable } from '../store/schema.js';

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

function isoParam(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
    throw new ControlPlaneError('request.validation_failed', `${name} must be an ISO 8601 date-time.`, { extensions: { errors: [{ pointer: `/query/${name}`, detail: 'must be an ISO 8601 date-time' }] } });
  }
  return new Date(value).toISOString();
}

function textParam(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 500) {
    throw new ControlPlaneError('request.validation_failed', `${name} must be a non-empty string.`, { extensions: { errors: [{ pointer: `/query/${name}`, detail: 'must be a non-empty string of at most 500 characters' }] } });
  }
  return value;
}

export const auditRoutes: RouteModule = (deps) => {
  const { store } = deps;
  const router = Router();

  router.get('/audit/events', requireRole('auditor'), async (req, res) => {
    const { limit, after } = pageParams(req);
    const from = isoParam(req.query.from, 'from');
    const to = isoParam(req.query.to, 'to');
    const actor = textParam(req.query.actor, 'actor');
    const action = textParam(req.query.action, 'action');
    const target = textParam(req.query.target, 'target');
    const kind = req.query.kind;
    if (kind !== undefined && kind !== 'admin') {
      throw new ControlPlaneError('request.validation_failed', 'kind=admin is the only kind so far (gateway access records arrive with the audit issue).', {
        extensions: { errors: [{ pointer: '/query/kind', detail: 'must be admin' }] },
      });
    }
    let query = store.db.selectFrom('audit_events').selectAll().orderBy('seq', 'desc').limit(limit + 1);
    if (after !== undefined) {
      const seq = Number(after);
      if (!Number.isInteger(seq)) throw new ControlPlaneError('request.validation_failed', 'cursor is not one this API issued.');
      query = query.where('seq', '<', seq);
    }
    if (from !== undefined) query = query.where('at', '>=', from);
    if (to !== undefined) query = query.where('at', '<', to);
    if (actor !== undefined) query = query.where('actor', '=', actor);
    if (action !== undefined) query = query.where('action', '=', action);
    // A target filter matches the resource and everything under it (`apis/erp-sales` finds its versions too).
    if (target !== undefined) query = query.where((eb) => eb.or([eb('target', '=', target), eb('target', 'like', `${target.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`)]));
    const rows = await query.execute();
    sendResource(res, 200, toPage(rows, limit, (row) => String(row.seq), auditEventView));
  });

  router.get('/audit/verify', requireRole('auditor'), async (_req, res) => {
    const verdict = await verifyAuditChain(store.db);
    sendResource(res, 200, verdict);
  });

  return router;
};

const problem = { $ref: '#/components/responses/Problem' };

export const auditOpenApi: OpenApiFragment = {
  paths: {
    '/audit/events': {
      get: {
        summary: 'Admin audit events, newest first',
        description: 'Roles: auditor, admin. Every mutating admin call wrote one, in the same transaction as its change.',
        parameters: [
          { name: 'kind', in: 'query', schema: { type: 'string', enum: ['admin'] } },
          { name: 'from', in: 'query', schema: { type: 'string', format: 'date-time' } },
          { name: 'to', in: 'query', schema: { type: 'string', format: 'date-time' } },
          { name: 'actor', in: 'query', schema: { type: 'string' } },
          { name: 'action', in: 'query', schema: { type: 'string' } },
          { name: 'target', in: 'query', schema: { type: 'string' }, description: 'The resource and everything under it.' },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'A page of events.' }, '400': problem, '401': problem, '403': problem },
      },
    },
    '/audit/verify': {
      get: {
        summary: 'Verify the audit hash chain',
        description: 'Roles: auditor, admin. `{ intact: true, events, head }` or `{ intact: false, events, brokenAt: { seq, id, reason } }`.',
        responses: { '200': { description: 'The verdict.' }, '401': problem, '403': problem },
      },
    },
  },
};
