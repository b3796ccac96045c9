/**
 * @module The delivery primitives of consumer notifications: Standard Webhooks signing checked
 * the way a consumer verifies it, failure answers (5xx, redirect, timeout) as attempts, the URL
 * guard's static and connect-time (DNS rebinding) refusals, and e-mail through a local SMTP
 * server with the SMTP password kept out of every error.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { simpleParser } from 'mailparser';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { createEmailSender, type EmailMessage } from '../../control-plane/notify/email-sender.js';
import { createUrlGuard, NotifyConfigError, SSRF_BLOCKED, type ResolveAll } from '../../control-plane/notify/url-guard.js';
import { createWebhookSender, generateWebhookSecret } from '../../control-plane/notify/webhook-sender.js';
import { startSmtpReceiver } from '../support/receivers.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An HTTP receiver on 127.0.0.1 that records every request and answers with `answer`. */
async function startReceiver(t: TestContext, answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(204).end()) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      answer(req, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, received };
}

/** A resolver for the guard that knows only the given names. */
function fakeDns(table: Record<string, string[]>): ResolveAll & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string) => {
    calls.push(hostname);
    const addresses = table[hostname];
    if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

function lookupAll(guard: ReturnType<typeof createUrlGuard>, hostname: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    guard.lookup(hostname, { all: true }, (err, addresses) => {
      if (err !== null) reject(err);
      else resolve((addresses as { address: string }[]).map((a) => a.address));
    });
  });
}

const loopbackGuard = () => createUrlGuard({ allowLoopback: true });
const wholeSecond = () => new Date(Math.floor(Date.now() / 1000) * 1000);

describe('webhook sender', () => {
  it('sends a Standard Webhooks signed POST that the consumer verifies, with exactly the expected headers', async (t) => {
    const receiver = await startReceiver(t);
    const secret = generateWebhookSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const body = JSON.stringify({ type: 'version.deprecated', data: { api: 'erp-sales', version: '1.2.0', sunset: '2027-06-30' } });
    const timestamp = wholeSecond();
    const sender = createWebhookSender({ guard: loopbackGuard() });

    const attempt = await sender.send({ url: `${receiver.url}/hooks/gatehouse?tenant=acme`, secret, id: 'msg_01J9Z3', timestamp, body });

    assert.equal(attempt.ok, true);
    assert.equal(attempt.statusCode, 204);
    assert.equal(attempt.error, null);
    assert.ok(attempt.latencyMs >= 0);
    assert.equal(receiver.received.length, 1);
    const [request] = receiver.received;
    assert.ok(request !== undefined);
    assert.equal(request.method, 'POST');
    assert.equal(request.url, '/hooks/gatehouse?tenant=acme');
    assert.equal(request.body, body);
    assert.deepEqual(request.headers, {
      host: `127.0.0.1:${receiver.port}`,
      connection: 'close',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': 'Gatehouse-Webhooks/1',
      'webhook-id': 'msg_01J9Z3',
      'webhook-timestamp': String(timestamp.getTime() / 1000),
      'webhook-signature': new Webhook(secret).sign('msg_01J9Z3', timestamp, body),
    });
    assert.match(String(request.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]{43}=$/);

    // The consumer's view: verify the raw body against the headers.
    const headers = request.headers as Record<string, string>;
    assert.deepEqual(new Webhook(secret).verify(request.body, headers), JSON.parse(body));
    assert.throws(() => new Webhook(generateWebhookSecret()).verify(request.body, headers), WebhookVerificationError);
    assert.throws(() => new Webhook(secret).verify(request.body.replace('1.2.0', '1.3.0'), headers), WebhookVerificationError);
  });

  it('reports a 500 as a failed attempt with its status', async (t) => {
    const receiver = await startReceiver(t, (_req, res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('stack trace with internal details'));
    const attempt = await createWebhookSender({ guard: loopbackGuard() }).send({ url: receiver.url, secret: generateWebhookSecret(), id: 'msg_1', timestamp: new Date(), body: '{}' });
    assert.deepEqual({ ...attempt, latencyMs: 0 }, { ok: false, statusCode: 500, latencyMs: 0, error: 'HTTP 500 Internal Server Error' });
  });

  it('never follows a redirect', async (t) => {
    const target = await startReceiver(t);
    const receiver = await startReceiver(t, (_req, res) => res.writeHead(302, { location: `${target.url}/elsewhere` }).end());
    const attempt = await createWebhookSender({ guard: loopbackGuard() }).send({ url: receiver.url, secret: generateWebhookSecret(), id: 'msg_2', timestamp: new Date(), body: '{}' });
    assert.equal(attempt.ok, false);
    assert.equal(attempt.statusCode, 302);
    assert.equal(attempt.error, 'redirect not followed (HTTP 302)');
    assert.equal(receiver.received.length, 1);
    assert.equal(target.received.length, 0);
  });

  it('times out a receiver that does not answer', async (t) => {
    const receiver = await startReceiver(t, () => {
      // never answers
    });
    const started = Date.now();
    const attempt = await createWebhookSender({ guard: loopbackGuard(), timeoutMs: 200 }).send({ url: receiver.url, secret: generateWebhookSecret(), id: 'msg_3', timestamp: new Date(), body: '{}' });
    assert.deepEqual({ ok: attempt.ok, statusCode: attempt.statusCode, error: attempt.error }, { ok: false, statusCode: null, error: 'timeout after 200 ms' });
    // The receiver never answers: any finite wait is the timeout's doing; generous for a starved machine.
    assert.ok(Date.now() - started < 10_000);
  });

  it('reads at most maxResponseBytes of a response body', async (t) => {
    const receiver = await startReceiver(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      // Keeps streaming: only the cap ends the read before the timeout.
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    const attempt = await createWebhookSender({ guard: loopbackGuard(), maxResponseBytes: 1024, timeoutMs: 60_000 }).send({ url: receiver.url, secret: generateWebhookSecret(), id: 'msg_4', timestamp: new Date(), body: '{}' });
    assert.deepEqual({ ok: attempt.ok, statusCode: attempt.statusCode, error: attempt.error }, { ok: true, statusCode: 200, error: null });
    // ok, not a timeout: the cap ended the read of an endless body.
    assert.ok(attempt.latencyMs < 30_000);
  });

  it('fails without throwing for a refused URL, an unreachable receiver and a bad secret, and never echoes the secret', async (t) => {
    const secret = generateWebhookSecret();
    const sender = createWebhookSender({ guard: loopbackGuard() });
    const refused = await sender.send({ url: 'https://169.254.169.254/latest/meta-data/', secret, id: 'msg_5', timestamp: new Date(), body: '{}' });
    assert.equal(refused.ok, false);
    assert.equal(refused.statusCode, null);
    assert.match(refused.error ?? '', /^refused: 169\.254\.169\.254 is in the linkLocal range$/);

    const closed = await startReceiver(t);
    const port = closed.port;
    const down = createServer();
    down.listen(0, '127.0.0.1');
    await once(down, 'listening');
    const freePort = (down.address() as AddressInfo).port;
    down.close();
    await once(down, 'close');
    const unreachable = await sender.send({ url: `http://127.0.0.1:${freePort}/`, secret, id: 'msg_6', timestamp: new Date(), body: '{}' });
    assert.deepEqual({ ok: unreachable.ok, statusCode: unreachable.statusCode, error: unreachable.error }, { ok: false, statusCode: null, error: 'connection refused' });

    const badSecret = 'whsec_***not*base64***';
    const invalid = await sender.send({ url: `http://127.0.0.1:${port}/`, secret: badSecret, id: 'msg_7', timestamp: new Date(), body: '{}' });
    assert.deepEqual({ ok: invalid.ok, error: invalid.error }, { ok: false, error: 'invalid signing secret' });
    assert.equal(closed.received.length, 0);

    const badId = await sender.send({ url: `http://127.0.0.1:${port}/`, secret, id: 'msg\r\nx-injected: 1', timestamp: new Date(), body: '{}' });
    assert.equal(badId.ok, false);
    assert.equal(closed.received.length, 0);

    for (const attempt of [refused, unreachable, invalid, badId]) {
      const text = JSON.stringify(attempt);
      assert.ok(!text.includes(secret.slice(6)) && !text.includes(badSecret), text);
    }
  });

  it('refuses at connect time a name that resolves to a private address (DNS rebinding)', async () => {
    const dns = fakeDns({ 'hooks.example.com': ['10.0.0.5'] });
    const guard = createUrlGuard({ lookup: dns });
    assert.deepEqual(guard.checkUrl('https://hooks.example.com/gatehouse'), { ok: true });
    const attempt = await createWebhookSender({ guard }).send({ url: 'https://hooks.example.com/gatehouse', secret: generateWebhookSecret(), id: 'msg_8', timestamp: new Date(), body: '{}' });
    assert.deepEqual(dns.calls, ['hooks.example.com']);
    assert.equal(attempt.ok, false);
    assert.equal(attempt.statusCode, null);
    assert.equal(attempt.error, 'refused: hooks.example.com resolves to a disallowed address (10.0.0.5 is in the private range)');
  });

  it('connects to the address the guarded lookup checked', async (t) => {
    const receiver = await startReceiver(t);
    const dns = fakeDns({ localhost: ['127.0.0.1'] });
    const guard = createUrlGuard({ allowLoopback: true, lookup: dns });
    const attempt = await createWebhookSender({ guard }).send({ url: `http://localhost:${receiver.port}/hook`, secret: generateWebhookSecret(), id: 'msg_9', timestamp: new Date(), body: '{"a":1}' });
    assert.equal(attempt.ok, true);
    assert.deepEqual(dns.calls, ['localhost']);
    assert.equal(receiver.received[0]?.headers.host, `localhost:${receiver.port}`);

    // The default resolver, in the `all: true` form net.connect asks for (autoSelectFamily).
    const viaSystem = await createWebhookSender({ guard: createUrlGuard({ allowLoopback: true }) }).send({ url: `http://localhost:${receiver.port}/hook`, secret: generateWebhookSecret(), id: 'msg_10', timestamp: new Date(), body: '{}' });
    assert.equal(viaSystem.ok, true, viaSystem.error ?? '');
  });
});

describe('URL guard', () => {
  it('refuses private, link-local, loopback, metadata and other non-public targets', () => {
    const guard = createUrlGuard();
    const refused: Record<string, RegExp> = {
      'https://169.254.169.254/latest/meta-data/': /linkLocal/,
      'https://10.0.0.1/': /private/,
      'https://192.168.1.1/': /private/,
      'https://172.16.0.1/': /private/,
      'https://100.64.0.1/': /carrierGradeNat/,
      'https://100.100.100.200/': /carrierGradeNat/,
      'https://[::1]/': /loopback/,
      'https://127.0.0.1/': /loopback/,
      'https://0x7f.1/': /127\.0\.0\.1 is a loopback/,
      'https://2130706433/': /loopback/,
      'https://[::ffff:127.0.0.1]/': /loopback/,
      'https://[::ffff:a9fe:a9fe]/': /linkLocal/,
      'https://[fd00::1]/': /uniqueLocal/,
      'https://[fd00:ec2::254]/': /uniqueLocal/,
      'https://[fe80::1]/': /linkLocal/,
      'https://0.0.0.0/': /unspecified/,
      'https://[::]/': /unspecified/,
      'https://255.255.255.255/': /broadcast/,
      'https://224.0.0.1/': /multicast/,
      'https://192.0.2.10/': /reserved/,
      'https://[64:ff9b::a00:1]/': /rfc6052/,
      'https://[2002:a00:1::]/': /6to4/,
      'https://[2001::1]/': /teredo/,
      'https://[::a00:1]/': /IPv4-compatible/,
      'https://localhost/': /loopback name/,
      'https://api.localhost/': /loopback name/,
      'https://metadata.google.internal/computeMetadata/v1/': /metadata/,
      'https://metadata/': /metadata/,
      'https://intranet/': /fully qualified/,
      'https://vault.corp.internal/': /internal-only/,
      'http://hooks.example.com/': /https only/,
      'https://user:pass@hooks.example.com/': /credentials/,
      'https://:pass@hooks.example.com/': /credentials/,
      'https://hooks.example.com/#top': /fragment/,
      'https://hooks.example.com/#': /fragment/,
      'ftp://hooks.example.com/': /scheme ftp/,
      'file:///etc/passwd': /scheme file/,
      'hooks.example.com/path': /not a valid absolute URL/,
    };
    for (const [url, reason] of Object.entries(refused)) {
      const check = guard.checkUrl(url);
      assert.equal(check.ok, false, url);
      assert.match(check.ok ? '' : check.reason, reason, url);
    }
    for (const url of ['https://hooks.example.com/gatehouse?tenant=acme', 'https://93.184.216.34:8443/hook', 'https://[2606:4700::1111]/hook', 'https://HOOKS.Example.COM./x']) {
      assert.deepEqual(guard.checkUrl(url), { ok: true }, url);
    }
  });

  it('allows loopback (and plain http to it) only when configured', () => {
    const open = createUrlGuard({ allowLoopback: true });
    for (const url of ['http://127.0.0.1:8080/hook', 'http://localhost:3000/', 'https://[::1]/', 'http://[::ffff:127.0.0.1]:9/', 'https://api.localhost/']) {
      assert.deepEqual(open.checkUrl(url), { ok: true }, url);
    }
    assert.equal(open.checkUrl('http://hooks.example.com/').ok, false);
    assert.equal(open.checkUrl('https://10.0.0.1/').ok, false);
    const httpsOnly = createUrlGuard({ allowLoopback: true, allowHttp: 'never' });
    assert.equal(httpsOnly.checkUrl('http://127.0.0.1:8080/').ok, false);
    assert.deepEqual(httpsOnly.checkUrl('https://127.0.0.1:8080/'), { ok: true });
  });

  it('lets allow-listed ranges and hostnames through, still over https', async () => {
    const dns = fakeDns({ 'hooks.corp.example': ['10.0.0.5'], 'erp.partner.example': ['10.20.7.9'], 'mixed.example.com': ['93.184.216.34', '10.0.0.5'] });
    const guard = createUrlGuard({ allowList: ['10.20.0.0/16', 'hooks.corp.example', '::ffff:192.168.50.0/120'], lookup: dns });
    assert.deepEqual(guard.checkUrl('https://10.20.3.4/hook'), { ok: true });
    assert.deepEqual(guard.checkUrl('https://192.168.50.7/hook'), { ok: true });
    assert.equal(guard.checkUrl('https://10.21.0.1/hook').ok, false);
    assert.equal(guard.checkUrl('http://10.20.3.4/hook').ok, false);
    assert.deepEqual(guard.checkAddress('::ffff:10.20.1.1'), { ok: true });
    assert.deepEqual(await lookupAll(guard, 'erp.partner.example'), ['10.20.7.9']);
    assert.deepEqual(await lookupAll(guard, 'hooks.corp.example'), ['10.0.0.5']);
    // One disallowed address refuses the name: the connection may be tried on any of them.
    await assert.rejects(lookupAll(guard, 'mixed.example.com'), { code: SSRF_BLOCKED });
    await assert.rejects(lookupAll(guard, 'unknown.example.com'), { code: 'ENOTFOUND' });
    await assert.rejects(lookupAll(guard, 'metadata.google.internal'), { code: SSRF_BLOCKED });
    assert.throws(() => createUrlGuard({ allowList: ['10.0.0.0/33'] }), NotifyConfigError);
    assert.throws(() => createUrlGuard({ allowList: ['not a host!'] }), NotifyConfigError);
  });

  it('answers the single-address form of dns.lookup and filters by family', async () => {
    const guard = createUrlGuard({ lookup: fakeDns({ 'dual.example.com': ['2606:4700::1111', '93.184.216.34'] }) });
    const single = await new Promise<[string, number | undefined]>((resolve, reject) => {
      guard.lookup('dual.example.com', { family: 4 }, (err, address, family) => (err === null ? resolve([address as string, family]) : reject(err)));
    });
    assert.deepEqual(single, ['93.184.216.34', 4]);
  });
});

describe('e-mail sender', () => {
  const startSmtp = startSmtpReceiver;

  it('sends a plain-text mail through SMTP', async (t) => {
    const smtp = await startSmtp(t);
    const mail = createEmailSender({ url: `smtp://127.0.0.1:${smtp.port}`, from: 'Gatehouse <notifications@gatehouse.example>' });
    t.after(() => mail.close());
    const result = await mail.send({ to: 'ops@acme.example', subject: 'erp-sales 1.x is deprecated', text: 'erp-sales 1.2.0 sunsets on 2027-06-30.\nMove to 2.0.0.', headers: { 'X-Gatehouse-Event': 'version.deprecated' } });
    assert.equal(result.ok, true, result.error ?? '');
    assert.equal(result.error, null);
    assert.equal(smtp.messages.length, 1);
    const parsed = await simpleParser(smtp.messages[0] as Buffer);
    assert.equal(parsed.from?.text, '"Gatehouse" <notifications@gatehouse.example>');
    assert.equal(Array.isArray(parsed.to) ? undefined : parsed.to?.text, 'ops@acme.example');
    assert.equal(parsed.subject, 'erp-sales 1.x is deprecated');
    assert.equal(parsed.text, 'erp-sales 1.2.0 sunsets on 2027-06-30.\nMove to 2.0.0.\n');
    assert.equal(parsed.headers.get('x-gatehouse-event'), 'version.deprecated');
    assert.equal(parsed.messageId, result.messageId);
  });

  it('refuses a message that would add recipients or headers', async (t) => {
    const smtp = await startSmtp(t);
    const mail = createEmailSender({ url: `smtp://127.0.0.1:${smtp.port}`, from: 'notifications@gatehouse.example' });
    t.after(() => mail.close());
    const forged: EmailMessage[] = [
      { to: 'ops@acme.example, attacker@evil.example', subject: 's', text: 't' },
      { to: 'ops@acme.example', subject: 's\r\nBcc: attacker@evil.example', text: 't' },
      { to: 'ops@acme.example', subject: 's', text: 't', headers: { Bcc: 'attacker@evil.example' } },
      { to: 'ops@acme.example', subject: 's', text: 't', headers: { 'X-Note': 'a\r\nBcc: attacker@evil.example' } },
    ];
    for (const message of forged) {
      const result = await mail.send(message);
      assert.equal(result.ok, false);
      assert.match(result.error ?? '', /^invalid message/);
    }
    assert.equal(smtp.messages.length, 0);
  });

  it('reports a server that is down without the password of the URL', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    probe.close();
    await once(probe, 'close');
    const mail = createEmailSender({ url: `smtp://alerts:S3cr%40t-planted-pw@127.0.0.1:${port}`, from: 'notifications@gatehouse.example', timeoutMs: 2000 });
    const result = await mail.send({ to: 'ops@acme.example', subject: 's', text: 't' });
    mail.close();
    assert.equal(result.ok, false);
    assert.ok(result.error !== null && result.error.length > 0);
    assert.ok(!result.error.includes('S3cr'), result.error);
  });

  it('redacts the password when the server echoes it in a reply', async (t) => {
    const smtp = await startSmtp(t, {
      authOptional: false,
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth(auth, _session, callback) {
        callback(new Error(`password ${auth.password ?? ''} rejected`));
      },
    });
    const mail = createEmailSender({ url: `smtp://alerts:S3cr%40t-planted-pw@127.0.0.1:${smtp.port}`, from: 'notifications@gatehouse.example' });
    t.after(() => mail.close());
    const result = await mail.send({ to: 'ops@acme.example', subject: 's', text: 't' });
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /password \*\*\* rejected/);
    assert.ok(!(result.error ?? '').includes('S3cr'), result.error ?? '');
    assert.equal(smtp.messages.length, 0);
  });

  it('refuses a URL that is not smtp: or smtps:', () => {
    assert.throws(() => createEmailSender({ url: 'https://user:hunter2@mail.example/', from: 'a@b.example' }), (error: Error) => error instanceof NotifyConfigError && !error.message.includes('hunter2'));
  });
});
