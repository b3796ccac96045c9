/**
 * @module Where gateway nodes ship their access records: `POST /audit/access-batches` (role
 * gateway). Each node and batch id is stored once, so a node re-sends a batch it is unsure of
 * safely; batches are hash-chained (control-plane/access/store.ts). Not in the admin audit
 * chain: they are records of traffic, not of administration, and chain on their own.
 */
import { Router } from 'express';
import { accessBatchSchema, MAX_ACCESS_BATCH_RECORDS, type AccessBatch } from '../../contracts/index.js';
import type { RouteModule } from '../app.js';
import { requireRole } from '../auth.js';
import { appendAccessBatch } from '../access/store.js';
import { bodyValidator, sendResource } from '../http.js';
import type { OpenApiFragment } from '../openapi.js';

/**
 * @example
 * createControlPlane({ store, logger, auth, routes: [...ADMIN_ROUTES] }); // accessRoutes is one of them
 * // POST /api/v1/audit/access-batches  { nodeId: 'gw-1', batchId: '0001', records: [...] }
 */
export const accessRoutes: RouteModule = (deps) => {
  const { store, clock, logger } = deps;
  const readBatch = bodyValidator<AccessBatch>(deps.ajv, accessBatchSchema);
  const router = Router();

  router.post('/audit/access-batches', requireRole('gateway'), async (req, res) => {
    const batch = readBatch(req);
    const receipt = await appendAccessBatch(store.db, store.dialect, clock.now(), batch);
    deps.metrics.accessBatches.inc({ outcome: receipt.duplicate ? 'duplicate' : 'stored' });
    deps.metrics.accessRecords.inc(receipt.accepted);
    if (receipt.duplicate) logger.info('access batch received again; kept the first copy', { nodeId: batch.nodeId, batchId: batch.batchId, seq: receipt.seq });
    sendResource(res, 200, receipt);
  });

  return router;
};

const problem = { $ref: '#/components/responses/Problem' };

export const accessOpenApi: OpenApiFragment = {
  paths: {
    '/audit/access-batches': {
      post: {
        summary: 'A gateway node ships access records',
        description:
          `Role: gateway (admin). Up to ${MAX_ACCESS_BATCH_RECORDS} records per batch. A batch is stored once per node and batch id: sending it again answers 200 with \`duplicate: true\` and the stored batch's position, so nodes re-send what they are unsure of. ` +
          'Each batch is chained to the previous one by hash (`seq`, `hash`).',
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/AccessBatch' } } } },
        responses: { '200': { description: 'Stored (or stored before): `{ batchId, accepted, duplicate, seq, hash }`.' }, '400': problem, '401': problem, '403': problem },
      },
    },
  },
  schemas: { AccessBatch: accessBatchSchema },
};
