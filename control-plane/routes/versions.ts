/**
 * @module API versions and their lifecycle: `draft → in_review → approved → published →
 * deprecated → retired`, reject returning a version under review to `draft` with the
 * reviewer's comment. A draft holds an OpenAPI 3.0 / 3.1 contract (its operations derived from
 * it) and policy bindings checked against each policy's schema. Separation of duties: nobody,
 * admins included, approves or rejects a version they submitted or last changed. Every
 * transition is a `version_transitions` row and an audit event in one transaction; publish,
 * deprecate and retire tell the snapshot publisher afterwards.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import {
  diffContracts,
  LIFECYCLE_ACTIONS,
  transitionInputSchema,
  versionInputSchema,
  versionPatchSchema,
  type LifecycleAction,
  type OperationSpec,
  type PolicyBinding,
  type TransitionInput,
  type VersionInput,
  type VersionPatch,
} from '../../contracts/index.js';
import type { RouteModule } from '../app.js';
import { principalOf, requireRole, type Principal } from '../auth.js';
import { ControlPlaneError } from '../errors.js';
import { bodyValidator, checkIfMatch, etagOf, mutate, pageParams, sendResource, type Page } from '../http.js';
import type { OpenApiFragment } from '../openapi.js';
import { createPolicyBindingChecker, type FieldProblem } from '../policy-schemas.js';
import { lintContract } from '../lint/lint.js';
import { queueVersionEvent } from '../notify/events.js';
import { affectedOperations, majorVersions, trafficImpact, type BreakingImpact, type ImpactReport } from '../access/impact.js';
import type { Store } from '../store/db.js';
import type { ApisTable, ApiVersionsTable, VersionTransitionsTable } from '../store/schema.js';
import { checkContract, compareSemver, parseSemver } from '../version-contract.js';
import { assertTeamOwner, isUniqueViolation, validationFailed } from './apis.js';

export const VERSION_STATUSES = ['draft', 'in_review', 'approved', 'published', 'deprecated', 'retired'] as const;
export type VersionLifecycleStatus = (typeof VERSION_STATUSES)[number];

/** The actions (and their body schemas) are the admin API's contract: contracts/admin-api.ts. */
export { LIFECYCLE_ACTIONS, type LifecycleAction };

/**
 * Each action: the one status it leaves, the status it reaches, and who may take it —
 * `team` (an owner of the owning team, or an admin) or `review` (a reviewer or admin who
 * neither submitted nor last changed the version).
 */
export const LIFECYCLE: Readonly<Record<LifecycleAction, { from: VersionLifecycleStatus; to: VersionLifecycleStatus; by: 'team' | 'review' }>> = {
  submit: { from: 'draft', to: 'in_review', by: 'team' },
  approve: { from: 'in_review', to: 'approved', by: 'review' },
  reject: { from: 'in_review', to: 'draft', by: 'review' },
  publish: { from: 'approved', to: 'published', by: 'team' },
  deprecate: { from: 'published', to: 'deprecated', by: 'team' },
  retire: { from: 'deprecated', to: 'retired', by: 'team' },
};

/** Actions after which the gateways enforce something else. */
const ENFORCED: ReadonlySet<LifecycleAction> = new Set(['publish', 'deprecate', 'retire']);

export interface VersionView {
  api: string;
  version: string;
  major: number;
  status: VersionLifecycleStatus;
  /** Single-resource answers only. */
  contract?: Record<string, unknown>;
  operations: OperationSpec[];
  policies: PolicyBinding[];
  createdBy: string;
  lastChangedBy: string;
  submittedBy: string | null;
  approvedBy: string | null;
  /** The reviewer's comment of the last rejection; cleared on approval. */
  reviewComment: string | null;
  sunset: string | null;
  createdAt: string;
  updatedAt: string;
}

export const versionView = (row: ApiVersionsTable, withContract: boolean): VersionView => ({
  api: row.api_slug,
  version: row.version,
  major: row.major,
  status: row.status as VersionLifecycleStatus,
  ...(withContract ? { contract: JSON.parse(row.contract) as Record<string, unknown> } : {}),
  operations: JSON.parse(row.operations) as OperationSpec[],
  policies: JSON.parse(row.policies) as PolicyBinding[],
  createdBy: row.created_by,
  lastChangedBy: row.last_changed_by,
  submittedBy: row.submitted_by,
  approvedBy: row.approved_by,
  reviewComment: row.review_comment,
  sunset: row.sunset,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** What the audit chain keeps of a version: everything but the contract, which it fingerprints. */
const auditView = (row: ApiVersionsTable): Omit<VersionView, 'contract'> & { contractSha256: string } => ({
  ...versionView(row, false),
  contractSha256: createHash('sha256').update(row.contract).digest('hex'),
});

export interface TransitionView {
  from: VersionLifecycleStatus;
  to: VersionLifecycleStatus;
  actor: string;
  comment: string | null;
  at: string;
}

const transitionView = (row: VersionTransitionsTable): TransitionView => ({ from: row.from_status as VersionLifecycleStatus, to: row.to_status as VersionLifecycleStatus, actor: row.actor, comment: row.comment, at: row.at });

export const versionEtag = (row: Pick<ApiVersionsTable, 'id' | 'revision'>): string => etagOf('version', row.id, row.revision);

async function loadApi(store: Store, slug: string): Promise<ApisTable> {
  const api = await store.db.selectFrom('apis').selectAll().where('slug', '=', slug).executeTakeFirst();
  if (api === undefined) throw new ControlPlaneError('resource.not_found', `No API "${slug}".`);
  return api;
}

/**
 * The version a contract is compared with by default: the latest published one of the same
 * major (the one its consumers run against), else the latest published one of the API.
 */
async function comparisonBase(store: Store, row: ApiVersionsTable): Promise<ApiVersionsTable | undefined> {
  const published = await store.db.selectFrom('api_versions').selectAll().where('api_slug', '=', row.api_slug).where('status', '=', 'published').where('id', '!=', row.id).execute();
  const latest = (rows: ApiVersionsTable[]): ApiVersionsTable | undefined => [...rows].sort((a, b) => compareSemver(b.version, a.version))[0];
  return latest(published.filter((other) => other.major === row.major)) ?? latest(published);
}

/** The diff report between two stored versions (before → after). */
function diffReport(before: ApiVersionsTable, after: ApiVersionsTable) {
  const diff = diffContracts(JSON.parse(before.contract) as object, JSON.parse(after.contract) as object);
  return { version: after.version, against: before.version, sameMajor: before.major === after.major, breaking: diff.breaking, changes: diff.changes };
}

/** Default and largest look-back of traffic impact, days. */
export const IMPACT_DEFAULT_DAYS = 30;
export const IMPACT_MAX_DAYS = 400;

/**
 * Traffic impact of a version from the shipped access records: its major's callers, and the
 * callers of the operations its breaking changes against `base` touch.
 */
export async function impactOf(store: Store, nowMs: number, row: ApiVersionsTable, base: ApiVersionsTable | undefined, days: number): Promise<ImpactReport> {
  const since = new Date(nowMs - days * 86_400_000).toISOString();
  const versions = await majorVersions(store.db, row.api_slug, row.major);
  const usage = { versions, consumers: await trafficImpact(store.db, { api: row.api_slug, versions, since }) };
  let breaking: BreakingImpact | null = null;
  if (base !== undefined && compareSemver(base.version, row.version) < 0) {
    const operations = JSON.parse(base.operations) as OperationSpec[];
    const changes = diffReport(base, row).changes.filter((change) => change.breaking);
    const touched = changes.map((change) => affectedOperations(change, operations));
    const all = [...new Set(touched.flat())];
    const consumers = await trafficImpact(store.db, { api: row.api_slug, versions: await majorVersions(store.db, row.api_slug, base.major), operations: all, since });
    breaking = {
      against: base.version,
      changes: changes.map((change, i) => {
        const ops = new Set(touched[i]);
        const hit = consumers
          .map((consumer) => {
            const used = consumer.operations.filter((op) => ops.has(op.operationId));
            return { consumer: consumer.consumer, name: consumer.name, calls: used.reduce((n, op) => n + op.calls, 0), lastSeen: used.reduce((at, op) => (op.lastSeen > at ? op.lastSeen : at), '') };
          })
          .filter((consumer) => consumer.calls > 0);
        return { ...change, operations: [...ops], consumers: hit };
      }),
      consumers,
    };
  }
  return { api: row.api_slug, version: row.version, days, since, usage, breaking };
}

/** `?days=`: 1 to IMPACT_MAX_DAYS, default IMPACT_DEFAULT_DAYS. */
function daysParam(req: Request): number {
  const raw = req.query.days;
  if (raw === undefined) return IMPACT_DEFAULT_DAYS;
  const days = typeof raw === 'string' && /^\d{1,3}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(days >= 1 && days <= IMPACT_MAX_DAYS)) throw validationFailed([{ pointer: '/query/days', detail: `must be a whole number of days from 1 to ${IMPACT_MAX_DAYS}` }]);
  return days;
}

async function loadVersion(store: Store, slug: string, version: string): Promise<{ api: ApisTable; row: ApiVersionsTable }> {
  const api = await loadApi(store, slug);
  const row = await store.db.selectFrom('api_versions').selectAll().where('api_slug', '=', slug).where('version', '=', version).executeTakeFirst();
  if (row === undefined) throw new ControlPlaneError('resource.not_found', `API "${slug}" has no version "${version}".`);
  return { api, row };
}

/**
 * Who may take a lifecycle action. Separation of duties is checked before the role, so the
 * submitter of a version hears why they may not approve it, whatever their roles.
 */
function assertMayTake(action: LifecycleAction, principal: Principal, api: ApisTable, row: ApiVersionsTable): void {
  const rule = LIFECYCLE[action];
  if (rule.by === 'team') {
    assertTeamOwner(principal, api.team_id, `${action} versions of "${api.slug}"`);
    return;
  }
  const submitted = row.submitted_by === principal.subject;
  const changed = row.last_changed_by === principal.subject;
  if (submitted || changed) {
    throw new ControlPlaneError('lifecycle.separation_of_duties', `You ${submitted ? 'submitted' : 'last changed'} ${api.slug} ${row.version}; someone else must ${action} it.`, {
      extensions: { action, submittedBy: row.submitted_by, lastChangedBy: row.last_changed_by },
    });
  }
  if (!principal.roles.has('reviewer') && !principal.roles.has('admin')) {
    throw new ControlPlaneError('access.role_missing', `Only a reviewer or an admin may ${action} a version.`, { extensions: { requiredRoles: ['reviewer', 'admin'] } });
  }
}

/** Why a version could not be stored: the version is gone or changed under us. */
const stale = (): ControlPlaneError => new ControlPlaneError('request.precondition_failed', 'The version changed since you read it; read it again and retry.');

/**
 * @example
 * createControlPlane({ store, logger, auth, routes: [teamsRoutes, apisRoutes, versionsRoutes] });
 * // POST /api/v1/apis/erp-orders/versions/1.2.0/approve  If-Match: "version-…-3"  { "comment": "ok" }
 */
export const versionsRoutes: RouteModule = (deps) => {
  const { store, clock } = deps;
  const readVersion = bodyValidator<VersionInput>(deps.ajv, versionInputSchema);
  const readPatch = bodyValidator<VersionPatch>(deps.ajv, versionPatchSchema);
  const readTransition = Object.fromEntries(LIFECYCLE_ACTIONS.map((action) => [action, bodyValidator<TransitionInput>(deps.ajv, transitionInputSchema(action))])) as Record<LifecycleAction, (req: Request) => TransitionInput>;
  const checkPolicies = createPolicyBindingChecker('version');
  const router = Router();
  const readers = requireRole('owner', 'reviewer', 'auditor');

  /** The contract and bindings as stored, or 400 with every problem. */
  function checkContent(contract: unknown, policies: PolicyBinding[] | undefined): { contract?: string; operations?: string; policies?: string } {
    const problems: FieldProblem[] = [];
    const out: { contract?: string; operations?: string; policies?: string } = {};
    if (contract !== undefined) {
      const result = checkContract(contract);
      problems.push(...result.problems);
      if (result.checked !== undefined) {
        out.contract = JSON.stringify(result.checked.contract);
        out.operations = JSON.stringify(result.checked.operations);
      }
    }
    if (policies !== undefined) {
      problems.push(...checkPolicies(policies, '/body/policies'));
      out.policies = JSON.stringify(policies);
    }
    if (problems.length > 0) throw validationFailed(problems);
    return out;
  }

  router.get('/apis/:api/versions', readers, async (req, res) => {
    const slug = req.params.api as string;
    const { limit, after } = pageParams(req);
    const status = req.query.status;
    if (status !== undefined && !(VERSION_STATUSES as readonly unknown[]).includes(status)) {
      throw new ControlPlaneError('request.validation_failed', `status must be one of ${VERSION_STATUSES.join(', ')}.`, { extensions: { errors: [{ pointer: '/query/status', detail: `must be one of ${VERSION_STATUSES.join(', ')}` }] } });
    }
    await loadApi(store, slug);
    let query = store.db.selectFrom('api_versions').selectAll().where('api_slug', '=', slug);
    if (typeof status === 'string') query = query.where('status', '=', status);
    // Versions of one API are few; semver order is not a SQL order, so page in memory.
    const rows = (await query.execute()).sort((a, b) => compareSemver(a.version, b.version)).filter((row) => after === undefined || compareSemver(row.version, after) > 0);
    const items = rows.slice(0, limit);
    const page: Page<VersionView> = { items: items.map((row) => versionView(row, false)) };
    if (rows.length > limit) page.nextCursor = Buffer.from(items[items.length - 1]!.version).toString('base64url');
    sendResource(res, 200, page);
  });

  router.get('/apis/:api/versions/:version', readers, async (req, res) => {
    const { row } = await loadVersion(store, req.params.api as string, req.params.version as string);
    sendResource(res, 200, versionView(row, true), versionEtag(row));
  });

  // The contract diff a reviewer sees: against `?against=<version>`, or by default the latest
  // published version of the same major (else of the API).
  router.get('/apis/:api/versions/:version/diff', readers, async (req, res) => {
    const { row } = await loadVersion(store, req.params.api as string, req.params.version as string);
    const against = req.query.against;
    if (against !== undefined && (typeof against !== 'string' || against.length === 0)) {
      throw validationFailed([{ pointer: '/query/against', detail: 'must be a version of this API' }]);
    }
    const base = against === undefined ? await comparisonBase(store, row) : (await loadVersion(store, row.api_slug, against)).row;
    if (base === undefined) throw new ControlPlaneError('resource.not_found', `Nothing to compare ${row.api_slug} ${row.version} with: no version is published; name one with ?against=.`);
    sendResource(res, 200, diffReport(base, row));
  });

  // The governance lint of the stored contract, as submit runs it: errors block submission.
  router.get('/apis/:api/versions/:version/lint', readers, async (req, res) => {
    const { row } = await loadVersion(store, req.params.api as string, req.params.version as string);
    sendResource(res, 200, await lintContract(JSON.parse(row.contract) as Record<string, unknown>, deps.lint));
  });

  /** The version named by `?against=`, or the comparison base. */
  async function baseFor(req: Request, row: ApiVersionsTable): Promise<ApiVersionsTable | undefined> {
    const against = req.query.against;
    if (against !== undefined && (typeof against !== 'string' || against.length === 0)) {
      throw validationFailed([{ pointer: '/query/against', detail: 'must be a version of this API' }]);
    }
    return against === undefined ? comparisonBase(store, row) : (await loadVersion(store, row.api_slug, against)).row;
  }

  // Who the version's changes and its deprecation would hit, from the gateways' access records.
  router.get('/apis/:api/versions/:version/impact', readers, async (req, res) => {
    const { row } = await loadVersion(store, req.params.api as string, req.params.version as string);
    const days = daysParam(req);
    sendResource(res, 200, await impactOf(store, clock.now(), row, await baseFor(req, row), days));
  });

  // Everything a reviewer weighs in one answer: the version, its lint, its diff and its impact.
  router.get('/apis/:api/versions/:version/review', readers, async (req, res) => {
    const { row } = await loadVersion(store, req.params.api as string, req.params.version as string);
    const days = daysParam(req);
    const base = await baseFor(req, row);
    sendResource(res, 200, {
      version: versionView(row, false),
      lint: await lintContract(JSON.parse(row.contract) as Record<string, unknown>, deps.lint),
      diff: base === undefined ? null : diffReport(base, row),
      impact: await impactOf(store, clock.now(), row, base, days),
    }, versionEtag(row));
  });

  router.get('/apis/:api/versions/:version/transitions', readers, async (req, res) => {
    const { row } = await loadVersion(store, req.params.api as string, req.params.version as string);
    const rows = await store.db.selectFrom('version_transitions').selectAll().where('version_id', '=', row.id).orderBy('id').execute();
    sendResource(res, 200, { items: rows.map(transitionView) });
  });

  router.post('/apis/:api/versions', requireRole('owner'), async (req, res) => {
    const slug = req.params.api as string;
    const input = readVersion(req);
    const principal = principalOf(res);
    const api = await loadApi(store, slug);
    assertTeamOwner(principal, api.team_id, `add versions to "${slug}"`);
    const content = checkContent(input.contract, input.policies ?? []);
    const now = new Date(clock.now()).toISOString();
    const row: ApiVersionsTable = {
      id: randomUUID(),
      api_slug: slug,
      version: input.version,
      major: parseSemver(input.version)!.major,
      status: 'draft',
      contract: content.contract!,
      operations: content.operations!,
      policies: content.policies!,
      created_by: principal.subject,
      last_changed_by: principal.subject,
      submitted_by: null,
      approved_by: null,
      review_comment: null,
      created_at: now,
      updated_at: now,
      revision: 1,
      sunset: null,
    };
    const conflict = () => new ControlPlaneError('resource.conflict', `API "${slug}" has a version "${row.version}" already.`);
    try {
      await mutate(store, clock, res, async ({ trx, audit }) => {
        const existing = await trx.selectFrom('api_versions').select('id').where('api_slug', '=', slug).where('version', '=', row.version).executeTakeFirst();
        if (existing !== undefined) throw conflict();
        await trx.insertInto('api_versions').values(row).execute();
        await audit({ action: 'version.create', target: `apis/${slug}/versions/${row.version}`, after: auditView(row) });
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict();
      throw error;
    }
    res.setHeader('location', `/api/v1/apis/${slug}/versions/${row.version}`);
    sendResource(res, 201, versionView(row, true), versionEtag(row));
  });

  router.patch('/apis/:api/versions/:version', requireRole('owner'), async (req, res) => {
    const patch = readPatch(req);
    const principal = principalOf(res);
    const { api, row: current } = await loadVersion(store, req.params.api as string, req.params.version as string);
    assertTeamOwner(principal, api.team_id, `change versions of "${api.slug}"`);
    checkIfMatch(req, versionEtag(current));
    if (current.status !== 'draft') {
      throw new ControlPlaneError('lifecycle.invalid_transition', `Only a draft can be changed; ${api.slug} ${current.version} is ${current.status}${current.status === 'in_review' ? ' (a reviewer can reject it back to draft)' : ' (create a new version instead)'}.`, {
        extensions: { from: current.status, to: 'draft' },
      });
    }
    const content = checkContent(patch.contract, patch.policies);
    const row: ApiVersionsTable = {
      ...current,
      ...content,
      last_changed_by: principal.subject,
      updated_at: new Date(clock.now()).toISOString(),
      revision: current.revision + 1,
    };
    await mutate(store, clock, res, async ({ trx, audit }) => {
      const { id: _id, ...changes } = row;
      const result = await trx.updateTable('api_versions').set(changes).where('id', '=', current.id).where('revision', '=', current.revision).where('status', '=', 'draft').executeTakeFirst();
      if (result.numUpdatedRows === 0n) throw stale();
      await audit({ action: 'version.update', target: `apis/${api.slug}/versions/${row.version}`, before: auditView(current), after: auditView(row) });
    });
    sendResource(res, 200, versionView(row, true), versionEtag(row));
  });

  async function transition(action: LifecycleAction, req: Request, res: Response): Promise<void> {
    if (req.body === undefined) req.body = {};
    const input = readTransition[action](req);
    const principal = principalOf(res);
    const { api, row: current } = await loadVersion(store, req.params.api as string, req.params.version as string);
    const rule = LIFECYCLE[action];
    assertMayTake(action, principal, api, current);
    checkIfMatch(req, versionEtag(current));
    if (current.status !== rule.from) {
      throw new ControlPlaneError('lifecycle.invalid_transition', `Cannot ${action} ${api.slug} ${current.version}: it is ${current.status}, and ${action} goes ${rule.from} → ${rule.to}.`, {
        extensions: { action, from: current.status, to: rule.to },
      });
    }
    if (action === 'submit') {
      // The governance lint first: errors block review, warnings travel with the version (GET …/lint).
      const lint = await lintContract(JSON.parse(current.contract) as Record<string, unknown>, deps.lint);
      if (lint.errors > 0) {
        throw new ControlPlaneError('contract.lint_failed', `${api.slug} ${current.version} fails the governance lint (${lint.errors} error${lint.errors === 1 ? '' : 's'}); fix them and submit again.`, {
          extensions: { errors: lint.errors, warnings: lint.warnings, findings: lint.findings.filter((finding) => finding.severity === 'error' || finding.severity === 'warn') },
        });
      }
      // Inside a major, consumers must not break: a breaking change needs a new major.
      const base = await comparisonBase(store, current);
      if (base !== undefined && base.major === current.major) {
        const report = diffReport(base, current);
        if (report.breaking) {
          const breaking = report.changes.filter((change) => change.breaking);
          throw new ControlPlaneError(
            'version.breaking_change',
            `${api.slug} ${current.version} breaks ${base.version}, published in the same major (${breaking.length} breaking change${breaking.length === 1 ? '' : 's'}); publish it as a new major or remove the breaks.`,
            { extensions: { against: base.version, changes: breaking } },
          );
        }
      }
    }
    if (action === 'retire' && current.sunset !== null && Date.parse(current.sunset) > clock.now()) {
      // Consumers were promised the sunset date: only an admin, saying why, retires earlier.
      const overridden = input.beforeSunset === true && principal.roles.has('admin') && (input.comment ?? '').trim() !== '';
      if (!overridden) {
        throw new ControlPlaneError(
          'lifecycle.invalid_transition',
          `Cannot retire ${api.slug} ${current.version} before its sunset (${current.sunset}); an admin may, with beforeSunset: true and a comment giving the reason.`,
          { extensions: { action, from: current.status, to: rule.to, sunset: current.sunset } },
        );
      }
    }
    let successor = current.successor ?? null;
    if (input.successor !== undefined) {
      const named = await store.db.selectFrom('api_versions').select(['version', 'status']).where('api_slug', '=', api.slug).where('version', '=', input.successor).executeTakeFirst();
      if (named === undefined || compareSemver(named.version, current.version) <= 0 || !['approved', 'published'].includes(named.status)) {
        throw validationFailed([{ pointer: '/body/successor', detail: 'must be a later approved or published version of this API' }]);
      }
      successor = named.version;
    }
    let sunset: string | null = current.sunset;
    if (input.sunset !== undefined) {
      const at = Date.parse(input.sunset);
      if (Number.isNaN(at) || at <= clock.now()) throw validationFailed([{ pointer: '/body/sunset', detail: 'must be a date in the future' }]);
      sunset = new Date(at).toISOString();
    }
    const now = new Date(clock.now()).toISOString();
    const comment = input.comment ?? null;
    const row: ApiVersionsTable = {
      ...current,
      status: rule.to,
      updated_at: now,
      revision: current.revision + 1,
      sunset,
      successor,
      ...(action === 'submit' ? { submitted_by: principal.subject } : {}),
      ...(action === 'approve' ? { approved_by: principal.subject, review_comment: null } : {}),
      ...(action === 'reject' ? { approved_by: null, review_comment: comment } : {}),
    };
    const target = (version: string): string => `apis/${api.slug}/versions/${version}`;
    let superseded: ApiVersionsTable | undefined;
    // Who the notices mark impacted: read before the transaction (SQLite has one connection).
    const impact = ['approve', 'deprecate', 'retire'].includes(action) ? await impactOf(store, clock.now(), current, await comparisonBase(store, current), IMPACT_DEFAULT_DAYS) : undefined;
    let queued = 0;
    try {
      await mutate(
        store,
        clock,
        res,
        async ({ trx, audit }) => {
          const record = async (version: ApiVersionsTable, to: VersionLifecycleStatus, note: string | null): Promise<void> => {
            const count = await trx.selectFrom('version_transitions').select((eb) => eb.fn.countAll<string | number>().as('n')).where('version_id', '=', version.id).executeTakeFirstOrThrow();
            await trx
              .insertInto('version_transitions')
              .values({ id: `${version.id}/${String(Number(count.n) + 1).padStart(6, '0')}`, version_id: version.id, from_status: version.status, to_status: to, actor: principal.subject, comment: note, at: now })
              .execute();
          };
          if (action === 'publish') {
            // One published version per major: the gateway routes v{major} to exactly one.
            const published = await trx.selectFrom('api_versions').selectAll().where('api_slug', '=', api.slug).where('major', '=', current.major).where('status', '=', 'published').execute();
            const newer = published.find((other) => compareSemver(other.version, current.version) > 0);
            if (newer !== undefined) {
              throw new ControlPlaneError('lifecycle.invalid_transition', `Cannot publish ${api.slug} ${current.version}: ${newer.version}, a later version of major ${current.major}, is published.`, {
                extensions: { action, from: current.status, to: rule.to, publishedVersion: newer.version },
              });
            }
            superseded = published[0];
            if (superseded !== undefined) {
              const before = superseded;
              const after: ApiVersionsTable = { ...before, status: 'deprecated', updated_at: now, revision: before.revision + 1 };
              const note = `superseded by ${current.version}`;
              const moved = await trx.updateTable('api_versions').set({ status: after.status, updated_at: now, revision: after.revision }).where('id', '=', before.id).where('revision', '=', before.revision).executeTakeFirst();
              if (moved.numUpdatedRows === 0n) throw stale();
              await record(before, 'deprecated', note);
              await audit({ action: 'version.deprecate', target: target(before.version), before: auditView(before), after: auditView(after), comment: note });
            }
          }
          const { id: _id, ...changes } = row;
          const result = await trx.updateTable('api_versions').set(changes).where('id', '=', current.id).where('revision', '=', current.revision).where('status', '=', rule.from).executeTakeFirst();
          if (result.numUpdatedRows === 0n) throw stale();
          await record(current, rule.to, comment);
          await audit({ action: `version.${action}`, target: target(row.version), before: auditView(current), after: auditView(row), comment });
          queued = await queueVersionEvent(trx, clock.now(), deps.notifications.channels, { action, version: row, ...(impact === undefined ? {} : { impact }) });
        },
        () => {
          if (queued > 0) deps.notifications.queued();
          if (ENFORCED.has(action)) deps.enforcementChanged(`${api.slug} ${row.version} ${rule.to}${superseded === undefined ? '' : ` (${superseded.version} deprecated)`}`);
        },
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw new ControlPlaneError('resource.conflict', `Another version of ${api.slug} major ${current.major} was published at the same time; read the versions again.`);
      throw error;
    }
    sendResource(res, 200, versionView(row, true), versionEtag(row));
  }

  for (const action of LIFECYCLE_ACTIONS) {
    const roles = LIFECYCLE[action].by === 'team' ? requireRole('owner') : requireRole('owner', 'reviewer');
    router.post(`/apis/:api/versions/:version/${action}`, roles, (req, res) => transition(action, req, res));
  }

  return router;
};

const problem = { $ref: '#/components/responses/Problem' };
const versionParams = [
  { name: 'api', in: 'path', required: true, schema: { type: 'string' }, description: 'The API slug.' },
  { name: 'version', in: 'path', required: true, schema: { type: 'string' }, description: 'The version, e.g. 1.2.0.' },
];
const ifMatch = { name: 'If-Match', in: 'header', required: true, schema: { type: 'string' }, description: 'The ETag last read.' };

const TRANSITION_DOCS: Record<LifecycleAction, string> = {
  submit: 'draft → in_review. Roles: owner of the owning team, or admin. Records the submitter. Refused with 422 contract.lint_failed (`findings`) when the contract fails the governance lint (GET …/lint), and with 422 version.breaking_change when it breaks the published version of its major.',
  approve: 'in_review → approved. Roles: reviewer or admin, never the one who submitted or last changed the version (403 lifecycle.separation_of_duties, admins included).',
  reject: 'in_review → draft with the reviewer\'s `comment` (required), shown as `reviewComment`. Roles and separation of duties as for approve.',
  publish: 'approved → published. Roles: owner of the owning team, or admin. A published version of the same major (there is at most one) becomes deprecated in the same transaction, recorded as its own transition ("superseded by …") by the same actor; publishing an older version than the published one of its major is refused (409). Gateways are updated.',
  deprecate: 'published → deprecated, with an optional `sunset` (ISO 8601 date or date-time in the future). Roles: owner of the owning team, or admin. Gateways are updated.',
  retire: 'deprecated → retired (gateways answer 410). Roles: owner of the owning team, or admin. Gateways are updated.',
};

export const versionsOpenApi: OpenApiFragment = {
  paths: {
    '/apis/{api}/versions': {
      get: {
        summary: 'List the versions of an API',
        description: 'Roles: owner, reviewer, auditor, admin. In semver order, without contracts; `status` filters; cursor paging (`limit`, `cursor`).',
        parameters: [
          versionParams[0],
          { name: 'status', in: 'query', schema: { type: 'string', enum: [...VERSION_STATUSES] } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'A page of versions.' }, '400': problem, '401': problem, '403': problem, '404': problem },
      },
      post: {
        summary: 'Create a draft version',
        description: 'Roles: owner of the owning team, or admin. The contract (OpenAPI 3.0.x / 3.1.x, JSON object or YAML / JSON text) needs paths and an operationId on every operation; the operations are derived from it. Problems point into `/body/contract/…` and `/body/policies/…`.',
        parameters: [versionParams[0]],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/VersionInput' } } } },
        responses: { '201': { description: 'Created as draft; ETag and Location headers.' }, '400': problem, '401': problem, '403': problem, '404': problem, '409': problem },
      },
    },
    '/apis/{api}/versions/{version}': {
      get: {
        summary: 'One version, with its contract',
        description: 'Roles: owner, reviewer, auditor, admin. Answers with an ETag.',
        parameters: versionParams,
        responses: { '200': { description: 'The version.' }, '401': problem, '403': problem, '404': problem },
      },
      patch: {
        summary: 'Change a draft',
        description: 'Roles: owner of the owning team, or admin. Needs `If-Match`; only drafts change (409 lifecycle.invalid_transition otherwise). Records the caller as the last to change it.',
        parameters: [...versionParams, ifMatch],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/VersionPatch' } } } },
        responses: { '200': { description: 'Changed; new ETag.' }, '400': problem, '401': problem, '403': problem, '404': problem, '409': problem, '412': problem, '428': problem },
      },
    },
    '/apis/{api}/versions/{version}/diff': {
      get: {
        summary: 'What changes against another version of the API',
        description:
          'Roles: owner, reviewer, auditor, admin. Against `?against=<version>`, or by default the latest published version of the same major (else of the API). ' +
          '`{ version, against, sameMajor, breaking, changes: [{ rule, breaking, location, operationId?, direction?, message }] }`. Submitting a version that breaks the published one of its major answers 422 `version.breaking_change` with the breaking changes.',
        parameters: [...versionParams, { name: 'against', in: 'query', schema: { type: 'string' } }],
        responses: { '200': { description: 'The diff report.' }, '400': problem, '401': problem, '403': problem, '404': problem },
      },
    },
    '/apis/{api}/versions/{version}/lint': {
      get: {
        summary: 'The governance lint of the contract',
        description:
          'Roles: owner, reviewer, auditor, admin. Spectral\'s OpenAPI rules (recommended) plus Gatehouse\'s: operation-security-scopes, request-string-max-length, safe-patterns, no-secret-examples (errors); ' +
          'operation-public, error-responses, request-object-closed (warnings). `{ errors, warnings, findings: [{ rule, severity, message, location, operationId? }] }`, `location` a JSON Pointer into the contract. ' +
          'Submitting a version whose contract has errors answers 422 `contract.lint_failed` with its error and warning findings.',
        parameters: versionParams,
        responses: { '200': { description: 'The lint report.' }, '401': problem, '403': problem, '404': problem },
      },
    },
    '/apis/{api}/versions/{version}/impact': {
      get: {
        summary: 'Which consumers the version\'s changes and deprecation would hit',
        description:
          'Roles: owner, reviewer, auditor, admin. From the access records the gateways ship, over the last `days` (default 30): `usage` lists the consumers that called any operation of this version\'s major (whom deprecating it affects); ' +
          '`breaking` (against `?against=` or the comparison base, when older) lists each breaking change with the operations it touches and the consumers that called them, with call counts and last-seen times.',
        parameters: [...versionParams, { name: 'days', in: 'query', schema: { type: 'integer', minimum: 1, maximum: IMPACT_MAX_DAYS, default: IMPACT_DEFAULT_DAYS } }, { name: 'against', in: 'query', schema: { type: 'string' } }],
        responses: { '200': { description: 'The impact report.' }, '400': problem, '401': problem, '403': problem, '404': problem },
      },
    },
    '/apis/{api}/versions/{version}/review': {
      get: {
        summary: 'What a reviewer weighs: lint findings, diff and traffic impact',
        description: 'Roles: owner, reviewer, auditor, admin. `{ version, lint, diff, impact }`: the lint report, the diff against `?against=` or the comparison base (null when there is none) and the impact report (`days`, default 30). Answers with the version\'s ETag, for approve / reject.',
        parameters: [...versionParams, { name: 'days', in: 'query', schema: { type: 'integer', minimum: 1, maximum: IMPACT_MAX_DAYS, default: IMPACT_DEFAULT_DAYS } }, { name: 'against', in: 'query', schema: { type: 'string' } }],
        responses: { '200': { description: 'The review.' }, '400': problem, '401': problem, '403': problem, '404': problem },
      },
    },
    '/apis/{api}/versions/{version}/transitions': {
      get: {
        summary: 'The lifecycle transitions of a version',
        description: 'Roles: owner, reviewer, auditor, admin. Oldest first: from, to, actor, comment, at.',
        parameters: versionParams,
        responses: { '200': { description: 'The transitions.' }, '401': problem, '403': problem, '404': problem },
      },
    },
    ...Object.fromEntries(
      LIFECYCLE_ACTIONS.map((action) => [
        `/apis/{api}/versions/{version}/${action}`,
        {
          post: {
            summary: `${action[0]!.toUpperCase()}${action.slice(1)} a version`,
            description: `${TRANSITION_DOCS[action]} Needs \`If-Match\`. An action from any other status answers 409 lifecycle.invalid_transition naming \`from\` and \`to\`.`,
            parameters: [...versionParams, ifMatch],
            requestBody: { required: action === 'reject', content: { 'application/json': { schema: transitionInputSchema(action) } } },
            responses: { '200': { description: 'The version in its new status; new ETag.' }, '400': problem, '401': problem, '403': problem, '404': problem, '409': problem, '412': problem, '428': problem },
          },
        },
      ]),
    ),
  },
  schemas: { VersionInput: versionInputSchema, VersionPatch: versionPatchSchema },
};
