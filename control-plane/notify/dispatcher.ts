/**
 * @module The notification dispatcher: takes due outbox rows, delivers each (a signed webhook or
 * an email), records every attempt (outcome, status, latency, error), and retries failures with
 * exponential backoff and jitter until `giveUpAfterMs` has passed since the event, then marks
 * the row failed and says so loudly. A lease on each row (`locked_until`) keeps two control
 * plane instances from delivering the same row at once. It also schedules the sunset
 * reminders (30, 7 and 1 days before a deprecated version's sunset).
 */
import { equalJitterBackoff } from '../../contracts/index.js';
import type { Clock, Logger } from '../errors.js';
import type { ControlPlaneMetrics } from '../metrics.js';
import type { Store } from '../store/db.js';
import type { NotificationsTable } from '../store/schema.js';
import { scheduleSunsetReminders } from './events.js';
import type { NotificationPayload } from './outbox.js';

/** One delivery attempt as the senders report it. */
export interface DeliveryAttempt {
  ok: boolean;
  statusCode?: number | null;
  latencyMs: number;
  error: string | null;
}

export interface WebhookDelivery {
  send(input: { url: string; secret: string; id: string; timestamp: Date; body: string }): Promise<DeliveryAttempt>;
}

export interface EmailDelivery {
  send(input: { to: string; subject: string; text: string; headers?: Record<string, string> }): Promise<DeliveryAttempt>;
}

export interface RetryPolicy {
  /** First retry after about this long. Default 2 s. */
  baseMs: number;
  /** Longest wait between attempts. Default 15 min. */
  maxMs: number;
  /** Stop retrying this long after the event. Default 72 h. */
  giveUpAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 2_000, maxMs: 15 * 60_000, giveUpAfterMs: 72 * 3_600_000 };

export interface NotificationDispatcherOptions {
  store: Store;
  logger: Logger;
  clock: Clock;
  webhook: WebhookDelivery;
  /** Absent: no email is sent (and none is queued). */
  email?: EmailDelivery;
  retry?: Partial<RetryPolicy>;
  /** How often due rows are looked for without a nudge. Default 1000 ms. */
  pollMs?: number;
  /** Deliveries at once. Default 4. */
  concurrency?: number;
  /** How long a taken row is held. Default 60 s. */
  leaseMs?: number;
  /** Days before a sunset that reminders go out. Default [30, 7, 1]. */
  reminderDays?: readonly number[];
  /** How often reminders are scheduled. Default 60 s. */
  reminderEveryMs?: number;
  /** Jitter source (tests pin it). Default Math.random. */
  random?: () => number;
  /** Attempts and give-ups are counted here. */
  metrics?: Pick<ControlPlaneMetrics, 'notificationAttempts' | 'notificationsDead'>;
}

export interface NotificationDispatcher {
  start(): void;
  /** Something was queued: look now rather than at the next poll. */
  nudge(): void;
  /** One round: schedule reminders when due, deliver what is due. Resolves when done. */
  tick(): Promise<void>;
  close(): Promise<void>;
}

function emailOf(payload: NotificationPayload): { subject: string; text: string } {
  const { message, consumer, impacted, ...rest } = payload.data;
  const facts = Object.entries(rest)
    .filter(([, value]) => value !== null && value !== undefined && typeof value !== 'object')
    .map(([key, value]) => `${key}: ${String(value)}`);
  return {
    subject: `[Gatehouse] ${message}`,
    text: [
      `${consumer.name} (${consumer.id}),`,
      '',
      message,
      ...(impacted ? ['', 'Your traffic uses what this is about: you are impacted.'] : []),
      '',
      ...facts,
      '',
      `Event: ${payload.type} at ${payload.timestamp}`,
      '',
      'The full event as JSON:',
      JSON.stringify(payload, null, 2),
    ].join('\n'),
  };
}

/**
 * @example
 * const dispatcher = createNotificationDispatcher({ store, logger, clock, webhook: createWebhookSender({ guard }) });
 * dispatcher.start();
 * cp.deps.events.on('notifications-queued', () => dispatcher.nudge());
 * // shutdown: await dispatcher.close();
 */
export function createNotificationDispatcher(options: NotificationDispatcherOptions): NotificationDispatcher {
  const { store, logger, clock } = options;
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const pollMs = options.pollMs ?? 1000;
  const concurrency = options.concurrency ?? 4;
  const leaseMs = options.leaseMs ?? 60_000;
  const reminderDays = options.reminderDays ?? [30, 7, 1];
  const reminderEveryMs = options.reminderEveryMs ?? 60_000;
  const random = options.random ?? Math.random;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;
  let lastReminders = Number.NEGATIVE_INFINITY;

  const iso = (ms: number): string => new Date(ms).toISOString();

  /** Takes up to `limit` due rows, each under a lease. */
  async function claim(limit: number): Promise<NotificationsTable[]> {
    const nowMs = clock.now();
    const now = iso(nowMs);
    const due = await store.db
      .selectFrom('notifications')
      .selectAll()
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    const taken: NotificationsTable[] = [];
    for (const row of due) {
      const result = await store.db
        .updateTable('notifications')
        .set({ locked_until: iso(nowMs + leaseMs) })
        .where('id', '=', row.id)
        .where('status', '=', 'pending')
        .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
        .executeTakeFirst();
      if (result.numUpdatedRows === 1n) taken.push(row);
    }
    return taken;
  }

  async function attempt(row: NotificationsTable): Promise<DeliveryAttempt> {
    if (row.channel === 'webhook') {
      const consumer = await store.db.selectFrom('consumers').select(['webhook_secret']).where('id', '=', row.consumer_id).executeTakeFirst();
      const secret = consumer?.webhook_secret ?? null;
      if (secret === null) return { ok: false, statusCode: null, latencyMs: 0, error: 'the consumer has no webhook secret (its webhook was removed)' };
      return options.webhook.send({ url: row.target, secret, id: row.id, timestamp: new Date(clock.now()), body: row.payload });
    }
    if (options.email === undefined) return { ok: false, statusCode: null, latencyMs: 0, error: 'no SMTP server is configured' };
    const { subject, text } = emailOf(JSON.parse(row.payload) as NotificationPayload);
    return options.email.send({ to: row.target, subject, text, headers: { 'X-Gatehouse-Notification': row.id, 'X-Gatehouse-Event': row.type } });
  }

  async function deliver(row: NotificationsTable): Promise<void> {
    let result: DeliveryAttempt;
    try {
      result = await attempt(row);
    } catch (error) {
      result = { ok: false, statusCode: null, latencyMs: 0, error: `delivery failed: ${(error as Error).message}`.slice(0, 300) };
    }
    const nowMs = clock.now();
    const n = Number(row.attempts) + 1;
    const gaveUp = !result.ok && nowMs + equalJitterBackoff(n, retry.baseMs, retry.maxMs, () => 0) - Date.parse(row.created_at) > retry.giveUpAfterMs;
    await store.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('notification_attempts')
        .values({
          id: `${row.id}/${String(n).padStart(4, '0')}`,
          notification_id: row.id,
          attempt: n,
          at: iso(nowMs),
          outcome: result.ok ? 'delivered' : 'failed',
          status_code: result.statusCode ?? null,
          latency_ms: Math.round(result.latencyMs),
          error: result.error,
        })
        .execute();
      await trx
        .updateTable('notifications')
        .set({
          attempts: n,
          locked_until: null,
          last_error: result.ok ? null : result.error,
          status: result.ok ? 'delivered' : gaveUp ? 'failed' : 'pending',
          delivered_at: result.ok ? iso(nowMs) : null,
          next_attempt_at: result.ok || gaveUp ? row.next_attempt_at : iso(nowMs + equalJitterBackoff(n, retry.baseMs, retry.maxMs, random)),
        })
        .where('id', '=', row.id)
        .execute();
    });
    options.metrics?.notificationAttempts.inc({ channel: row.channel, outcome: result.ok ? 'delivered' : 'failed' });
    if (gaveUp) options.metrics?.notificationsDead.inc({ channel: row.channel });
    const meta = { notification: row.id, type: row.type, consumer: row.consumer_id, channel: row.channel, attempt: n, statusCode: result.statusCode ?? null, latencyMs: Math.round(result.latencyMs), error: result.error };
    if (result.ok) logger.info('notification delivered', meta);
    else if (gaveUp) logger.error('notification undeliverable: gave up retrying', { ...meta, giveUpAfterMs: retry.giveUpAfterMs });
    else logger.warn('notification delivery failed; will retry', meta);
  }

  async function round(): Promise<void> {
    if (clock.now() - lastReminders >= reminderEveryMs) {
      lastReminders = clock.now();
      try {
        await scheduleSunsetReminders(store, clock.now(), { days: reminderDays, email: options.email !== undefined });
      } catch (error) {
        logger.error('sunset reminders could not be scheduled', { error: (error as Error).message });
      }
    }
    for (;;) {
      const rows = await claim(concurrency * 4);
      if (rows.length === 0) return;
      // Rows run `concurrency` at a time; a slow receiver holds only its own slot.
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < rows.length && !closed) await deliver(rows[next++]!);
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, rows.length) }, worker));
      if (closed) return;
    }
  }

  function tick(): Promise<void> {
    if (running !== undefined) {
      again = true;
      return running;
    }
    running = round()
      .catch((error: unknown) => logger.error('notification dispatch round failed', { error: (error as Error).message }))
      .finally(() => {
        running = undefined;
        if (again && !closed) {
          again = false;
          void tick();
        }
      });
    return running;
  }

  function schedule(): void {
    if (closed) return;
    timer = setTimeout(() => {
      void tick().finally(schedule);
    }, pollMs);
    timer.unref();
  }

  return {
    start() {
      void tick();
      schedule();
    },
    nudge() {
      if (!closed) void tick();
    },
    tick,
    async close() {
      closed = true;
      clearTimeout(timer);
      await running;
    },
  };
}
