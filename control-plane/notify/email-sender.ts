/**
 * @module One e-mail delivery attempt through an SMTP relay (nodemailer, configured by an
 * `smtp://` or `smtps://` URL such as `SMTP_URL`). Failures come back as short strings with
 * the URL's password removed, never as exceptions.
 */
import { createTransport } from 'nodemailer';
import type { Clock } from '../../contracts/index.js';
import { NotifyConfigError } from './url-guard.js';

export interface EmailSenderOptions {
  /** `smtp://user:pass@relay.example:587` (STARTTLS when offered) or `smtps://…:465`. */
  url: string;
  /** The From address, e.g. `Gatehouse <notifications@gatehouse.example>`. */
  from: string;
  /** Connection, greeting, socket and whole-send deadline. Default 10000. */
  timeoutMs?: number;
  /** Measures latency. Default `Date`. */
  clock?: Clock;
}

export interface EmailMessage {
  /** One address. */
  to: string;
  subject: string;
  text: string;
  /** Extra headers (e.g. `List-Unsubscribe`); address, subject and MIME headers cannot be set here. */
  headers?: Record<string, string>;
}

export interface EmailResult {
  ok: boolean;
  latencyMs: number;
  /** Short, safe description of the failure (the SMTP password is removed). */
  error: string | null;
  messageId?: string;
}

export interface EmailSender {
  /** Never rejects for a delivery failure. */
  send(message: EmailMessage): Promise<EmailResult>;
  /** Closes pooled connections (with `?pool=true` in the URL). */
  close(): void;
}

const MAX_ERROR_CHARS = 200;

/** Headers whose values nodemailer derives from the message fields; overriding them would forge or break the mail. */
const RESERVED_HEADERS = new Set([
  'from', 'to', 'cc', 'bcc', 'sender', 'reply-to', 'return-path', 'subject', 'date', 'message-id',
  'mime-version', 'content-type', 'content-transfer-encoding',
]);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i;
const SINGLE_ADDRESS = /^[^\s@,;<>"()[\]\\]+@[^\s@,;<>"()[\]\\]+$/;
const LINE_BREAK = /[\r\n]/;

/** The password as written in the URL and decoded, longest first, so both are removed. */
function secretsOf(url: URL): string[] {
  const secrets = new Set<string>();
  if (url.password !== '') {
    secrets.add(url.password);
    try {
      secrets.add(decodeURIComponent(url.password));
    } catch {
      // Malformed %-escape: only the raw form can appear.
    }
  }
  return [...secrets].sort((a, b) => b.length - a.length);
}

function invalidMessage(message: EmailMessage): string | null {
  if (!SINGLE_ADDRESS.test(message.to)) return 'invalid message: "to" must be one e-mail address';
  if (LINE_BREAK.test(message.subject)) return 'invalid message: the subject contains a line break';
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (!HEADER_NAME.test(name) || RESERVED_HEADERS.has(name.toLowerCase())) return `invalid message: header "${name.slice(0, 40)}" cannot be set`;
    if (LINE_BREAK.test(value)) return `invalid message: header "${name}" contains a line break`;
  }
  return null;
}

/**
 * Builds the e-mail sender. Throws `NotifyConfigError` when the URL is not an `smtp:` or
 * `smtps:` URL (the message never contains the URL's password).
 *
 * @param options.url the relay, e.g. `process.env.SMTP_URL` (read in main.ts, not here)
 * @param options.from the From address
 * @param options.timeoutMs default 10000
 * @param options.clock default `Date`
 * @example
 * const mail = createEmailSender({ url: env.SMTP_URL, from: 'Gatehouse <notifications@gatehouse.example>' });
 * const result = await mail.send({ to: consumer.contactEmail, subject: 'erp-sales 1.x is deprecated', text });
 * if (!result.ok) logger.warn('e-mail delivery failed', { notification: notification.id, error: result.error });
 */
export function createEmailSender(options: EmailSenderOptions): EmailSender {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new NotifyConfigError('the SMTP URL is not a valid URL');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new NotifyConfigError(`the SMTP URL must use smtp: or smtps:, not ${url.protocol}`);
  const secrets = secretsOf(url);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const clock = options.clock ?? Date;

  // SMTP replies are quoted in nodemailer's errors and a server may echo what it was sent.
  function safeError(error: unknown): string {
    const { code, message } = error as { code?: string; message?: string };
    let text = code === undefined ? String(message ?? error) : `${code}: ${message ?? ''}`;
    for (const secret of secrets) text = text.split(secret).join('***');
    text = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
    return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 1)}…` : text;
  }

  const transport = createTransport({
    url: options.url,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
    // nodemailer's own logging could print the AUTH exchange.
    logger: false,
    debug: false,
  });

  return {
    send: async function sendEmail(message: EmailMessage): Promise<EmailResult> {
      const started = clock.now();
      const latency = (): number => Math.max(0, clock.now() - started);
      const invalid = invalidMessage(message);
      if (invalid !== null) return { ok: false, latencyMs: 0, error: invalid };
      try {
        const info = await transport.sendMail({
          from: options.from,
          to: message.to,
          subject: message.subject,
          text: message.text,
          ...(message.headers === undefined ? {} : { headers: message.headers }),
          // The per-phase timeouts above do not bound a server that trickles its replies.
          signal: AbortSignal.timeout(timeoutMs),
        });
        return { ok: true, latencyMs: latency(), error: null, messageId: info.messageId };
      } catch (error) {
        return { ok: false, latencyMs: latency(), error: safeError(error) };
      }
    },
    close: function closeEmailSender(): void {
      transport.close();
    },
  };
}
