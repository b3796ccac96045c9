/**
 * @module Where notifications land in tests: a webhook receiver on 127.0.0.1 that records every
 * request and answers as told, and a local SMTP server (smtp-server) that keeps every message
 * (its options can be overridden, e.g. to refuse or echo).
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { SMTPServer } from 'smtp-server';

export interface ReceivedHook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedHook[];
  /** The status of the next answers, per path (default 204). */
  answer: (path: string, nth: number) => number;
  /** Resolves once `count` requests arrived on `path` (or throws after `timeoutMs`). */
  waitFor(path: string, count: number, timeoutMs?: number): Promise<ReceivedHook[]>;
}

/**
 * @example
 * const hooks = await startWebhookReceiver(t);
 * hooks.answer = (_path, nth) => (nth <= 3 ? 500 : 204);
 */
export async function startWebhookReceiver(t: TestContext): Promise<WebhookReceiver> {
  const received: ReceivedHook[] = [];
  const counts = new Map<string, number>();
  const waiters: (() => void)[] = [];
  const receiver: WebhookReceiver = {
    url: '',
    received,
    answer: () => 204,
    async waitFor(path, count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hits = received.filter((hook) => hook.path === path);
        if (hits.length >= count) return hits;
        if (Date.now() > deadline) throw new Error(`${path}: ${hits.length} of ${count} webhook requests arrived within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      const nth = (counts.get(path) ?? 0) + 1;
      counts.set(path, nth);
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(receiver.answer(path, nth)).end();
      for (const wake of waiters.splice(0)) wake();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return receiver;
}

export interface SmtpReceiver {
  url: string;
  port: number;
  messages: Buffer[];
  waitFor(count: number, timeoutMs?: number): Promise<Buffer[]>;
}

/**
 * @example
 * const smtp = await startSmtpReceiver(t);
 * const [mail] = await smtp.waitFor(1);
 */
export async function startSmtpReceiver(t: TestContext, options: ConstructorParameters<typeof SMTPServer>[0] = {}): Promise<SmtpReceiver> {
  const messages: Buffer[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        messages.push(Buffer.concat(chunks));
        callback();
      });
    },
    ...options,
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    async waitFor(count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > deadline) throw new Error(`${messages.length} of ${count} mails arrived within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return messages;
    },
  };
}
