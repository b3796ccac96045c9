/**
 * @module The system-of-record registry (`/ownership`): which system owns each business entity
 * (and, where ownership is split, each field), where the entity lives in each upstream, and
 * enrichment grants letting a consumer write some fields it does not own. One document with an
 * ETag; admins change it whole (`PUT /ownership`) or by entity and grant; any role reads it.
 * Every change is audited and reaches the gateways with the next snapshot (the `ownership`
 * policy enforces it). A consumer's `speaksFor` (routes/consumers.ts) names its system.
 */
import { randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import type { Kysely, Transaction } from 'kysely';
import {
  grantInputSchema,
  ownedEntitySchema,
  ownershipDocumentSchema,
  type GrantInput,
  type OwnedEntitySpec,
  type OwnershipDocument,
} from '../../contracts/index.js';
import type { RouteModule } from '../app.js';
import { principalOf, requireRole } from '../auth.js';
import { ControlPlaneError } from '../errors.js';
import { bodyValidator, checkIfMatch, etagOf, mutate, sendResource } from '../http.js';
import type { OpenApiFragment } from '../openapi.js';
import type { Database, OwnershipRegistryTable } from '../store/schema.js';
import { validationFailed } from './apis.js';

const registryEtag = (row: Pick<OwnershipRegistryTable, 'revision'>): string => etagOf('ownership', 'registry', Number(row.revision));

/** The registry row; migration 006 makes it. */
export async function loadOwnership(db: Kysely<Database>): Promise<{ row: OwnershipRegistryTable; document: OwnershipDocument }> {
  const row = await db.selectFrom('ownership_registry').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
  return { row, document: JSON.parse(row.document) as OwnershipDocument };
}

/**
 * What a registry must hold together: unique systems and entities, owners that are systems,
 * one entity per upstream model, grants on known entities and consumers, and each consumer's
 * `speaksFor` a known system. Problems point into the document.
 */
export async function checkOwnership(trx: Transaction<Database>, document: OwnershipDocument, base = '/body'): Promise<void> {
  const problems: { pointer: string; detail: string }[] = [];
  const systems = new Set<string>();
  document.systems.forEach((system, i) => {
    if (systems.has(system.id)) problems.push({ pointer: `${base}/systems/${i}/id`, detail: `duplicates system "${system.id}"` });
    systems.add(system.id);
  });
  const entities = new Set<string>();
  const models = new Map<string, string>();
  document.entities.forEach((entity, i) => {
    const at = `${base}/entities/${i}`;
    if (entities.has(entity.name)) problems.push({ pointer: `${at}/name`, detail: `duplicates entity "${entity.name}"` });
    entities.add(entity.name);
    if (!systems.has(entity.owner)) problems.push({ pointer: `${at}/owner`, detail: `is not a system ("${entity.owner}")` });
    for (const [field, owner] of Object.entries(entity.fieldOwners)) {
      if (!systems.has(owner)) problems.push({ pointer: `${at}/fieldOwners/${field}`, detail: `is not a system ("${owner}")` });
    }
    entity.mappings.forEach((mapping, j) => {
      const key = `${mapping.upstream}\u0000${mapping.model}`;
      const other = models.get(key);
      if (other !== undefined) problems.push({ pointer: `${at}/mappings/${j}`, detail: `${mapping.upstream} ${mapping.model} is mapped to "${other}" already` });
      models.set(key, entity.name);
    });
  });
  const consumers = new Set((await trx.selectFrom('consumers').select('id').execute()).map((c) => c.id));
  const grantIds = new Set<string>();
  document.grants.forEach((grant, i) => {
    if (grantIds.has(grant.id)) problems.push({ pointer: `${base}/grants/${i}/id`, detail: 'duplicates a grant id' });
    grantIds.add(grant.id);
    if (!entities.has(grant.entity)) problems.push({ pointer: `${base}/grants/${i}/entity`, detail: `is not an entity ("${grant.entity}")` });
    if (!consumers.has(grant.consumer)) problems.push({ pointer: `${base}/grants/${i}/consumer`, detail: `is not a consumer ("${grant.consumer}")` });
  });
  const speakers = await trx.selectFrom('consumers').select(['id', 'speaks_for']).where('speaks_for', 'is not', null).execute();
  for (const consumer of speakers) {
    if (!systems.has(consumer.speaks_for!)) problems.push({ pointer: `${base}/systems`, detail: `consumer "${consumer.id}" speaks for "${consumer.speaks_for}", which would no longer be a system` });
  }
  if (problems.length > 0) throw validationFailed(problems);
}

/**
 * @example
 * createControlPlane({ store, logger, auth, routes: [...ADMIN_ROUTES] }); // ownershipRoutes is one of them
 * // PUT /api/v1/ownership/entities/invoice  If-Match: "ownership-registry-3"  { name: 'invoice', owner: 'erp', … }
 */
export const ownershipRoutes: RouteModule = (deps) => {
  const { store, clock } = deps;
  const readDocument = bodyValidator<OwnershipDocument>(deps.ajv, ownershipDocumentSchema);
  const readEntity = bodyValidator<OwnedEntitySpec>(deps.ajv, ownedEntitySchema);
  const readGrant = bodyValidator<GrantInput>(deps.ajv, grantInputSchema);
  const router = Router();

  /** Loads, changes and stores the registry in one transaction with its audit event. */
  async function change(req: Request, res: Response, action: string, target: string, edit: (document: OwnershipDocument) => OwnershipDocument, ifMatch: 'required' | 'when-sent'): Promise<{ document: OwnershipDocument; row: OwnershipRegistryTable }> {
    return mutate(
      store,
      clock,
      res,
      async ({ trx, audit }) => {
        const { row, document } = await loadOwnership(trx);
        if (ifMatch === 'required' || req.headers['if-match'] !== undefined) checkIfMatch(req, registryEtag(row));
        const next = edit(structuredClone(document));
        await checkOwnership(trx, next);
        const stored: OwnershipRegistryTable = { id: 1, document: JSON.stringify(next), revision: Number(row.revision) + 1, updated_at: new Date(clock.now()).toISOString(), updated_by: principalOf(res).subject };
        const result = await trx.updateTable('ownership_registry').set({ document: stored.document, revision: stored.revision, updated_at: stored.updated_at, updated_by: stored.updated_by }).where('id', '=', 1).where('revision', '=', row.revision).executeTakeFirst();
        if (result.numUpdatedRows !== 1n) throw new ControlPlaneError('request.precondition_failed', 'The registry changed while this ran; read it again and retry.');
        await audit({ action, target, before: document, after: next });
        return { document: next, row: stored };
      },
      () => deps.enforcementChanged(`ownership ${action}`),
    );
  }

  router.get('/ownership', requireRole('owner', 'reviewer', 'auditor'), async (_req, res) => {
    const { row, document } = await loadOwnership(store.db);
    sendResource(res, 200, document, registryEtag(row));
  });

  router.put('/ownership', requireRole('admin'), async (req, res) => {
    const input = readDocument(req);
    const { document, row } = await change(req, res, 'ownership.replace', 'ownership', () => input, 'required');
    sendResource(res, 200, document, registryEtag(row));
  });

  router.put('/ownership/entities/:name', requireRole('admin'), async (req, res) => {
    const name = req.params.name as string;
    const entity = readEntity(req);
    if (entity.name !== name) throw validationFailed([{ pointer: '/body/name', detail: `must be "${name}", the entity in the path` }]);
    const { document, row } = await change(req, res, 'ownership.entity.put', `ownership/entities/${name}`, (doc) => {
      const at = doc.entities.findIndex((e) => e.name === name);
      if (at === -1) doc.entities.push(entity);
      else doc.entities[at] = entity;
      return doc;
    }, 'when-sent');
    sendResource(res, 200, document.entities.find((e) => e.name === name), registryEtag(row));
  });

  router.delete('/ownership/entities/:name', requireRole('admin'), async (req, res) => {
    const name = req.params.name as string;
    const { row } = await change(req, res, 'ownership.entity.delete', `ownership/entities/${name}`, (doc) => {
      if (!doc.entities.some((e) => e.name === name)) throw new ControlPlaneError('resource.not_found', `No entity "${name}" in the registry.`);
      if (doc.grants.some((g) => g.entity === name)) throw new ControlPlaneError('resource.conflict', `Grants name entity "${name}"; revoke them first.`);
      return { ...doc, entities: doc.entities.filter((e) => e.name !== name) };
    }, 'when-sent');
    res.setHeader('etag', registryEtag(row));
    res.status(204).end();
  });

  router.post('/ownership/grants', requireRole('admin'), async (req, res) => {
    const input = readGrant(req);
    const id = `grant_${randomBytes(9).toString('base64url')}`;
    const { row } = await change(req, res, 'ownership.grant', `ownership/grants/${id}`, (doc) => ({ ...doc, grants: [...doc.grants, { id, consumer: input.consumer, entity: input.entity, fields: [...new Set(input.fields)] }] }), 'when-sent');
    res.setHeader('location', `/api/v1/ownership/grants/${id}`);
    sendResource(res, 201, { id, consumer: input.consumer, entity: input.entity, fields: [...new Set(input.fields)] }, registryEtag(row));
  });

  router.delete('/ownership/grants/:id', requireRole('admin'), async (req, res) => {
    const id = req.params.id as string;
    const { row } = await change(req, res, 'ownership.revoke_grant', `ownership/grants/${id}`, (doc) => {
      if (!doc.grants.some((g) => g.id === id)) throw new ControlPlaneError('resource.not_found', `No grant "${id}".`);
      return { ...doc, grants: doc.grants.filter((g) => g.id !== id) };
    }, 'when-sent');
    res.setHeader('etag', registryEtag(row));
    res.status(204).end();
  });

  return router;
};

const problem = { $ref: '#/components/responses/Problem' };
const ifMatchOptional = { name: 'If-Match', in: 'header', schema: { type: 'string' }, description: 'The registry ETag; checked when sent.' };

export const ownershipOpenApi: OpenApiFragment = {
  paths: {
    '/ownership': {
      get: {
        summary: 'The system-of-record registry',
        description: 'Roles: any. `{ systems, entities, grants }` with the registry ETag. Seeded with the retail defaults (ERP owns products, prices, stock, orders, deliveries, invoices, payments and customers\' billing identity; CRM the customer relationship and opportunities; the service desk cases).',
        responses: { '200': { description: 'The registry.' }, '401': problem, '403': problem },
      },
      put: {
        summary: 'Replace the registry',
        description: 'Role: admin. Needs `If-Match`. Checked whole: unique systems and entities, owners that are systems, one entity per upstream model, grants on known entities and consumers, consumers\' `speaksFor` still systems (400 with pointers). Audited; gateways enforce it from the next snapshot.',
        parameters: [{ name: 'If-Match', in: 'header', required: true, schema: { type: 'string' } }],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/OwnershipDocument' } } } },
        responses: { '200': { description: 'The registry as stored (new ETag).' }, '400': problem, '403': problem, '412': problem, '428': problem },
      },
    },
    '/ownership/entities/{name}': {
      put: {
        summary: 'Add or replace one entity',
        description: 'Role: admin. Audited.',
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }, ifMatchOptional],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/OwnedEntity' } } } },
        responses: { '200': { description: 'The entity.' }, '400': problem, '403': problem, '412': problem },
      },
      delete: {
        summary: 'Remove an entity',
        description: 'Role: admin. Refused (409) while grants name it. Audited.',
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }, ifMatchOptional],
        responses: { '204': { description: 'Removed.' }, '403': problem, '404': problem, '409': problem, '412': problem },
      },
    },
    '/ownership/grants': {
      post: {
        summary: 'Grant a consumer the right to write some fields of an entity it does not own',
        description: 'Role: admin. `{ consumer, entity, fields }` (canonical field names). Audited.',
        parameters: [ifMatchOptional],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/GrantInput' } } } },
        responses: { '201': { description: 'The grant with its id.' }, '400': problem, '403': problem, '412': problem },
      },
    },
    '/ownership/grants/{id}': {
      delete: {
        summary: 'Revoke a grant',
        description: 'Role: admin. Audited.',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, ifMatchOptional],
        responses: { '204': { description: 'Revoked.' }, '403': problem, '404': problem, '412': problem },
      },
    },
  },
  schemas: { OwnershipDocument: ownershipDocumentSchema, OwnedEntity: ownedEntitySchema, GrantInput: grantInputSchema },
};
