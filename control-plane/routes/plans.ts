/**
 * @module Plans: what a subscription grants (scopes) and allows (rates, quotas, and what to do
 * when the shared counter store fails). Admins manage them; anyone authenticated reads. The
 * body schema (contracts/admin-api.ts) is the snapshot's own plan schema, narrowed a little, so
 * a plan the admin API accepts is one every gateway can enforce.
 */
import { Router } from 'express';
import { planInputSchema, planPatchSchema, type PlanInput, type PlanLimits, type PlanPatch } from '../../contracts/index.js';
import type { RouteModule } from '../app.js';
import { requireRole } from '../auth.js';
import { ControlPlaneError } from '../errors.js';
import { bodyValidator, checkIfMatch, etagOf, mutate, pageParams, sendResource, toPage } from '../http.js';
import type { OpenApiFragment } from '../openapi.js';
import type { PlansTable } from '../store/schema.js';


export interface PlanView {
  id: string;
  name: string;
  scopes: string[];
  limits: PlanLimits | null;
  createdAt: string;
  updatedAt: string;
}

export const planView = (row: PlansTable): PlanView => ({
  id: row.id,
  name: row.name,
  scopes: JSON.parse(row.scopes) as string[],
  limits: row.limits === null ? null : (JSON.parse(row.limits) as PlanLimits),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const planEtag = (row: PlansTable): string => etagOf('plan', row.id, row.revision);

export const plansRoutes: RouteModule = (deps) => {
  const { store, clock } = deps;
  const readPlan = bodyValidator<PlanInput>(deps.ajv, planInputSchema);
  const readPatch = bodyValidator<PlanPatch>(deps.ajv, planPatchSchema);
  const router = Router();

  router.get('/plans', requireRole('owner', 'reviewer', 'auditor'), async (req, res) => {
    const { limit, after } = pageParams(req);
    let query = store.db.selectFrom('plans').selectAll().orderBy('id').limit(limit + 1);
    if (after !== undefined) query = query.where('id', '>', after);
    sendResource(res, 200, toPage(await query.execute(), limit, (row) => row.id, planView));
  });

  router.get('/plans/:id', requireRole('owner', 'reviewer', 'auditor'), async (req, res) => {
    const row = await store.db.selectFrom('plans').selectAll().where('id', '=', req.params.id as string).executeTakeFirst();
    if (row === undefined) throw new ControlPlaneError('resource.not_found', `No plan "${req.params.id}".`);
    sendResource(res, 200, planView(row), planEtag(row));
  });

  router.post('/plans', requireRole('admin'), async (req, res) => {
    const input = readPlan(req);
    const now = new Date(clock.now()).toISOString();
    const row: PlansTable = {
      id: input.id,
      name: input.name,
      scopes: JSON.stringify(input.scopes),
      limits: input.limits === undefined || input.limits === null ? null : JSON.stringify(input.limits),
      created_at: now,
      updated_at: now,
      revision: 1,
    };
    await mutate(
      store,
      clock,
      res,
      async ({ trx, audit }) => {
        const existing = await trx.selectFrom('plans').select('id').where('id', '=', row.id).executeTakeFirst();
        if (existing !== undefined) throw new ControlPlaneError('resource.conflict', `Plan "${row.id}" exists already.`);
        await trx.insertInto('plans').values(row).execute();
        await audit({ action: 'plan.create', target: `plans/${row.id}`, after: planView(row) });
      },
      () => deps.enforcementChanged(`plan ${row.id} created`),
    );
    res.setHeader('location', `/api/v1/plans/${row.id}`);
    sendResource(res, 201, planView(row), planEtag(row));
  });

  router.patch('/plans/:id', requireRole('admin'), async (req, res) => {
    const id = req.params.id as string;
    const patch = readPatch(req);
    const updated = await mutate(
      store,
      clock,
      res,
      async ({ trx, audit }) => {
        const row = await trx.selectFrom('plans').selectAll().where('id', '=', id).executeTakeFirst();
        if (row === undefined) throw new ControlPlaneError('resource.not_found', `No plan "${id}".`);
        checkIfMatch(req, planEtag(row));
        const next: PlansTable = {
          ...row,
          ...(patch.name === undefined ? {} : { name: patch.name }),
          ...(patch.scopes === undefined ? {} : { scopes: JSON.stringify(patch.scopes) }),
          ...(patch.limits === undefined ? {} : { limits: patch.limits === null ? null : JSON.stringify(patch.limits) }),
          updated_at: new Date(clock.now()).toISOString(),
          revision: row.revision + 1,
        };
        const result = await trx
          .updateTable('plans')
          .set({ name: next.name, scopes: next.scopes, limits: next.limits, updated_at: next.updated_at, revision: next.revision })
          .where('id', '=', id)
          .where('revision', '=', row.revision)
          .executeTakeFirst();
        if (result.numUpdatedRows !== 1n) throw new ControlPlaneError('request.precondition_failed', 'The plan changed while this update ran; read it again and retry.');
        await audit({ action: 'plan.update', target: `plans/${id}`, before: planView(row), after: planView(next) });
        return next;
      },
      () => deps.enforcementChanged(`plan ${id} changed`),
    );
    sendResource(res, 200, planView(updated), planEtag(updated));
  });

  return router;
};

const problem = { $ref: '#/components/responses/Problem' };
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const ifMatch = { name: 'If-Match', in: 'header', required: true, description: 'The ETag read last (428 without it, 412 when stale).', schema: { type: 'string' } };
const paging = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
  { name: 'cursor', in: 'query', schema: { type: 'string' } },
];

export const plansOpenApi: OpenApiFragment = {
  paths: {
    '/plans': {
      get: {
        summary: 'List plans',
        description: 'Roles: owner, reviewer, auditor, admin. Cursor paging (`limit`, `cursor`).',
        parameters: paging,
        responses: { '200': { description: 'A page of plans.', content: { 'application/json': { schema: { type: 'object', properties: { items: { type: 'array', items: { $ref: '#/components/schemas/Plan' } }, nextCursor: { type: 'string' } } } } } }, '401': problem, '403': problem },
      },
      post: {
        summary: 'Create a plan',
        description: 'Role: admin. Gateways enforce it from the next snapshot on.',
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/PlanInput' } } } },
        responses: { '201': { description: 'Created (ETag, Location).', content: { 'application/json': { schema: { $ref: '#/components/schemas/Plan' } } } }, '400': problem, '401': problem, '403': problem, '409': problem },
      },
    },
    '/plans/{id}': {
      get: {
        summary: 'One plan',
        description: 'Roles: owner, reviewer, auditor, admin. Answers with its ETag.',
        parameters: [idParameter],
        responses: { '200': { description: 'The plan.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Plan' } } } }, '401': problem, '403': problem, '404': problem },
      },
      patch: {
        summary: 'Change a plan',
        description: 'Role: admin. Partial update; `limits: null` removes every limit. Every subscription under the plan is affected from the next snapshot on.',
        parameters: [idParameter, ifMatch],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/PlanPatch' } } } },
        responses: { '200': { description: 'Changed (new ETag).' }, '400': problem, '401': problem, '403': problem, '404': problem, '412': problem, '428': problem },
      },
    },
  },
  schemas: {
    PlanInput: planInputSchema,
    PlanPatch: planPatchSchema,
    Plan: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        name: { type: 'string' },
        scopes: { type: 'array', items: { type: 'string' } },
        limits: { oneOf: [planInputSchema.properties.limits, { type: 'null' }] },
        createdAt: { type: 'string', format: 'date-time' },
        updatedAt: { type: 'string', format: 'date-time' },
      },
      required: ['id', 'name', 'scopes', 'limits', 'createdAt', 'updatedAt'],
    },
  },
};
