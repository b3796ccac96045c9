/**
 * @module One webhook delivery attempt: a POST signed per the Standard Webhooks spec
 * (https://www.standardwebhooks.com, `webhook-id` / `webhook-timestamp` / `webhook-signature`),
 * sent with node:http(s) through the URL guard's lookup so the address that was checked is the
 * address connected to. Redirects are never followed, the response body is read up to a cap and
 * dropped, and every failure comes back as a short, safe string rather than an exception.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Webhook } from 'standardwebhooks';
import type { Clock } from '../../contracts/index.js';
import { SSRF_BLOCKED, type UrlGuard } from './url-guard.js';

export interface WebhookDelivery {
  url: string;
  /** `whsec_` + base64 (see `generateWebhookSecret`). */
  secret: string;
  /** Message id, the same on every retry of one message (the receiver's idempotency key). */
  id: string;
  /** When this attempt is made (signed; receivers reject stale timestamps). */
  timestamp: Date;
  /** The JSON payload, sent and signed byte for byte. */
  body: string;
}

export interface WebhookAttempt {
  /** True only for a 2xx answer. */
  ok: boolean;
  /** The receiver's status, or null when none arrived. */
  statusCode: number | null;
  latencyMs: number;
  /** Short, safe description of the failure (never the secret nor the response body). */
  error: string | null;
}

export interface WebhookSenderOptions {
  guard: UrlGuard;
  /** Whole attempt deadline: connect, request and response. Default 10000. */
  timeoutMs?: number;
  /** Default `Gatehouse-Webhooks/1`. */
  userAgent?: string;
  /** Response body bytes read (then dropped) before the connection is closed. Default 65536. */
  maxResponseBytes?: number;
  /** Measures latency. Default `Date`. */
  clock?: Clock;
}

export interface WebhookSender {
  /** Never rejects for a delivery failure: the attempt says what happened. */
  send(delivery: WebhookDelivery): Promise<WebhookAttempt>;
}

const MAX_ERROR_CHARS = 200;

/** A new signing secret: `whsec_` + base64 of 32 random bytes (Standard Webhooks: 24 to 64 bytes). */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** Single line, bounded: safe to store in `last_error` and show to the consumer. */
function safeText(text: string): string {
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return line.length > MAX_ERROR_CHARS ? `${line.slice(0, MAX_ERROR_CHARS - 1)}…` : line;
}

function describeError(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  switch (code) {
    case SSRF_BLOCKED:
      return safeText(message);
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset by the receiver';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    default:
      return safeText(code === undefined ? String(message) : `${code}: ${message}`);
  }
}

function statusError(res: IncomingMessage): string | null {
  const status = res.statusCode ?? 0;
  if (status >= 200 && status < 300) return null;
  if (status >= 300 && status < 400) return `redirect not followed (HTTP ${status})`;
  return safeText(`HTTP ${status} ${res.statusMessage ?? ''}`);
}

/**
 * Builds the webhook sender.
 *
 * @param options.guard the URL guard (checks the URL and supplies the connect-time lookup)
 * @param options.timeoutMs default 10000
 * @param options.userAgent default `'Gatehouse-Webhooks/1'`
 * @param options.maxResponseBytes default 65536
 * @param options.clock default `Date`
 * @example
 * const sender = createWebhookSender({ guard: createUrlGuard(), timeoutMs: 5000 });
 * const attempt = await sender.send({ url: consumer.webhookUrl, secret: consumer.webhookSecret, id: notification.id, timestamp: new Date(clock.now()), body: notification.payload });
 * if (!attempt.ok) logger.warn('webhook delivery failed', { notification: notification.id, status: attempt.statusCode, error: attempt.error });
 */
export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const { guard } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const userAgent = options.userAgent ?? 'Gatehouse-Webhooks/1';
  const maxResponseBytes = options.maxResponseBytes ?? 64 * 1024;
  const clock = options.clock ?? Date;

  return {
    send: function sendWebhook(delivery: WebhookDelivery): Promise<WebhookAttempt> {
      const started = clock.now();
      const attempt = (statusCode: number | null, error: string | null): WebhookAttempt => ({
        ok: error === null && statusCode !== null,
        statusCode,
        latencyMs: Math.max(0, clock.now() - started),
        error,
      });

      // Checked again at send time: the guard's rules may be stricter than when the URL was stored.
      const check = guard.checkUrl(delivery.url);
      if (!check.ok) return Promise.resolve(attempt(null, `refused: ${check.reason}`));

      let signature: string;
      try {
        signature = new Webhook(delivery.secret).sign(delivery.id, delivery.timestamp, delivery.body);
      } catch {
        // The library's message may quote the secret's characters.
        return Promise.resolve(attempt(null, 'invalid signing secret'));
      }

      const url = new URL(delivery.url);
      const body = Buffer.from(delivery.body, 'utf8');
      const headers = {
        'content-type': 'application/json',
        'content-length': String(body.length),
        'user-agent': userAgent,
        'webhook-id': delivery.id,
        'webhook-timestamp': String(Math.floor(delivery.timestamp.getTime() / 1000)),
        'webhook-signature': signature,
      };

      return new Promise<WebhookAttempt>((resolve) => {
        let req: ClientRequest | undefined;
        let statusCode: number | null = null;
        let verdict: string | null = null;
        let settled = false;
        const finish = (result: WebhookAttempt): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          req?.destroy();
          resolve(result);
        };
        // One deadline for the whole attempt (a socket timeout would only catch idle periods).
        const timer = setTimeout(() => {
          // Once the status is in, the verdict stands; a slow body only stops being read.
          if (statusCode !== null) finish(attempt(statusCode, verdict));
          else finish(attempt(null, `timeout after ${timeoutMs} ms`));
        }, timeoutMs);

        try {
          const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
          // agent: false — a pooled socket might have been opened without the guard's lookup.
          req = send(url, { method: 'POST', headers, lookup: guard.lookup, agent: false });
        } catch (error) {
          // e.g. ERR_INVALID_CHAR for a message id that is not a valid header value.
          finish(attempt(null, describeError(error)));
          return;
        }
        req.on('error', (error) => {
          if (statusCode !== null) finish(attempt(statusCode, verdict));
          else finish(attempt(null, describeError(error)));
        });
        req.on('response', (res) => {
          statusCode = res.statusCode ?? null;
          verdict = statusError(res);
          let received = 0;
          const done = (): void => finish(attempt(statusCode, verdict));
          res.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (received >= maxResponseBytes) done();
          });
          res.on('end', done);
          // 'close' also covers a receiver that hangs up mid-body.
          res.on('close', done);
        });
        req.end(body);
      });
    },
  };
}
