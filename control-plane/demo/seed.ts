/**
 * @module Seeds an empty control-plane store with the demo catalogue (`catalogue.ts`) the way
 * its people would have built it through the admin API: adam.admin creates the teams, plans
 * and consumers and issues the finance jobs' key; each API's owner (olivia.owner for the ERP
 * team's, adam.admin for teams without a demo owner) registers it and creates, submits and
 * publishes version 1.0.0, which rafael.reviewer approves; the subscriptions are requested and
 * approved (olivia.owner decides for her team's APIs). Every step is the row the admin API
 * would write, its lifecycle transition and its hash-chained audit event (with "demo seed" in
 * its comment), all in ONE transaction: a failed seed leaves the store empty.
 *
 * Written through the store rather than through the admin API because the story's actors are
 * people who log in with a browser (authorization code + PKCE): the seed has no tokens for
 * them. What it writes is still checked by the admin API's own rules first: body schemas,
 * inline-secret refusal, the contract check that derives the operations, and the policy
 * binding checker.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { appendAudit } from '../audit/chain.js';
import type { Logger } from '../errors.js';
import { createAdminAjv } from '../http.js';
import { createPolicyBindingChecker, type FieldProblem } from '../policy-schemas.js';
import { apiInputSchema, consumerInputSchema, planInputSchema, teamInputSchema, type OwnershipDocument } from '../../contracts/index.js';
import { apiView, inlineSecretProblems, isUniqueViolation } from '../routes/apis.js';
import { consumerView, credentialView, newId } from '../routes/consumers.js';
import { planView } from '../routes/plans.js';
import { subscriptionView } from '../routes/subscriptions.js';
import { teamView } from '../routes/teams.js';
import { versionView } from '../routes/versions.js';
import type { Dialect, Store } from '../store/db.js';
import type { ApiKeysTable, ApisTable, ApiVersionsTable, ConsumersTable, Database, PlansTable, SubscriptionsTable, TeamsTable } from '../store/schema.js';
import { checkContract, parseSemver } from '../version-contract.js';
import { DEMO_ACTORS, DEMO_APIS, DEMO_CONSUMERS, DEMO_GRANTS, DEMO_PLANS, DEMO_TEAMS, type DemoEndpoints } from './catalogue.js';

/** The version every demo API publishes. */
export const DEMO_VERSION = '1.0.0';
/** Every audit event the seed writes says so in its comment. */
export const SEED_COMMENT = 'demo seed';

export interface SeedOptions {
  /** Simulator URLs and the dev provider's issuer: what the APIs' upstreams and jwt-auth point at. */
  endpoints: DemoEndpoints;
  /** When the seed happened (ms). Default now. */
  now?: number;
  logger?: Logger;
}

export type SeedResult =
  | { seeded: true; apis: number; consumers: number; auditEvents: number }
  /** The store held a catalogue already (teams, APIs, plans or consumers): nothing was written. */
  | { seeded: false };

/** Thrown when the catalogue breaks a rule of the admin API (a bug in the demo data). */
export class DemoSeedError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`the demo catalogue is invalid: ${problems.slice(0, 10).join('; ')}`);
    this.name = 'DemoSeedError';
    this.problems = problems;
  }
}

/** The role an actor's audit events carry (what `actingRole` would say of their token). */
const ROLE_OF: Readonly<Record<string, string>> = {
  [DEMO_ACTORS.admin]: 'admin',
  [DEMO_ACTORS.owner]: 'owner',
  [DEMO_ACTORS.reviewer]: 'reviewer',
};

/** Whether the store holds anything a catalogue is made of. */
async function holdsCatalogue(db: Kysely<Database>): Promise<boolean> {
  for (const table of ['teams', 'apis', 'plans', 'consumers'] as const) {
    const row = await db.selectFrom(table).select(db.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow();
    if (Number(row.n) > 0) return true;
  }
  return false;
}

/** Every row of the catalogue, checked against the admin API's rules before anything is written. */
function prepare(options: SeedOptions): {
  teams: TeamsTable[];
  plans: PlansTable[];
  apis: Array<{ row: ApisTable; owner: string; version: ApiVersionsTable; reviewComment: string }>;
  consumers: Array<{ row: ConsumersTable; clientIds: string[]; key?: ApiKeysTable; subscriptions: SubscriptionsTable[] }>;
} {
  const nowMs = options.now ?? Date.now();
  const at = new Date(nowMs).toISOString();
  const ajv = createAdminAjv();
  const problems: string[] = [];
  const check = (schema: object, value: unknown, where: string): void => {
    const validate = ajv.compile(schema);
    if (!validate(value)) problems.push(...(validate.errors ?? []).map((e) => `${where}${e.instancePath} ${e.message ?? 'is invalid'}`));
  };
  const report = (list: readonly FieldProblem[], where: string): void => {
    problems.push(...list.map((p) => `${where}${p.pointer} ${p.detail}`));
  };
  const checkPolicies = createPolicyBindingChecker('version');

  const teams = DEMO_TEAMS.map((team): TeamsTable => {
    check(teamInputSchema, team, `teams/${team.id}`);
    return { id: team.id, name: team.name, created_at: at };
  });
  const plans = DEMO_PLANS.map((plan): PlansTable => {
    check(planInputSchema, plan, `plans/${plan.id}`);
    return { id: plan.id, name: plan.name, scopes: JSON.stringify(plan.scopes), limits: JSON.stringify(plan.limits), created_at: at, updated_at: at, revision: 1 };
  });
  const apis = DEMO_APIS.map((api) => {
    const upstream = api.upstream(options.endpoints);
    check(apiInputSchema, { slug: api.slug, title: api.title, team: api.team, upstream }, `apis/${api.slug}`);
    report(inlineSecretProblems(upstream.settings, '/upstream/settings'), `apis/${api.slug}`);
    const { kind, baseUrl, settings, ...upstreamOptions } = upstream;
    const row: ApisTable = {
      slug: api.slug,
      title: api.title,
      team_id: api.team,
      upstream_kind: kind,
      base_url: baseUrl,
      upstream_settings: JSON.stringify(settings),
      upstream_options: JSON.stringify(upstreamOptions),
      created_at: at,
      updated_at: at,
      revision: 1,
    };
    const contract = checkContract(api.contract(options.endpoints));
    report(contract.problems, `apis/${api.slug}/versions/${DEMO_VERSION}`);
    const policies = api.policies(options.endpoints);
    report(checkPolicies(policies, '/policies'), `apis/${api.slug}/versions/${DEMO_VERSION}`);
    const version: ApiVersionsTable = {
      id: randomUUID(),
      api_slug: api.slug,
      version: DEMO_VERSION,
      major: parseSemver(DEMO_VERSION)!.major,
      status: 'draft',
      contract: JSON.stringify(contract.checked?.contract ?? {}),
      operations: JSON.stringify(contract.checked?.operations ?? []),
      policies: JSON.stringify(policies),
      created_by: api.owner,
      last_changed_by: api.owner,
      submitted_by: null,
      approved_by: null,
      review_comment: null,
      created_at: at,
      updated_at: at,
      revision: 1,
      sunset: null,
    };
    return { row, owner: api.owner, version, reviewComment: api.reviewComment };
  });
  // Subscription ids sort by creation time: one tick apart, so listings follow the catalogue's order.
  let tick = 0;
  const consumers = DEMO_CONSUMERS.map((consumer) => {
    check(consumerInputSchema, { id: consumer.id, name: consumer.name, team: consumer.team, clientIds: consumer.clientIds, email: consumer.email, ...(consumer.speaksFor === undefined ? {} : { speaksFor: consumer.speaksFor }) }, `consumers/${consumer.id}`);
    const row: ConsumersTable = {
      id: consumer.id,
      name: consumer.name,
      team_id: consumer.team,
      client_ids: JSON.stringify(consumer.clientIds),
      webhook_url: null,
      email: consumer.email,
      speaks_for: consumer.speaksFor ?? null,
      created_at: at,
      updated_at: at,
      revision: 1,
    };
    let key: ApiKeysTable | undefined;
    if (consumer.apiKey !== undefined) {
      const [prefix] = consumer.apiKey.split('.');
      // As the admin API stores an issued key: its prefix and the SHA-256 (hex) of the whole key.
      key = { id: newId('key', nowMs), consumer_id: consumer.id, prefix: prefix!, sha256: createHash('sha256').update(consumer.apiKey).digest('hex'), created_at: at, expires_at: null, revoked_at: null, replaced_by: null };
    }
    const subscriptions = consumer.subscriptions.map(({ api, plan }): SubscriptionsTable => {
      const owning = DEMO_APIS.find((a) => a.slug === api);
      if (owning === undefined) problems.push(`consumers/${consumer.id}: subscribes to unknown API "${api}"`);
      if (!DEMO_PLANS.some((p) => p.id === plan)) problems.push(`consumers/${consumer.id}: subscribes under unknown plan "${plan}"`);
      return {
        id: newId('sub', nowMs + tick++),
        consumer_id: consumer.id,
        api_slug: api,
        major: parseSemver(DEMO_VERSION)!.major,
        plan_id: plan,
        status: 'active',
        requested_by: DEMO_ACTORS.admin,
        // The API's owning team decides: its demo owner, else the admin.
        decided_by: owning?.owner ?? DEMO_ACTORS.admin,
        decided_at: at,
        comment: null,
        created_at: at,
        updated_at: at,
        revision: 2,
        revoked_by: null,
        revoked_at: null,
        revoke_comment: null,
      };
    });
    return { row, clientIds: consumer.clientIds, ...(key === undefined ? {} : { key }), subscriptions };
  });
  if (problems.length > 0) throw new DemoSeedError(problems);
  return { teams, plans, apis, consumers };
}

/** What the audit chain keeps of a version (as the versions routes record it): no contract, its fingerprint. */
const versionAudit = (row: ApiVersionsTable): Record<string, unknown> => ({
  ...versionView(row, false),
  contractSha256: createHash('sha256').update(row.contract).digest('hex'),
});

/**
 * Seeds the demo catalogue into `store` when it holds none (no team, API, plan or consumer);
 * otherwise writes nothing. Safe to call on every start, and from two processes at once (the
 * loser of a race finds the catalogue and writes nothing).
 *
 * @param options.now default `Date.now()`
 * @example
 * const store = await openStore({ sqliteFile: 'data/gatehouse.db', logger });
 * const result = await seedDemoCatalogue(store, { endpoints: { issuer, odooUrl, salesforceUrl, zendeskUrl } });
 * if (result.seeded) logger.info('demo catalogue seeded', result);
 */
export async function seedDemoCatalogue(store: Store, options: SeedOptions): Promise<SeedResult> {
  if (await holdsCatalogue(store.db)) return { seeded: false };
  const rows = prepare(options);
  const nowMs = options.now ?? Date.now();
  const dialect: Dialect = store.dialect;
  try {
    return await store.db.transaction().execute(async (trx) => {
      if (await holdsCatalogue(trx)) return { seeded: false } as const;
      let events = 0;
      const audit = async (actor: string, action: string, target: string, detail: { before?: unknown; after?: unknown; comment?: string }): Promise<void> => {
        const comment = detail.comment === undefined ? SEED_COMMENT : `${SEED_COMMENT}: ${detail.comment}`;
        await appendAudit(trx, dialect, nowMs, { actor, role: ROLE_OF[actor] ?? 'admin', action, target, before: detail.before, after: detail.after, comment });
        events++;
      };

      for (const team of rows.teams) {
        await trx.insertInto('teams').values(team).execute();
        await audit(DEMO_ACTORS.admin, 'team.create', `teams/${team.id}`, { after: teamView(team) });
      }
      for (const plan of rows.plans) {
        await trx.insertInto('plans').values(plan).execute();
        await audit(DEMO_ACTORS.admin, 'plan.create', `plans/${plan.id}`, { after: planView(plan) });
      }

      for (const { row, owner, version, reviewComment } of rows.apis) {
        await trx.insertInto('apis').values(row).execute();
        await audit(owner, 'api.create', `apis/${row.slug}`, { after: apiView(row) });
        const target = `apis/${row.slug}/versions/${version.version}`;
        await trx.insertInto('api_versions').values(version).execute();
        await audit(owner, 'version.create', target, { after: versionAudit(version) });
        // submit, approve, publish: each a transition row and an audit event, as the lifecycle routes record them.
        let current = version;
        const steps = [
          { action: 'submit', to: 'in_review', actor: owner, comment: null, change: { submitted_by: owner } },
          { action: 'approve', to: 'approved', actor: DEMO_ACTORS.reviewer, comment: reviewComment, change: { approved_by: DEMO_ACTORS.reviewer, review_comment: null } },
          { action: 'publish', to: 'published', actor: owner, comment: null, change: {} },
        ] as const;
        for (const [i, step] of steps.entries()) {
          const next: ApiVersionsTable = { ...current, ...step.change, status: step.to, revision: current.revision + 1 };
          await trx.updateTable('api_versions').set({ ...step.change, status: next.status, revision: next.revision }).where('id', '=', version.id).execute();
          await trx
            .insertInto('version_transitions')
            .values({ id: `${version.id}/${String(i + 1).padStart(6, '0')}`, version_id: version.id, from_status: current.status, to_status: step.to, actor: step.actor, comment: step.comment, at: new Date(nowMs).toISOString() })
            .execute();
          await audit(step.actor, `version.${step.action}`, target, { before: versionAudit(current), after: versionAudit(next), ...(step.comment === null ? {} : { comment: step.comment }) });
          current = next;
        }
      }

      for (const { row, clientIds, key, subscriptions } of rows.consumers) {
        await trx.insertInto('consumers').values(row).execute();
        await trx.insertInto('consumer_client_ids').values(clientIds.map((client_id) => ({ client_id, consumer_id: row.id }))).execute();
        await audit(DEMO_ACTORS.admin, 'consumer.create', `consumers/${row.id}`, { after: consumerView(row) });
        if (key !== undefined) {
          await trx.insertInto('api_keys').values(key).execute();
          await audit(DEMO_ACTORS.admin, 'credential.create', `consumers/${row.id}/credentials/${key.id}`, { after: credentialView(key), comment: 'the published demo key' });
        }
        for (const subscription of subscriptions) {
          const pending: SubscriptionsTable = { ...subscription, status: 'pending', decided_by: null, decided_at: null, revision: 1 };
          await trx.insertInto('subscriptions').values(subscription).execute();
          await audit(DEMO_ACTORS.admin, 'subscription.request', `subscriptions/${subscription.id}`, { after: subscriptionView(pending) });
          await audit(subscription.decided_by!, 'subscription.approve', `subscriptions/${subscription.id}`, { before: subscriptionView(pending), after: subscriptionView(subscription) });
        }
      }
      // The retail registry (migration 006) with the demo's enrichment grants, as POST /ownership/grants records them.
      const registry = await trx.selectFrom('ownership_registry').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
      let document = JSON.parse(registry.document) as OwnershipDocument;
      for (const [i, grant] of DEMO_GRANTS.entries()) {
        const id = `grant_demo_${i + 1}`;
        const next: OwnershipDocument = { ...document, grants: [...document.grants, { id, ...grant, fields: [...grant.fields] }] };
        await audit(DEMO_ACTORS.admin, 'ownership.grant', `ownership/grants/${id}`, { before: document, after: next });
        document = next;
      }
      await trx.updateTable('ownership_registry').set({ document: JSON.stringify(document), revision: Number(registry.revision) + DEMO_GRANTS.length, updated_at: new Date(nowMs).toISOString(), updated_by: DEMO_ACTORS.admin }).where('id', '=', 1).execute();
      return { seeded: true, apis: rows.apis.length, consumers: rows.consumers.length, auditEvents: events } as const;
    });
  } catch (error) {
    // Another process seeded the same store at the same moment: its catalogue stands.
    if (isUniqueViolation(error) && (await holdsCatalogue(store.db))) {
      options.logger?.info('demo catalogue seeded by another process', {});
      return { seeded: false };
    }
    throw error;
  }
}

/**
 * Where a stored catalogue no longer matches this run: an API whose upstream base URL is not
 * the one derived from `endpoints`, or a version whose `jwt-auth` trusts another issuer (the
 * store outlived a start with other ports). One line per mismatch; empty when all match or the
 * demo APIs are gone.
 *
 * @example
 * for (const line of await demoCatalogueDrift(store, endpoints)) logger.warn('demo catalogue drift', { detail: line });
 */
export async function demoCatalogueDrift(store: Store, endpoints: DemoEndpoints): Promise<string[]> {
  const lines: string[] = [];
  const rows = await store.db.selectFrom('apis').select(['slug', 'base_url']).where('slug', 'in', DEMO_APIS.map((a) => a.slug)).execute();
  for (const row of rows) {
    const expected = DEMO_APIS.find((a) => a.slug === row.slug)!.upstream(endpoints).baseUrl;
    if (row.base_url !== expected) lines.push(`API ${row.slug} forwards to ${row.base_url}, this run's simulator is at ${expected}`);
  }
  const versions = await store.db.selectFrom('api_versions').select(['api_slug', 'version', 'policies']).where('status', '=', 'published').where('api_slug', 'in', DEMO_APIS.map((a) => a.slug)).execute();
  for (const version of versions) {
    const bindings = JSON.parse(version.policies) as Array<{ policy: string; config: { issuers?: Array<{ issuer?: string }> } }>;
    const issuers = bindings.filter((b) => b.policy === 'jwt-auth').flatMap((b) => (b.config.issuers ?? []).map((i) => i.issuer));
    if (issuers.length > 0 && !issuers.includes(endpoints.issuer)) lines.push(`${version.api_slug} ${version.version} trusts tokens of ${issuers.join(', ')}, this run's provider is ${endpoints.issuer}`);
  }
  return lines;
}
