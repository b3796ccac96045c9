/**
 * @module Which consumers hear about what: the notification events of version lifecycle
 * actions and subscription decisions, queued in the caller's transaction, and the sunset
 * reminders the dispatcher schedules. Consumers whose traffic (from the gateways' access
 * records) uses what an event is about are marked impacted; they are told even when their
 * subscription is no longer active.
 */
import type { Transaction } from 'kysely';
import type { Store } from '../store/db.js';
import type { ApiVersionsTable, Database, SubscriptionsTable } from '../store/schema.js';
import { majorVersions, trafficImpact, type ConsumerImpact, type ImpactReport } from '../access/impact.js';
import { activeSubscribers, enqueueNotification, type NotificationRecipient, type OutboxChannels } from './outbox.js';

/** What the version routes know of traffic when they queue an event. */
export type VersionImpact = Pick<ImpactReport, 'usage' | 'breaking'>;

const majorOf = (version: string): number => Number(version.split('.')[0]);

/** The explicit successor, else the nearest higher published major (as the gateway's Link says). */
async function successorOf(trx: Transaction<Database>, row: ApiVersionsTable): Promise<string | null> {
  if (row.successor != null) return row.successor;
  const published = await trx.selectFrom('api_versions').select(['version', 'major']).where('api_slug', '=', row.api_slug).where('status', '=', 'published').where('major', '>', row.major).execute();
  published.sort((a, b) => Number(a.major) - Number(b.major));
  return published[0]?.version ?? null;
}

/** Subscribers and callers together; callers are impacted, with the operations they called. */
function recipientsOf(subscribers: readonly string[], callers: readonly ConsumerImpact[]): NotificationRecipient[] {
  const byId = new Map<string, NotificationRecipient>(subscribers.map((id) => [id, { consumerId: id, impacted: false }]));
  for (const caller of callers) {
    byId.set(caller.consumer, { consumerId: caller.consumer, impacted: true, detail: { usage: { calls: caller.calls, lastSeen: caller.lastSeen, operations: caller.operations } } });
  }
  return [...byId.values()];
}

/**
 * Queues what a lifecycle action tells consumers: `publish` → version.published (subscribers of
 * this and earlier majors); `approve` of a new major that breaks the published one →
 * version.breaking_change_ahead; `deprecate` → version.deprecated (sunset, successor);
 * `retire` → version.retired. Other actions tell no one.
 *
 * @example
 * await queueVersionEvent(trx, clock.now(), { email: false }, { action: 'deprecate', version: row, impact });
 */
export async function queueVersionEvent(
  trx: Transaction<Database>,
  nowMs: number,
  channels: OutboxChannels,
  input: { action: string; version: ApiVersionsTable; impact?: VersionImpact },
): Promise<number> {
  const { action, version: row, impact } = input;
  const api = row.api_slug;
  const base = { api, version: row.version, major: row.major };
  if (action === 'publish') {
    const subscribers = await activeSubscribers(trx, api, (major) => major <= row.major);
    return enqueueNotification(trx, nowMs, {
      type: 'version.published',
      api,
      version: row.version,
      message: `${api} ${row.version} is published`,
      data: base,
      recipients: subscribers.map((consumerId) => ({ consumerId, impacted: false })),
    }, channels);
  }
  if (action === 'approve') {
    const breaking = impact?.breaking;
    if (breaking == null || breaking.changes.length === 0 || majorOf(breaking.against) === row.major) return 0;
    const subscribers = await activeSubscribers(trx, api, (major) => major === majorOf(breaking.against));
    return enqueueNotification(trx, nowMs, {
      type: 'version.breaking_change_ahead',
      api,
      version: row.version,
      message: `${api} ${row.version} is approved and breaks ${breaking.against} (${breaking.changes.length} breaking change${breaking.changes.length === 1 ? '' : 's'})`,
      data: { ...base, against: breaking.against, changes: breaking.changes.map(({ rule, location, operationId, message, operations }) => ({ rule, location, ...(operationId === undefined ? {} : { operationId }), message, operations })) },
      recipients: recipientsOf(subscribers, breaking.consumers),
    }, channels);
  }
  if (action === 'deprecate' || action === 'retire') {
    const subscribers = await activeSubscribers(trx, api, (major) => major === row.major);
    const successor = await successorOf(trx, row);
    const deprecated = action === 'deprecate';
    return enqueueNotification(trx, nowMs, {
      type: deprecated ? 'version.deprecated' : 'version.retired',
      api,
      version: row.version,
      message: deprecated
        ? `${api} ${row.version} is deprecated${row.sunset === null ? '' : `; it sunsets on ${row.sunset}`}${successor === null ? '' : `; move to ${successor}`}`
        : `${api} ${row.version} is retired: calls to it are refused (410)${successor === null ? '' : `; move to ${successor}`}`,
      data: { ...base, sunset: row.sunset, successor },
      recipients: recipientsOf(subscribers, impact?.usage.consumers ?? []),
    }, channels);
  }
  return 0;
}

/**
 * Queues the consumer's notice of a subscription decision (approved, rejected, revoked).
 *
 * @example
 * await queueSubscriptionEvent(trx, clock.now(), { email: true }, 'approve', next);
 */
export async function queueSubscriptionEvent(trx: Transaction<Database>, nowMs: number, channels: OutboxChannels, action: 'approve' | 'reject' | 'revoke', row: SubscriptionsTable): Promise<number> {
  const type = action === 'approve' ? 'subscription.approved' : action === 'reject' ? 'subscription.rejected' : 'subscription.revoked';
  const comment = action === 'revoke' ? row.revoke_comment : row.comment;
  const verb = action === 'approve' ? 'approved' : action === 'reject' ? 'rejected' : 'revoked';
  return enqueueNotification(trx, nowMs, {
    type,
    api: row.api_slug,
    message: `The subscription of ${row.consumer_id} to ${row.api_slug} v${row.major} is ${verb}${comment === null ? '' : `: ${comment}`}`,
    data: { subscription: row.id, api: row.api_slug, major: row.major, plan: row.plan_id, status: row.status, comment },
    recipients: [{ consumerId: row.consumer_id, impacted: false }],
  }, channels);
}

const DAY_MS = 86_400_000;

/**
 * Queues the sunset reminders that are due: for each deprecated version with a sunset ahead,
 * the smallest of `days` that the sunset is within — unless the version was deprecated inside
 * that window already (its deprecation notice said as much). Each reminder goes out once per
 * version, day count, consumer and channel, however often this runs.
 *
 * @example
 * await scheduleSunsetReminders(store, clock.now(), { days: [30, 7, 1], email: false });
 */
export async function scheduleSunsetReminders(store: Store, nowMs: number, options: { days: readonly number[]; email: boolean; lookBackDays?: number }): Promise<number> {
  const now = new Date(nowMs).toISOString();
  const versions = await store.db.selectFrom('api_versions').selectAll().where('status', '=', 'deprecated').where('sunset', 'is not', null).where('sunset', '>', now).execute();
  const days = [...options.days].sort((a, b) => a - b);
  let queued = 0;
  for (const row of versions) {
    const sunsetMs = Date.parse(row.sunset!);
    const due = days.find((d) => sunsetMs - nowMs <= d * DAY_MS);
    if (due === undefined) continue;
    const deprecatedAt = await store.db.selectFrom('version_transitions').select('at').where('version_id', '=', row.id).where('to_status', '=', 'deprecated').orderBy('at', 'desc').executeTakeFirst();
    if (deprecatedAt !== undefined && Date.parse(deprecatedAt.at) > sunsetMs - due * DAY_MS) continue;
    const callers = await trafficImpact(store.db, { api: row.api_slug, versions: await majorVersions(store.db, row.api_slug, row.major), since: new Date(nowMs - (options.lookBackDays ?? 30) * DAY_MS).toISOString() });
    queued += await store.db.transaction().execute(async (trx) => {
      const subscribers = await activeSubscribers(trx, row.api_slug, (major) => major === row.major);
      const successor = await successorOf(trx, row);
      return enqueueNotification(trx, nowMs, {
        type: 'version.sunset_reminder',
        api: row.api_slug,
        version: row.version,
        message: `${row.api_slug} ${row.version} sunsets in ${due} day${due === 1 ? '' : 's'} (${row.sunset})${successor === null ? '' : `; move to ${successor}`}`,
        data: { api: row.api_slug, version: row.version, major: row.major, sunset: row.sunset, successor, daysLeft: due },
        recipients: recipientsOf(subscribers, callers),
        dedupeKey: `sunset-reminder:${row.id}:${due}`,
      }, { email: options.email });
    });
  }
  return queued;
}
