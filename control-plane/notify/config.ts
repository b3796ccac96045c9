/**
 * @module Notification settings of a control plane, and how they are read from the
 * environment: `NOTIFY_SMTP_URL` + `NOTIFY_EMAIL_FROM` (email, off when unset),
 * `NOTIFY_WEBHOOK_ALLOW_LOOPBACK` (`true` lets webhooks reach this machine, as in tests and
 * the demo), `NOTIFY_WEBHOOK_ALLOW_LIST` (comma-separated CIDRs or host names allowed although
 * private), `NOTIFY_RETRY_BASE_MS` / `NOTIFY_RETRY_MAX_MS` / `NOTIFY_GIVE_UP_AFTER_HOURS`.
 */
import type { EventEmitter } from 'node:events';
import type { ControlPlaneEvents } from '../app.js';
import type { ControlPlaneMetrics } from '../metrics.js';
import type { Clock, Logger } from '../errors.js';
import type { Store } from '../store/db.js';
import { createNotificationDispatcher, type NotificationDispatcher, type RetryPolicy } from './dispatcher.js';
import { createEmailSender } from './email-sender.js';
import { createUrlGuard, NotifyConfigError } from './url-guard.js';
import { createWebhookSender } from './webhook-sender.js';

export interface NotificationSettings {
  webhook: { allowLoopback: boolean; allowList: string[]; timeoutMs?: number };
  smtp?: { url: string; from: string };
  retry?: Partial<RetryPolicy>;
  pollMs?: number;
  reminderDays?: number[];
}

const flag = (value: string | undefined, name: string): boolean => {
  if (value === undefined || value === '') return false;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new NotifyConfigError(`${name} must be true or false`);
};

const positive = (value: string | undefined, name: string): number | undefined => {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new NotifyConfigError(`${name} must be a positive number`);
  return n;
};

/**
 * @param defaults what the caller's setting is when the environment says nothing (the demo allows loopback)
 * @example
 * const notifications = notificationSettingsFromEnv(process.env);
 * await startControlPlaneServer({ store, logger, port: 4000, auth, notifications });
 */
export function notificationSettingsFromEnv(env: NodeJS.ProcessEnv, defaults: { allowLoopback?: boolean } = {}): NotificationSettings {
  const smtpUrl = env.NOTIFY_SMTP_URL;
  const from = env.NOTIFY_EMAIL_FROM;
  if ((smtpUrl ?? '') !== '' && (from ?? '') === '') throw new NotifyConfigError('NOTIFY_EMAIL_FROM is needed with NOTIFY_SMTP_URL');
  const baseMs = positive(env.NOTIFY_RETRY_BASE_MS, 'NOTIFY_RETRY_BASE_MS');
  const maxMs = positive(env.NOTIFY_RETRY_MAX_MS, 'NOTIFY_RETRY_MAX_MS');
  const giveUpHours = positive(env.NOTIFY_GIVE_UP_AFTER_HOURS, 'NOTIFY_GIVE_UP_AFTER_HOURS');
  return {
    webhook: {
      allowLoopback: env.NOTIFY_WEBHOOK_ALLOW_LOOPBACK === undefined || env.NOTIFY_WEBHOOK_ALLOW_LOOPBACK === '' ? (defaults.allowLoopback ?? false) : flag(env.NOTIFY_WEBHOOK_ALLOW_LOOPBACK, 'NOTIFY_WEBHOOK_ALLOW_LOOPBACK'),
      allowList: (env.NOTIFY_WEBHOOK_ALLOW_LIST ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry !== ''),
    },
    ...(smtpUrl === undefined || smtpUrl === '' ? {} : { smtp: { url: smtpUrl, from: from! } }),
    retry: { ...(baseMs === undefined ? {} : { baseMs }), ...(maxMs === undefined ? {} : { maxMs }), ...(giveUpHours === undefined ? {} : { giveUpAfterMs: giveUpHours * 3_600_000 }) },
  };
}

export interface NotificationService {
  /** For `createControlPlane({ notifications })`. */
  controlPlaneOptions: { email: boolean; checkWebhookUrl: (url: string) => { ok: true } | { ok: false; reason: string } };
  dispatcher: NotificationDispatcher;
  /** Starts the dispatcher and lets the control plane nudge it after each commit. */
  attach(events: EventEmitter<ControlPlaneEvents>): void;
  close(): Promise<void>;
}

/**
 * The URL guard, the senders and the dispatcher of one control plane, built from settings.
 *
 * @example
 * const notify = createNotificationService(settings, { store, logger, clock });
 * const cp = createControlPlane({ ...options, notifications: notify.controlPlaneOptions });
 * notify.attach(cp.deps.events);
 * // shutdown: await notify.close();
 */
export function createNotificationService(settings: NotificationSettings, deps: { store: Store; logger: Logger; clock: Clock; metrics?: ControlPlaneMetrics }): NotificationService {
  const guard = createUrlGuard({ allowLoopback: settings.webhook.allowLoopback, allowList: settings.webhook.allowList });
  const email = settings.smtp === undefined ? undefined : createEmailSender(settings.smtp);
  const dispatcher = createNotificationDispatcher({
    ...deps,
    webhook: createWebhookSender({ guard, ...(settings.webhook.timeoutMs === undefined ? {} : { timeoutMs: settings.webhook.timeoutMs }) }),
    ...(email === undefined ? {} : { email }),
    ...(settings.retry === undefined ? {} : { retry: settings.retry }),
    ...(settings.pollMs === undefined ? {} : { pollMs: settings.pollMs }),
    ...(settings.reminderDays === undefined ? {} : { reminderDays: settings.reminderDays }),
  });
  return {
    controlPlaneOptions: { email: email !== undefined, checkWebhookUrl: (url) => guard.checkUrl(url) },
    dispatcher,
    attach(events) {
      events.on('notifications-queued', () => dispatcher.nudge());
      dispatcher.start();
    },
    async close() {
      await dispatcher.close();
      email?.close();
    },
  };
}
