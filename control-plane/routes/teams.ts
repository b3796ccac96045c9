/**
 * @module Teams: who owns APIs and consumers. Admins create them; anyone authenticated reads.
 * The pattern every resource router follows: validate, `mutate` (change + audit in one
 * transaction), ETag from the revision, cursor paging, problems for everything else.
 */
import { Router } from 'express';
import { teamInputSchema, type TeamInput } from '../../contracts/index.js';
import type { RouteModule } from '../app.js';
import { requireRole } from '../auth.js';
import { ControlPlaneError } from '../errors.js';
import { bodyValidator, mutate, pageParams, sendResource, toPage } from '../http.js';
import type { OpenApiFragment } from '../openapi.js';
import type { TeamsTable } from '../store/schema.js';


export interface TeamView {
  id: string;
  name: string;
  createdAt: string;
}

export const teamView = (row: TeamsTable): TeamView => ({ id: row.id, name: row.name, createdAt: row.created_at });

export const teamsRoutes: RouteModule = (deps) => {
  const { store, clock } = deps;
  const readTeam = bodyValidator<TeamInput>(deps.ajv, teamInputSchema);
  const router = Router();

  router.get('/teams', requireRole('owner', 'reviewer', 'auditor'), async (req, res) => {
    const { limit, after } = pageParams(req);
    let query = store.db.selectFrom('teams').selectAll().orderBy('id').limit(limit + 1);
    if (after !== undefined) query = query.where('id', '>', after);
    sendResource(res, 200, toPage(await query.execute(), limit, (row) => row.id, teamView));
  });

  router.get('/teams/:id', requireRole('owner', 'reviewer', 'auditor'), async (req, res) => {
    const row = await store.db.selectFrom('teams').selectAll().where('id', '=', req.params.id as string).executeTakeFirst();
    if (row === undefined) throw new ControlPlaneError('resource.not_found', `No team "${req.params.id}".`);
    sendResource(res, 200, teamView(row));
  });

  router.post('/teams', requireRole('admin'), async (req, res) => {
    const input = readTeam(req);
    const row: TeamsTable = { id: input.id, name: input.name, created_at: new Date(clock.now()).toISOString() };
    await mutate(store, clock, res, async ({ trx, audit }) => {
      const existing = await trx.selectFrom('teams').select('id').where('id', '=', row.id).executeTakeFirst();
      if (existing !== undefined) throw new ControlPlaneError('resource.conflict', `Team "${row.id}" exists already.`);
      await trx.insertInto('teams').values(row).execute();
      await audit({ action: 'team.create', target: `teams/${row.id}`, after: teamView(row) });
    });
    res.setHeader('location', `/api/v1/teams/${row.id}`);
    sendResource(res, 201, teamView(row));
  });

  return router;
};

const problem = { $ref: '#/components/responses/Problem' };

export const teamsOpenApi: OpenApiFragment = {
  paths: {
    '/teams': {
      get: {
        summary: 'List teams',
        description: 'Roles: owner, reviewer, auditor, admin. Cursor paging (`limit`, `cursor`).',
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'A page of teams.' }, '401': problem, '403': problem },
      },
      post: {
        summary: 'Create a team',
        description: 'Role: admin.',
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/TeamInput' } } } },
        responses: { '201': { description: 'Created.' }, '400': problem, '401': problem, '403': problem, '409': problem },
      },
    },
    '/teams/{id}': {
      get: { summary: 'One team', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'The team.' }, '404': problem } },
    },
  },
  schemas: { TeamInput: teamInputSchema },
};
