/**
 * @module The notification outbox: events are written in the same transaction as the change
 * that causes them (a version deprecated, a subscription approved), one row per recipient and
 * channel, so a notification exists exactly when its change committed. The dispatcher delivers
 * them afterwards (control-plane/notify/dispatcher.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Database, NotificationsTable } from '../store/schema.js';

/** What consumers are told about, named as in the webhook payload's `type`. */
export const NOTIFICATION_TYPES = [
  'version.published',
  'version.breaking_change_ahead',
  'version.deprecated',
  'version.sunset_reminder',
  'version.retired',
  'subscription.approved',
  'subscription.rejected',
  'subscription.revoked',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export const NOTIFICATION_STATUSES = ['pending', 'delivered', 'failed'] as const;

export interface NotificationRecipient {
  consumerId: string;
  /** The consumer called what the event is about (from the access records). */
  impacted: boolean;
  /** Recipient-specific data (e.g. the calls that make it impacted). */
  detail?: Record<string, unknown>;
}

export interface NotificationEvent {
  type: NotificationType;
  api?: string;
  version?: string;
  /** One human sentence: the email subject and the payload's `message`. */
  message: string;
  /** The same for every recipient. */
  data: Record<string, unknown>;
  recipients: readonly NotificationRecipient[];
  /**
   * Scheduled events (sunset reminders): at most one row per key, recipient and channel, so a
   * scheduler that runs twice sends once.
   */
  dedupeKey?: string;
}

/** The body every channel carries: the Standard Webhooks payload shape. */
export interface NotificationPayload {
  type: NotificationType;
  timestamp: string;
  data: Record<string, unknown> & { message: string; consumer: { id: string; name: string }; impacted: boolean };
}

export interface OutboxChannels {
  /** Email rows are written only when an SMTP server is configured. */
  email: boolean;
}

/**
 * Writes the event's deliveries inside `trx`; recipients without a webhook URL or email get
 * none. Returns the number of rows written.
 *
 * @example
 * await mutate(store, clock, res, async ({ trx, audit }) => {
 *   // … the change and its audit event …
 *   await enqueueNotification(trx, clock.now(), { type: 'subscription.approved', message, data, recipients: [{ consumerId, impacted: false }] }, { email: true });
 * }, () => deps.notificationsQueued());
 */
export async function enqueueNotification(trx: Transaction<Database>, nowMs: number, event: NotificationEvent, channels: OutboxChannels): Promise<number> {
  const ids = [...new Set(event.recipients.map((r) => r.consumerId))];
  if (ids.length === 0) return 0;
  const consumers = await trx.selectFrom('consumers').select(['id', 'name', 'webhook_url', 'email']).where('id', 'in', ids).execute();
  const byId = new Map(consumers.map((c) => [c.id, c]));
  const now = new Date(nowMs).toISOString();
  const eventId = randomUUID();
  let written = 0;
  const seen = new Set<string>();
  for (const recipient of event.recipients) {
    const consumer = byId.get(recipient.consumerId);
    if (consumer === undefined || seen.has(consumer.id)) continue;
    seen.add(consumer.id);
    const payload: NotificationPayload = {
      type: event.type,
      timestamp: now,
      data: { message: event.message, ...event.data, ...recipient.detail, consumer: { id: consumer.id, name: consumer.name }, impacted: recipient.impacted },
    };
    const targets: [NotificationsTable['channel'], string | null][] = [
      ['webhook', consumer.webhook_url],
      ['email', channels.email ? consumer.email : null],
    ];
    for (const [channel, target] of targets) {
      if (target === null) continue;
      const row: NotificationsTable = {
        // The Standard Webhooks message id: the same on every retry, so receivers dedupe.
        id: `msg_${randomUUID().replace(/-/g, '')}`,
        event_id: eventId,
        type: event.type,
        api: event.api ?? null,
        version: event.version ?? null,
        consumer_id: consumer.id,
        channel,
        target,
        payload: JSON.stringify(payload),
        impacted: recipient.impacted ? 1 : 0,
        status: 'pending',
        attempts: 0,
        next_attempt_at: now,
        locked_until: null,
        created_at: now,
        delivered_at: null,
        last_error: null,
        dedupe_key: event.dedupeKey === undefined ? null : `${event.dedupeKey}:${consumer.id}:${channel}`,
      };
      const result = await trx.insertInto('notifications').values(row).onConflict((oc) => oc.column('dedupe_key').doNothing()).executeTakeFirst();
      written += Number(result.numInsertedOrUpdatedRows ?? 0n);
    }
  }
  return written;
}

/**
 * Consumers with an active subscription to the API, optionally only to some majors.
 *
 * @example
 * const ids = await activeSubscribers(trx, 'erp-orders', (major) => major === 1);
 */
export async function activeSubscribers(trx: Transaction<Database>, api: string, majors?: (major: number) => boolean): Promise<string[]> {
  const rows = await trx.selectFrom('subscriptions').select(['consumer_id', 'major']).where('api_slug', '=', api).where('status', '=', 'active').execute();
  return [...new Set(rows.filter((row) => majors === undefined || majors(Number(row.major))).map((row) => row.consumer_id))].sort();
}
