/**
 * @module APIs: what the gateway exposes under `/{slug}/v{major}/…`, owned by a team, with the
 * upstream every version forwards to. Owners of the owning team (or admins) create and change
 * them; everyone with an admin role reads. Upstream secrets are only ever references
 * (`{ "env": "NAME" }`); anything that looks like an inline secret is refused.
 */
import { Router } from 'express';
import { apiInputSchema, apiPatchSchema, type ApiInput, type ApiPatch, type UpstreamSpec } from '../../contracts/index.js';
import type { RouteModule } from '../app.js';
import { principalOf, requireRole, type Principal } from '../auth.js';
import { ControlPlaneError } from '../errors.js';
import { bodyValidator, checkIfMatch, etagOf, mutate, pageParams, sendResource, toPage } from '../http.js';
import type { OpenApiFragment } from '../openapi.js';
import type { FieldProblem } from '../policy-schemas.js';
import type { ApisTable } from '../store/schema.js';

/** Statuses of versions a snapshot carries: a change to their API changes what gateways enforce. */
export const LIVE_STATUSES = ['published', 'deprecated', 'retired'] as const;


export interface ApiView {
  slug: string;
  title: string;
  team: string;
  upstream: UpstreamSpec;
  createdAt: string;
  updatedAt: string;
}

export const apiView = (row: ApisTable): ApiView => ({
  slug: row.slug,
  title: row.title,
  team: row.team_id,
  upstream: { kind: row.upstream_kind as UpstreamSpec['kind'], baseUrl: row.base_url, settings: JSON.parse(row.upstream_settings) as Record<string, unknown>, ...(JSON.parse(row.upstream_options) as Omit<UpstreamSpec, 'kind' | 'baseUrl' | 'settings'>) },
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const apiEtag = (row: Pick<ApisTable, 'slug' | 'revision'>): string => etagOf('api', row.slug, row.revision);

/**
 * Property names that hold a secret: the last word (camelCase, snake_case or kebab-case) is
 * key, token, secret, password… (`apiKey`, `accessToken`, `client_secret`), or the name
 * mentions a secret or password anywhere. `tokenUrl`, `credentialHeader` or `keyPrefix` are
 * not secrets and pass.
 */
const SECRET_LAST_WORD = new Set(['key', 'keys', 'apikey', 'token', 'tokens', 'secret', 'secrets', 'password', 'passwords', 'passwd', 'pwd', 'passphrase', 'credential', 'credentials', 'authorization', 'cookie']);

export function looksLikeSecretName(name: string): boolean {
  if (/secret|password|passwd|passphrase/i.test(name)) return true;
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[\s_.-]+/)
    .filter((w) => w !== '');
  return words.length > 0 && SECRET_LAST_WORD.has(words[words.length - 1]!.toLowerCase());
}

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/**
 * Refuses inline secrets in adapter settings: a secret-named property must hold a reference
 * `{ "env": "NAME" }`, never a string; a reference must name an environment variable and hold
 * nothing else. Problems name the property, never its value.
 */
export function inlineSecretProblems(value: unknown, pointer: string, name?: string): FieldProblem[] {
  if (typeof value === 'string') {
    return name !== undefined && looksLikeSecretName(name) ? [{ pointer, detail: 'looks like an inline secret; give it as a reference { "env": "VARIABLE_NAME" } and set the variable on the gateway' }] : [];
  }
  if (Array.isArray(value)) return value.flatMap((item, i) => inlineSecretProblems(item, `${pointer}/${i}`, name));
  if (typeof value !== 'object' || value === null) return [];
  const entries = Object.entries(value);
  if (Object.hasOwn(value, 'env')) {
    const env = (value as { env: unknown }).env;
    if (typeof env !== 'string' || !ENV_NAME.test(env)) return [{ pointer: `${pointer}/env`, detail: 'must name an environment variable (A-Z, 0-9, _)' }];
    if (entries.length !== 1) return [{ pointer, detail: 'a secret reference holds only "env"' }];
    return [];
  }
  return entries.flatMap(([key, child]) => inlineSecretProblems(child, `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, key));
}

/** Owners act for their own teams only; admins for any. 403 `access.role_missing` otherwise. */
export function assertTeamOwner(principal: Principal, team: string, doing: string): void {
  if (principal.roles.has('admin')) return;
  if (principal.roles.has('owner') && principal.teams.has(team)) return;
  throw new ControlPlaneError('access.role_missing', `Only an owner in team "${team}" or an admin may ${doing}.`, { extensions: { requiredRoles: ['owner', 'admin'], team } });
}

/** A unique constraint refused the write (PostgreSQL 23505, SQLite's constraint codes). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export function validationFailed(problems: FieldProblem[]): ControlPlaneError {
  const errors = problems.slice(0, 50);
  return new ControlPlaneError('request.validation_failed', `The request body is invalid: ${errors.map((e) => `${e.pointer} ${e.detail}`).join('; ')}.`, { extensions: { errors } });
}

function upstreamColumns(upstream: UpstreamSpec): Pick<ApisTable, 'upstream_kind' | 'base_url' | 'upstream_settings' | 'upstream_options'> {
  const { kind, baseUrl, settings, ...options } = upstream;
  return { upstream_kind: kind, base_url: baseUrl, upstream_settings: JSON.stringify(settings), upstream_options: JSON.stringify(options) };
}

/**
 * @example
 * createControlPlane({ store, logger, auth, routes: [teamsRoutes, apisRoutes, versionsRoutes] });
 */
export const apisRoutes: RouteModule = (deps) => {
  const { store, clock } = deps;
  const readApi = bodyValidator<ApiInput>(deps.ajv, apiInputSchema);
  const readPatch = bodyValidator<ApiPatch>(deps.ajv, apiPatchSchema);
  const router = Router();

  const teamExists = async (team: string): Promise<boolean> => (await store.db.selectFrom('teams').select('id').where('id', '=', team).executeTakeFirst()) !== undefined;

  router.get('/apis', requireRole('owner', 'reviewer', 'auditor'), async (req, res) => {
    const { limit, after } = pageParams(req);
    let query = store.db.selectFrom('apis').selectAll().orderBy('slug').limit(limit + 1);
    if (typeof req.query.team === 'string') query = query.where('team_id', '=', req.query.team);
    if (after !== undefined) query = query.where('slug', '>', after);
    sendResource(res, 200, toPage(await query.execute(), limit, (row) => row.slug, apiView));
  });

  router.get('/apis/:api', requireRole('owner', 'reviewer', 'auditor'), async (req, res) => {
    const row = await store.db.selectFrom('apis').selectAll().where('slug', '=', req.params.api as string).executeTakeFirst();
    if (row === undefined) throw new ControlPlaneError('resource.not_found', `No API "${req.params.api}".`);
    sendResource(res, 200, apiView(row), apiEtag(row));
  });

  router.post('/apis', requireRole('owner'), async (req, res) => {
    const input = readApi(req);
    const secrets = inlineSecretProblems(input.upstream.settings, '/body/upstream/settings');
    if (secrets.length > 0) throw validationFailed(secrets);
    assertTeamOwner(principalOf(res), input.team, `create APIs for team "${input.team}"`);
    if (!(await teamExists(input.team))) throw validationFailed([{ pointer: '/body/team', detail: `is not an existing team` }]);
    const now = new Date(clock.now()).toISOString();
    const row: ApisTable = { slug: input.slug, title: input.title, team_id: input.team, ...upstreamColumns(input.upstream), created_at: now, updated_at: now, revision: 1 };
    try {
      await mutate(store, clock, res, async ({ trx, audit }) => {
        const existing = await trx.selectFrom('apis').select('slug').where('slug', '=', row.slug).executeTakeFirst();
        if (existing !== undefined) throw new ControlPlaneError('resource.conflict', `API "${row.slug}" exists already.`);
        await trx.insertInto('apis').values(row).execute();
        await audit({ action: 'api.create', target: `apis/${row.slug}`, after: apiView(row) });
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ControlPlaneError('resource.conflict', `API "${row.slug}" exists already.`);
      throw error;
    }
    res.setHeader('location', `/api/v1/apis/${row.slug}`);
    sendResource(res, 201, apiView(row), apiEtag(row));
  });

  router.patch('/apis/:api', requireRole('owner'), async (req, res) => {
    const slug = req.params.api as string;
    const patch = readPatch(req);
    if (patch.upstream !== undefined) {
      const secrets = inlineSecretProblems(patch.upstream.settings, '/body/upstream/settings');
      if (secrets.length > 0) throw validationFailed(secrets);
    }
    const principal = principalOf(res);
    const current = await store.db.selectFrom('apis').selectAll().where('slug', '=', slug).executeTakeFirst();
    if (current === undefined) throw new ControlPlaneError('resource.not_found', `No API "${slug}".`);
    assertTeamOwner(principal, current.team_id, `change API "${slug}"`);
    if (patch.team !== undefined && patch.team !== current.team_id) {
      assertTeamOwner(principal, patch.team, `hand API "${slug}" to team "${patch.team}"`);
      if (!(await teamExists(patch.team))) throw validationFailed([{ pointer: '/body/team', detail: 'is not an existing team' }]);
    }
    checkIfMatch(req, apiEtag(current));
    let live = false;
    const updated = await mutate(
      store,
      clock,
      res,
      async ({ trx, audit }) => {
        const row: ApisTable = {
          ...current,
          ...(patch.title === undefined ? {} : { title: patch.title }),
          ...(patch.team === undefined ? {} : { team_id: patch.team }),
          ...(patch.upstream === undefined ? {} : upstreamColumns(patch.upstream)),
          updated_at: new Date(clock.now()).toISOString(),
          revision: current.revision + 1,
        };
        const { slug: _slug, created_at: _created, ...changes } = row;
        const result = await trx.updateTable('apis').set(changes).where('slug', '=', slug).where('revision', '=', current.revision).executeTakeFirst();
        if (result.numUpdatedRows === 0n) throw new ControlPlaneError('request.precondition_failed', 'The API changed since you read it; read it again and retry.');
        const versions = await trx.selectFrom('api_versions').select('id').where('api_slug', '=', slug).where('status', 'in', LIVE_STATUSES).limit(1).execute();
        live = versions.length > 0;
        await audit({ action: 'api.update', target: `apis/${slug}`, before: apiView(current), after: apiView(row) });
        return row;
      },
      () => {
        if (live) deps.enforcementChanged(`api ${slug} changed`);
      },
    );
    sendResource(res, 200, apiView(updated), apiEtag(updated));
  });

  return router;
};

const problem = { $ref: '#/components/responses/Problem' };
const apiParam = { name: 'api', in: 'path', required: true, schema: { type: 'string' }, description: 'The API slug.' };

export const apisOpenApi: OpenApiFragment = {
  paths: {
    '/apis': {
      get: {
        summary: 'List APIs',
        description: 'Roles: owner, reviewer, auditor, admin. Ordered by slug; cursor paging (`limit`, `cursor`); `team` filters by owning team.',
        parameters: [
          { name: 'team', in: 'query', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'A page of APIs.' }, '400': problem, '401': problem, '403': problem },
      },
      post: {
        summary: 'Register an API',
        description: 'Roles: owner (only for a team the caller belongs to) or admin. Settings hold secrets only as `{ "env": "NAME" }` references; a secret-named property (…key, …token, …secret, …password) with a string value is refused.',
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiInput' } } } },
        responses: { '201': { description: 'Created; ETag and Location headers.' }, '400': problem, '401': problem, '403': problem, '409': problem },
      },
    },
    '/apis/{api}': {
      get: {
        summary: 'One API',
        description: 'Roles: owner, reviewer, auditor, admin. Answers with an ETag.',
        parameters: [apiParam],
        responses: { '200': { description: 'The API.' }, '401': problem, '403': problem, '404': problem },
      },
      patch: {
        summary: 'Change an API',
        description: 'Roles: owner of the owning team (and of the new team, when handing it over) or admin. Needs `If-Match`. `upstream` is replaced as a whole. Gateways are updated when the API has published, deprecated or retired versions.',
        parameters: [apiParam, { name: 'If-Match', in: 'header', required: true, schema: { type: 'string' } }],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiPatch' } } } },
        responses: { '200': { description: 'Changed; new ETag.' }, '400': problem, '401': problem, '403': problem, '404': problem, '412': problem, '428': problem },
      },
    },
  },
  schemas: { ApiInput: apiInputSchema, ApiPatch: apiPatchSchema },
};
