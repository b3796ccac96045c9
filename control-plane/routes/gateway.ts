/**
 * @module What gateway nodes talk to (DESIGN §4): `GET /gateway/snapshot`, a long poll on the
 * snapshot's hash (`If-None-Match` + `?wait=`), `PUT /gateway/nodes/{nodeId}` where a node
 * reports what it runs, and `GET /gateway/nodes` where people see every node, what it runs and
 * when it was last heard from. The snapshot publisher lives beside these routes: mounting them
 * starts it.
 *
 * Node reports are not audited: they are machine heartbeats (one per apply and one per long
 * poll round), change nothing anyone enforces, and would drown the admin audit chain. The
 * `gateway_nodes` row is their record.
 */
import { Router, type Request, type Response } from 'express';
import { nodeReportSchema, type NodeReport } from '../../contracts/index.js';
import type { ControlPlaneDeps, RouteModule } from '../app.js';
import { requireRole } from '../auth.js';
import { ControlPlaneError, requestIdOf } from '../errors.js';
import { bodyValidator, pageParams, sendResource, toPage, type Page } from '../http.js';
import type { OpenApiFragment } from '../openapi.js';
import type { GatewayNodesTable } from '../store/schema.js';
import { createSnapshotPublisher, type PublicationStatus, type PublishedSnapshot, type SnapshotPublisher, type SnapshotPublisherOptions } from '../snapshot/publisher.js';

/** Longest a long poll may wait, seconds. */
export const MAX_WAIT_SECONDS = 60;
const NODE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
const NODE_ID = new RegExp(NODE_ID_PATTERN);

export interface GatewayNodeView {
  nodeId: string;
  appliedHash: string | null;
  /** Whether the node serves the snapshot the control plane serves now. */
  current: boolean;
  error: string | null;
  lastSeen: string;
}

export interface GatewayNodesPage extends Page<GatewayNodeView> {
  /** The snapshot served now (null before the first publication). */
  snapshot: { seq: number; hash: string; generatedAt: string; publishedAt: string } | null;
  /** Problems of the last refused build, when the newest build was refused. */
  lastBuildError?: { at: string; problems: readonly string[] };
}

function nodeView(row: GatewayNodesTable, currentHash: string | undefined): GatewayNodeView {
  return { nodeId: row.node_id, appliedHash: row.applied_hash, current: row.applied_hash !== null && row.applied_hash === currentHash, error: row.error, lastSeen: row.last_seen };
}

/** `?wait=` seconds: absent → 0; a number from 0 to 60 (fractions allowed). */
function waitSeconds(req: Request): number {
  const raw = req.query.wait;
  if (raw === undefined) return 0;
  const value = typeof raw === 'string' && /^\d{1,3}(\.\d{1,3})?$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= 0 && value <= MAX_WAIT_SECONDS)) {
    throw new ControlPlaneError('request.validation_failed', `wait must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}.`, {
      extensions: { errors: [{ pointer: '/query/wait', detail: `must be a number from 0 to ${MAX_WAIT_SECONDS}` }] },
    });
  }
  return value;
}

/** Whether `If-None-Match` (RFC 9110 §13.1.2, weak comparison) names `hash`. */
function noneMatch(header: string | undefined, hash: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === `"${hash}"`;
  });
}

function sendSnapshot(res: Response, snapshot: PublishedSnapshot): void {
  res
    .status(200)
    .set({
      'content-type': 'application/json; charset=utf-8',
      etag: `"${snapshot.hash}"`,
      'cache-control': 'no-store',
      'x-snapshot-seq': String(snapshot.seq),
      'x-request-id': requestIdOf(res),
    })
    .end(snapshot.body);
}

function sendNotModified(res: Response, hash: string): void {
  res.status(304).set({ etag: `"${hash}"`, 'cache-control': 'no-store', 'x-request-id': requestIdOf(res) }).end();
}

export interface GatewayRoutes {
  /** Mount with the authenticated routes (`routes: [..., gateway.routes]`). */
  routes: RouteModule;
  /** The publisher started when the routes were mounted. */
  publisher(): SnapshotPublisher;
  /** Stops the publisher and answers every waiting long poll (304): call before `server.close()`. */
  close(): Promise<void>;
}

/**
 * @param publisherOptions see `SnapshotPublisherOptions` (debounce 50 ms, max wait 250 ms, keep 50)
 * @example
 * const gateway = createGatewayRoutes();
 * const cp = createControlPlane({ store, logger, auth, routes: [teamsRoutes, gateway.routes] });
 * const server = http.createServer(cp.app).listen(4000);
 * // shutdown:
 * await gateway.close();
 * server.close();
 */
export function createGatewayRoutes(publisherOptions: SnapshotPublisherOptions = {}): GatewayRoutes {
  let publisher: SnapshotPublisher | undefined;

  const routes: RouteModule = (deps: ControlPlaneDeps) => {
    if (publisher !== undefined) throw new Error('gateway routes are mounted once per control plane; create another with createGatewayRoutes()');
    const started = createSnapshotPublisher(deps, publisherOptions);
    publisher = started;
    const { store, clock } = deps;
    const readReport = bodyValidator<NodeReport>(deps.ajv, nodeReportSchema);
    const router = Router();

    router.get('/gateway/snapshot', requireRole('gateway'), async (req, res) => {
      const wait = waitSeconds(req);
      await started.ready;
      const current = started.current();
      if (current === undefined) {
        throw new ControlPlaneError('control_plane.internal', 'No snapshot has been published yet; the control-plane log says why.', { status: 503, headers: { 'retry-after': '5' } });
      }
      if (!noneMatch(req.headers['if-none-match'], current.hash)) {
        sendSnapshot(res, current);
        return;
      }
      if (wait === 0) {
        sendNotModified(res, current.hash);
        return;
      }
      // The long poll: released by a new snapshot, the wait running out, the caller leaving
      // (the socket closes) or the publisher closing.
      const gone = new AbortController();
      const onClose = (): void => gone.abort();
      res.once('close', onClose);
      const next = await started.waitForChange(current.hash, wait * 1000, gone.signal);
      res.off('close', onClose);
      if (gone.signal.aborted || res.destroyed) return;
      if (next === undefined) sendNotModified(res, started.current()?.hash ?? current.hash);
      else sendSnapshot(res, next);
    });

    router.put('/gateway/nodes/:nodeId', requireRole('gateway'), async (req, res) => {
      const nodeId = req.params.nodeId as string;
      if (!NODE_ID.test(nodeId)) {
        throw new ControlPlaneError('request.validation_failed', 'The node id must be 1 to 128 letters, digits, dots, colons, dashes or underscores.', {
          extensions: { errors: [{ pointer: '/path/nodeId', detail: `must match ${NODE_ID_PATTERN}` }] },
        });
      }
      const report = readReport(req);
      const row: GatewayNodesTable = { node_id: nodeId, applied_hash: report.appliedHash ?? null, error: report.error ?? null, last_seen: new Date(clock.now()).toISOString() };
      await store.db
        .insertInto('gateway_nodes')
        .values(row)
        .onConflict((oc) => oc.column('node_id').doUpdateSet({ applied_hash: row.applied_hash, error: row.error, last_seen: row.last_seen }))
        .execute();
      sendResource(res, 200, nodeView(row, started.current()?.hash));
    });

    router.get('/gateway/nodes', requireRole('owner', 'reviewer', 'auditor'), async (req, res) => {
      const { limit, after } = pageParams(req);
      let query = store.db.selectFrom('gateway_nodes').selectAll().orderBy('node_id').limit(limit + 1);
      if (after !== undefined) query = query.where('node_id', '>', after);
      const rows = await query.execute();
      const status: PublicationStatus = started.status();
      const currentHash = status.current?.hash;
      const page: GatewayNodesPage = {
        snapshot: status.current === undefined ? null : { seq: status.current.seq, hash: status.current.hash, generatedAt: status.current.generatedAt, publishedAt: status.current.createdAt },
        ...(status.lastError === undefined ? {} : { lastBuildError: status.lastError }),
        ...toPage(rows, limit, (row) => row.node_id, (row) => nodeView(row, currentHash)),
      };
      sendResource(res, 200, page);
    });

    return router;
  };

  return {
    routes,
    publisher() {
      if (publisher === undefined) throw new Error('the gateway routes are not mounted yet');
      return publisher;
    },
    async close() {
      await publisher?.close();
    },
  };
}

const problem = { $ref: '#/components/responses/Problem' };

export const gatewayOpenApi: OpenApiFragment = {
  paths: {
    '/gateway/snapshot': {
      get: {
        summary: 'The current snapshot (long poll)',
        description:
          'Roles: gateway, admin. Without `If-None-Match`, or naming another hash: 200 with the snapshot and `ETag: "<hash>"`. ' +
          'With `If-None-Match` naming the current hash: waits up to `wait` seconds for a newer snapshot (200 at once when one is published), else 304.',
        parameters: [
          { name: 'wait', in: 'query', schema: { type: 'number', minimum: 0, maximum: MAX_WAIT_SECONDS, default: 0 }, description: 'Seconds to wait for a change when `If-None-Match` names the current hash.' },
          { name: 'If-None-Match', in: 'header', schema: { type: 'string' }, description: 'The ETag (`"<hash>"`) of the snapshot the caller has.' },
        ],
        responses: {
          '200': {
            description: 'The snapshot (contracts/snapshot.ts), byte for byte as hashed.',
            headers: { ETag: { schema: { type: 'string' } }, 'X-Snapshot-Seq': { schema: { type: 'integer' } } },
            content: { 'application/json': { schema: { $ref: 'https://gatehouse.dev/schemas/snapshot.json' } } },
          },
          '304': { description: 'Nothing newer than `If-None-Match` within `wait`.' },
          '400': problem,
          '401': problem,
          '403': problem,
          '503': problem,
        },
      },
    },
    '/gateway/nodes': {
      get: {
        summary: 'Gateway nodes and what they run',
        description: 'Roles: owner, reviewer, auditor, admin. Cursor paging (`limit`, `cursor`); `snapshot` is what the control plane serves now, `current` says whether a node runs it.',
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'A page of nodes.' }, '401': problem, '403': problem },
      },
    },
    '/gateway/nodes/{nodeId}': {
      put: {
        summary: 'A gateway node reports what it runs',
        description: 'Role: gateway (admin). Upserts the node with the time it was seen. Not audited (a machine heartbeat).',
        parameters: [{ name: 'nodeId', in: 'path', required: true, schema: { type: 'string', pattern: NODE_ID_PATTERN } }],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/NodeReport' } } } },
        responses: { '200': { description: 'The node as recorded.' }, '400': problem, '401': problem, '403': problem },
      },
    },
  },
  schemas: { NodeReport: nodeReportSchema },
};
