/**
 * @module Subscriptions: a consumer asks to call one major of an API under a plan. The request
 * is `pending` until an owner of the API's owning team (or an admin) approves it (`active`,
 * what the snapshot carries) or rejects it with a reason (`rejected`). Either side's owners
 * may revoke it (`revoked`): the API's team, the consumer's team, or an admin. At most one
 * pending or active subscription per consumer + API + major.
 *
 *     pending ──approve──▶ active ──revoke──▶ revoked
 *        │                                  ▲
 *        ├──reject──▶ rejected              │
 *        └──────────────revoke (withdraw)───┘
 */
import { Router, type Request, type Response } from 'express';
import { decisionInputSchema, rejectionInputSchema, subscriptionInputSchema, type DecisionInput, type SubscriptionInput } from '../../contracts/index.js';
import { queueSubscriptionEvent } from '../notify/events.js';
import type { RouteModule } from '../app.js';
import { principalOf, requireRole } from '../auth.js';
import { ControlPlaneError } from '../errors.js';
import { bodyValidator, checkIfMatch, etagOf, mutate, pageParams, sendResource, toPage } from '../http.js';
import type { OpenApiFragment } from '../openapi.js';
import type { SubscriptionsTable } from '../store/schema.js';
import { fieldProblem, isUniqueViolation, newId, requireTeamOwner } from './consumers.js';

export type SubscriptionStatus = 'pending' | 'active' | 'rejected' | 'revoked';
export const SUBSCRIPTION_STATUSES: readonly SubscriptionStatus[] = ['pending', 'active', 'rejected', 'revoked'];

export type SubscriptionAction = 'approve' | 'reject' | 'revoke';

/** Where each action may start from, and where it leads. */
export const SUBSCRIPTION_TRANSITIONS: Readonly<Record<SubscriptionAction, { from: readonly SubscriptionStatus[]; to: SubscriptionStatus }>> = {
  approve: { from: ['pending'], to: 'active' },
  reject: { from: ['pending'], to: 'rejected' },
  revoke: { from: ['pending', 'active'], to: 'revoked' },
};

export interface SubscriptionView {
  id: string;
  consumer: string;
  api: string;
  major: number;
  plan: string;
  status: SubscriptionStatus;
  requestedBy: string;
  requestedAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  /** The approver's or rejecter's comment. */
  comment: string | null;
  revokedBy: string | null;
  revokedAt: string | null;
  revokeComment: string | null;
  updatedAt: string;
}

export const subscriptionView = (row: SubscriptionsTable): SubscriptionView => ({
  id: row.id,
  consumer: row.consumer_id,
  api: row.api_slug,
  major: row.major,
  plan: row.plan_id,
  status: row.status as SubscriptionStatus,
  requestedBy: row.requested_by,
  requestedAt: row.created_at,
  decidedBy: row.decided_by,
  decidedAt: row.decided_at,
  comment: row.comment,
  revokedBy: row.revoked_by,
  revokedAt: row.revoked_at,
  revokeComment: row.revoke_comment,
  updatedAt: row.updated_at,
});

export const subscriptionEtag = (row: SubscriptionsTable): string => etagOf('subscription', row.id, row.revision);

function queryString(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw fieldProblem(`/query/${name}`, 'must be given once, not empty');
  return value;
}

export const subscriptionsRoutes: RouteModule = (deps) => {
  const { store, clock } = deps;
  const readRequest = bodyValidator<SubscriptionInput>(deps.ajv, subscriptionInputSchema);
  const readDecision = bodyValidator<DecisionInput>(deps.ajv, decisionInputSchema);
  const readRejection = bodyValidator<Required<DecisionInput>>(deps.ajv, rejectionInputSchema);
  const router = Router();

  router.get('/subscriptions', requireRole('owner', 'reviewer', 'auditor'), async (req, res) => {
    const { limit, after } = pageParams(req);
    const consumer = queryString(req, 'consumer');
    const api = queryString(req, 'api');
    const status = queryString(req, 'status');
    const major = queryString(req, 'major');
    if (status !== undefined && !(SUBSCRIPTION_STATUSES as readonly string[]).includes(status)) throw fieldProblem('/query/status', `must be one of ${SUBSCRIPTION_STATUSES.join(', ')}`);
    if (major !== undefined && !/^(0|[1-9][0-9]{0,4})$/.test(major)) throw fieldProblem('/query/major', 'must be a non-negative integer');
    let query = store.db.selectFrom('subscriptions').selectAll().orderBy('id').limit(limit + 1);
    if (after !== undefined) query = query.where('id', '>', after);
    if (consumer !== undefined) query = query.where('consumer_id', '=', consumer);
    if (api !== undefined) query = query.where('api_slug', '=', api);
    if (status !== undefined) query = query.where('status', '=', status);
    if (major !== undefined) query = query.where('major', '=', Number(major));
    sendResource(res, 200, toPage(await query.execute(), limit, (row) => row.id, subscriptionView));
  });

  router.get('/subscriptions/:id', requireRole('owner', 'reviewer', 'auditor'), async (req, res) => {
    const row = await store.db.selectFrom('subscriptions').selectAll().where('id', '=', req.params.id as string).executeTakeFirst();
    if (row === undefined) throw new ControlPlaneError('resource.not_found', `No subscription "${req.params.id}".`);
    sendResource(res, 200, subscriptionView(row), subscriptionEtag(row));
  });

  router.post('/subscriptions', requireRole('owner'), async (req, res) => {
    const input = readRequest(req);
    const nowMs = clock.now();
    const now = new Date(nowMs).toISOString();
    let row: SubscriptionsTable;
    try {
      row = await mutate(store, clock, res, async ({ trx, audit }) => {
        const consumer = await trx.selectFrom('consumers').select(['id', 'team_id']).where('id', '=', input.consumer).executeTakeFirst();
        if (consumer === undefined) throw fieldProblem('/body/consumer', `is not a known consumer ("${input.consumer}")`);
        requireTeamOwner(res, [consumer.team_id], `subscribe consumer "${consumer.id}"`);
        const api = await trx.selectFrom('apis').select('slug').where('slug', '=', input.api).executeTakeFirst();
        if (api === undefined) throw fieldProblem('/body/api', `is not a known API ("${input.api}")`);
        const published = await trx.selectFrom('api_versions').select('id').where('api_slug', '=', input.api).where('major', '=', input.major).where('status', '=', 'published').executeTakeFirst();
        if (published === undefined) {
          // A deprecated major takes no new consumers: they are pointed at its successor.
          const deprecated = await trx.selectFrom('api_versions').select(['version', 'sunset', 'successor']).where('api_slug', '=', input.api).where('major', '=', input.major).where('status', 'in', ['deprecated', 'retired']).orderBy('updated_at', 'desc').executeTakeFirst();
          if (deprecated !== undefined) {
            throw new ControlPlaneError('version.deprecated', `${input.api} v${input.major} is deprecated${deprecated.sunset === null ? '' : ` (sunset ${deprecated.sunset})`} and takes no new subscriptions${deprecated.successor == null ? '' : `; subscribe to its successor ${deprecated.successor}`}.`, {
              extensions: { api: input.api, major: input.major, version: deprecated.version, sunset: deprecated.sunset, successor: deprecated.successor ?? null },
            });
          }
          throw fieldProblem('/body/major', `API "${input.api}" has no published version ${input.major}.x`);
        }
        const plan = await trx.selectFrom('plans').select('id').where('id', '=', input.plan).executeTakeFirst();
        if (plan === undefined) throw fieldProblem('/body/plan', `is not a known plan ("${input.plan}")`);
        const open = await trx
          .selectFrom('subscriptions')
          .select(['id', 'status'])
          .where('consumer_id', '=', input.consumer)
          .where('api_slug', '=', input.api)
          .where('major', '=', input.major)
          .where('status', 'in', ['pending', 'active'])
          .executeTakeFirst();
        if (open !== undefined) {
          throw new ControlPlaneError('resource.conflict', `Consumer "${input.consumer}" has a ${open.status} subscription to ${input.api} v${input.major} already (${open.id}).`, { extensions: { subscription: open.id } });
        }
        const fresh: SubscriptionsTable = {
          id: newId('sub', nowMs),
          consumer_id: input.consumer,
          api_slug: input.api,
          major: input.major,
          plan_id: input.plan,
          status: 'pending',
          requested_by: principalOf(res).subject,
          decided_by: null,
          decided_at: null,
          comment: null,
          created_at: now,
          updated_at: now,
          revision: 1,
          revoked_by: null,
          revoked_at: null,
          revoke_comment: null,
        };
        await trx.insertInto('subscriptions').values(fresh).execute();
        await audit({ action: 'subscription.request', target: `subscriptions/${fresh.id}`, after: subscriptionView(fresh) });
        return fresh;
      });
    } catch (error) {
      // Two concurrent requests: the partial unique index lets one through.
      if (isUniqueViolation(error)) throw new ControlPlaneError('resource.conflict', `Consumer "${input.consumer}" has an open subscription to ${input.api} v${input.major} already.`, { cause: error });
      throw error;
    }
    res.setHeader('location', `/api/v1/subscriptions/${row.id}`);
    sendResource(res, 201, subscriptionView(row), subscriptionEtag(row));
  });

  /** approve / reject / revoke: who may, from where, If-Match, one audit event. */
  function transition(action: SubscriptionAction) {
    const { from, to } = SUBSCRIPTION_TRANSITIONS[action];
    return async (req: Request, res: Response): Promise<void> => {
      const id = req.params.id as string;
      if (action === 'reject' && req.body === undefined) throw fieldProblem('/body/comment', 'must be given: a rejection says why');
      const input: DecisionInput = action === 'reject' ? readRejection(req) : req.body === undefined ? {} : readDecision(req);
      let wasActive = false;
      let queued = 0;
      const updated = await mutate(
        store,
        clock,
        res,
        async ({ trx, audit }) => {
          const row = await trx.selectFrom('subscriptions').selectAll().where('id', '=', id).executeTakeFirst();
          if (row === undefined) throw new ControlPlaneError('resource.not_found', `No subscription "${id}".`);
          const api = await trx.selectFrom('apis').select('team_id').where('slug', '=', row.api_slug).executeTakeFirstOrThrow();
          if (action === 'revoke') {
            const consumer = await trx.selectFrom('consumers').select('team_id').where('id', '=', row.consumer_id).executeTakeFirstOrThrow();
            requireTeamOwner(res, [...new Set([api.team_id, consumer.team_id])], `revoke subscription ${id}`);
            // Revoking is urgent and only ever narrows access: If-Match is checked when sent.
            if (req.headers['if-match'] !== undefined) checkIfMatch(req, subscriptionEtag(row));
          } else {
            requireTeamOwner(res, [api.team_id], `${action} subscriptions to API "${row.api_slug}" (its owning team decides)`);
            checkIfMatch(req, subscriptionEtag(row));
          }
          if (!(from as readonly string[]).includes(row.status)) {
            throw new ControlPlaneError('lifecycle.invalid_transition', `Subscription ${id} is ${row.status}; ${action} needs it ${from.join(' or ')}.`, { extensions: { status: row.status, allowedFrom: [...from] } });
          }
          wasActive = row.status === 'active';
          const principal = principalOf(res);
          const at = new Date(clock.now()).toISOString();
          const next: SubscriptionsTable = {
            ...row,
            status: to,
            ...(action === 'revoke'
              ? { revoked_by: principal.subject, revoked_at: at, revoke_comment: input.comment ?? null }
              : { decided_by: principal.subject, decided_at: at, comment: input.comment ?? null }),
            updated_at: at,
            revision: row.revision + 1,
          };
          const result = await trx
            .updateTable('subscriptions')
            .set({
              status: next.status,
              decided_by: next.decided_by,
              decided_at: next.decided_at,
              comment: next.comment,
              revoked_by: next.revoked_by,
              revoked_at: next.revoked_at,
              revoke_comment: next.revoke_comment,
              updated_at: next.updated_at,
              revision: next.revision,
            })
            .where('id', '=', id)
            .where('revision', '=', row.revision)
            .executeTakeFirst();
          if (result.numUpdatedRows !== 1n) throw new ControlPlaneError('request.precondition_failed', 'The subscription changed while this ran; read it again and retry.');
          await audit({ action: `subscription.${action}`, target: `subscriptions/${id}`, before: subscriptionView(row), after: subscriptionView(next), comment: input.comment ?? null });
          queued = await queueSubscriptionEvent(trx, clock.now(), deps.notifications.channels, action, next);
          return next;
        },
        () => {
          if (queued > 0) deps.notifications.queued();
          // Only active subscriptions reach the snapshot.
          if (action === 'approve' || (action === 'revoke' && wasActive)) deps.enforcementChanged(`subscription ${id} ${to}`);
        },
      );
      sendResource(res, 200, subscriptionView(updated), subscriptionEtag(updated));
    };
  }

  router.post('/subscriptions/:id/approve', requireRole('owner'), transition('approve'));
  router.post('/subscriptions/:id/reject', requireRole('owner'), transition('reject'));
  router.post('/subscriptions/:id/revoke', requireRole('owner'), transition('revoke'));

  return router;
};

const problem = { $ref: '#/components/responses/Problem' };
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const ifMatch = (required: boolean) => ({
  name: 'If-Match',
  in: 'header',
  required,
  description: required ? 'The ETag read last (428 without it, 412 when stale).' : 'Optional: when sent, 412 if stale.',
  schema: { type: 'string' },
});
const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });

const transitionPath = (action: SubscriptionAction, summary: string, description: string, body: string, bodyRequired: boolean) => ({
  post: {
    summary,
    description: `${description} From ${SUBSCRIPTION_TRANSITIONS[action].from.join(' or ')} to ${SUBSCRIPTION_TRANSITIONS[action].to}; otherwise 409 lifecycle.invalid_transition.`,
    parameters: [idParameter, ifMatch(action !== 'revoke')],
    requestBody: { required: bodyRequired, content: json(body) },
    responses: { '200': { description: 'The subscription now (new ETag).', content: json('Subscription') }, '400': problem, '403': problem, '404': problem, '409': problem, '412': problem, ...(action === 'revoke' ? {} : { '428': problem }) },
  },
});

export const subscriptionsOpenApi: OpenApiFragment = {
  paths: {
    '/subscriptions': {
      get: {
        summary: 'List subscriptions',
        description: 'Roles: owner, reviewer, auditor, admin. Filters `consumer`, `api`, `major`, `status`; cursor paging in request order.',
        parameters: [
          { name: 'consumer', in: 'query', schema: { type: 'string' } },
          { name: 'api', in: 'query', schema: { type: 'string' } },
          { name: 'major', in: 'query', schema: { type: 'integer', minimum: 0 } },
          { name: 'status', in: 'query', schema: { type: 'string', enum: [...SUBSCRIPTION_STATUSES] } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'A page of subscriptions.', content: { 'application/json': { schema: { type: 'object', properties: { items: { type: 'array', items: { $ref: '#/components/schemas/Subscription' } }, nextCursor: { type: 'string' } }, required: ['items'] } } } }, '400': problem, '401': problem, '403': problem },
      },
      post: {
        summary: 'Request a subscription',
        description: 'Role: owner of the consumer\'s team, or admin. Starts `pending`; the API\'s owning team decides. The major needs a published version; a deprecated (or retired) major answers 409 `version.deprecated` naming its sunset and successor. One pending or active subscription per consumer + API + major (409).',
        requestBody: { required: true, content: json('SubscriptionInput') },
        responses: { '201': { description: 'Requested (ETag, Location).', content: json('Subscription') }, '400': problem, '401': problem, '403': problem, '409': problem },
      },
    },
    '/subscriptions/{id}': {
      get: { summary: 'One subscription', description: 'Roles: owner, reviewer, auditor, admin. Answers with its ETag.', parameters: [idParameter], responses: { '200': { description: 'The subscription.', content: json('Subscription') }, '404': problem } },
    },
    '/subscriptions/{id}/approve': transitionPath('approve', 'Approve a subscription', 'Role: owner of the API\'s owning team, or admin (anyone else: 403 access.role_missing naming the team). Gateways admit the consumer from the next snapshot on.', 'DecisionInput', false),
    '/subscriptions/{id}/reject': transitionPath('reject', 'Reject a subscription', 'Role: owner of the API\'s owning team, or admin. A comment is required.', 'RejectionInput', true),
    '/subscriptions/{id}/revoke': transitionPath('revoke', 'Revoke a subscription', 'Role: owner of the API\'s owning team or of the consumer\'s team, or admin. Ends an active subscription or withdraws a pending request.', 'DecisionInput', false),
  },
  schemas: {
    SubscriptionInput: subscriptionInputSchema,
    DecisionInput: decisionInputSchema,
    RejectionInput: rejectionInputSchema,
    Subscription: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        consumer: { type: 'string' },
        api: { type: 'string' },
        major: { type: 'integer' },
        plan: { type: 'string' },
        status: { type: 'string', enum: [...SUBSCRIPTION_STATUSES] },
        requestedBy: { type: 'string' },
        requestedAt: { type: 'string', format: 'date-time' },
        decidedBy: { type: ['string', 'null'] },
        decidedAt: { type: ['string', 'null'], format: 'date-time' },
        comment: { type: ['string', 'null'] },
        revokedBy: { type: ['string', 'null'] },
        revokedAt: { type: ['string', 'null'], format: 'date-time' },
        revokeComment: { type: ['string', 'null'] },
        updatedAt: { type: 'string', format: 'date-time' },
      },
      required: ['id', 'consumer', 'api', 'major', 'plan', 'status', 'requestedBy', 'requestedAt', 'updatedAt'],
    },
  },
};
