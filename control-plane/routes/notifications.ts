/**
 * @module What consumers were told and how delivery went: `GET /notifications` (filters:
 * consumer, api, version, type, status, channel, impacted; newest first; cursor paging) and
 * `GET /notifications/{id}`, each with every delivery attempt (outcome, HTTP status, latency,
 * error). Reviewers, auditors and admins see all; an owner sees those of its teams' consumers.
 */
import { Router, type Request, type Response } from 'express';
import type { RouteModule } from '../app.js';
import { principalOf, requireRole } from '../auth.js';
import { ControlPlaneError } from '../errors.js';
import { pageParams, sendResource } from '../http.js';
import type { OpenApiFragment } from '../openapi.js';
import { NOTIFICATION_STATUSES, NOTIFICATION_TYPES } from '../notify/outbox.js';
import type { Store } from '../store/db.js';
import type { NotificationAttemptsTable, NotificationsTable } from '../store/schema.js';

export interface NotificationAttemptView {
  attempt: number;
  at: string;
  outcome: 'delivered' | 'failed';
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}

export interface NotificationView {
  id: string;
  eventId: string;
  type: string;
  api: string | null;
  version: string | null;
  consumer: string;
  channel: 'webhook' | 'email';
  target: string;
  impacted: boolean;
  status: 'pending' | 'delivered' | 'failed';
  attempts: NotificationAttemptView[];
  nextAttemptAt: string | null;
  createdAt: string;
  deliveredAt: string | null;
  lastError: string | null;
  /** The event as delivered. */
  payload: unknown;
}

const attemptView = (row: NotificationAttemptsTable): NotificationAttemptView => ({
  attempt: Number(row.attempt),
  at: row.at,
  outcome: row.outcome,
  statusCode: row.status_code === null ? null : Number(row.status_code),
  latencyMs: Number(row.latency_ms),
  error: row.error,
});

const notificationView = (row: NotificationsTable, attempts: NotificationAttemptsTable[]): NotificationView => ({
  id: row.id,
  eventId: row.event_id,
  type: row.type,
  api: row.api,
  version: row.version,
  consumer: row.consumer_id,
  channel: row.channel,
  target: row.target,
  impacted: Number(row.impacted) === 1,
  status: row.status,
  attempts: attempts.map(attemptView),
  nextAttemptAt: row.status === 'pending' ? row.next_attempt_at : null,
  createdAt: row.created_at,
  deliveredAt: row.delivered_at,
  lastError: row.last_error,
  payload: JSON.parse(row.payload) as unknown,
});

async function withAttempts(store: Store, rows: NotificationsTable[]): Promise<NotificationView[]> {
  if (rows.length === 0) return [];
  const attempts = await store.db.selectFrom('notification_attempts').selectAll().where('notification_id', 'in', rows.map((row) => row.id)).orderBy('notification_id').orderBy('attempt').execute();
  const byId = new Map<string, NotificationAttemptsTable[]>();
  for (const attempt of attempts) byId.set(attempt.notification_id, [...(byId.get(attempt.notification_id) ?? []), attempt]);
  return rows.map((row) => notificationView(row, byId.get(row.id) ?? []));
}

function filter(req: Request, name: string, allowed?: readonly string[]): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 200 || (allowed !== undefined && !allowed.includes(value))) {
    const detail = allowed === undefined ? 'must be a non-empty string of at most 200 characters' : `must be one of ${allowed.join(', ')}`;
    throw new ControlPlaneError('request.validation_failed', `${name} ${detail}.`, { extensions: { errors: [{ pointer: `/query/${name}`, detail }] } });
  }
  return value;
}

/** The consumers an owner may see notifications of; undefined: all. */
async function visibleConsumers(store: Store, res: Response): Promise<string[] | undefined> {
  const principal = principalOf(res);
  if (principal.roles.has('reviewer') || principal.roles.has('auditor') || principal.roles.has('admin')) return undefined;
  if (principal.teams.size === 0) return [];
  return (await store.db.selectFrom('consumers').select('id').where('team_id', 'in', [...principal.teams]).execute()).map((row) => row.id);
}

/**
 * @example
 * createControlPlane({ store, logger, auth, routes: [...ADMIN_ROUTES] }); // notificationsRoutes is one of them
 * // GET /api/v1/notifications?consumer=store-app&status=failed
 */
export const notificationsRoutes: RouteModule = (deps) => {
  const { store } = deps;
  const router = Router();
  const readers = requireRole('owner', 'reviewer', 'auditor');

  router.get('/notifications', readers, async (req, res) => {
    const { limit, after } = pageParams(req);
    const consumer = filter(req, 'consumer');
    const api = filter(req, 'api');
    const version = filter(req, 'version');
    const type = filter(req, 'type', NOTIFICATION_TYPES);
    const status = filter(req, 'status', NOTIFICATION_STATUSES);
    const channel = filter(req, 'channel', ['webhook', 'email']);
    const impacted = filter(req, 'impacted', ['true', 'false']);
    let query = store.db.selectFrom('notifications').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1);
    if (after !== undefined) {
      const [at, id] = after.split('|');
      if (at === undefined || id === undefined) throw new ControlPlaneError('request.validation_failed', 'cursor is not one this API issued.');
      query = query.where((eb) => eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb('id', '<', id)])]));
    }
    const visible = await visibleConsumers(store, res);
    if (visible !== undefined) query = query.where('consumer_id', 'in', visible.length === 0 ? [''] : visible);
    if (consumer !== undefined) query = query.where('consumer_id', '=', consumer);
    if (api !== undefined) query = query.where('api', '=', api);
    if (version !== undefined) query = query.where('version', '=', version);
    if (type !== undefined) query = query.where('type', '=', type);
    if (status !== undefined) query = query.where('status', '=', status as NotificationsTable['status']);
    if (channel !== undefined) query = query.where('channel', '=', channel as NotificationsTable['channel']);
    if (impacted !== undefined) query = query.where('impacted', '=', impacted === 'true' ? 1 : 0);
    const rows = await query.execute();
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    sendResource(res, 200, {
      items: await withAttempts(store, items),
      ...(rows.length > limit && last !== undefined ? { nextCursor: Buffer.from(`${last.created_at}|${last.id}`).toString('base64url') } : {}),
    });
  });

  router.get('/notifications/:id', readers, async (req, res) => {
    const row = await store.db.selectFrom('notifications').selectAll().where('id', '=', req.params.id as string).executeTakeFirst();
    const visible = row === undefined ? undefined : await visibleConsumers(store, res);
    if (row === undefined || (visible !== undefined && !visible.includes(row.consumer_id))) throw new ControlPlaneError('resource.not_found', `No notification "${req.params.id as string}".`);
    sendResource(res, 200, (await withAttempts(store, [row]))[0]);
  });

  return router;
};

const problem = { $ref: '#/components/responses/Problem' };

export const notificationsOpenApi: OpenApiFragment = {
  paths: {
    '/notifications': {
      get: {
        summary: 'Consumer notifications and their delivery attempts, newest first',
        description:
          'Roles: reviewer, auditor, admin (all); owner (those of its teams\' consumers). One item per event, consumer and channel: `status` pending (with `nextAttemptAt`), delivered or failed (retries given up), ' +
          '`attempts` each with `outcome`, `statusCode`, `latencyMs` and `error`, `impacted` when the consumer\'s traffic uses what the event is about, and the `payload` as delivered. Cursor paging.',
        parameters: [
          { name: 'consumer', in: 'query', schema: { type: 'string' } },
          { name: 'api', in: 'query', schema: { type: 'string' } },
          { name: 'version', in: 'query', schema: { type: 'string' } },
          { name: 'type', in: 'query', schema: { type: 'string', enum: [...NOTIFICATION_TYPES] } },
          { name: 'status', in: 'query', schema: { type: 'string', enum: [...NOTIFICATION_STATUSES] } },
          { name: 'channel', in: 'query', schema: { type: 'string', enum: ['webhook', 'email'] } },
          { name: 'impacted', in: 'query', schema: { type: 'boolean' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'A page of notifications.' }, '400': problem, '401': problem, '403': problem },
      },
    },
    '/notifications/{id}': {
      get: {
        summary: 'One notification with its attempts',
        description: 'Roles as for the list.',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'The notification.' }, '401': problem, '403': problem, '404': problem },
      },
    },
  },
};
