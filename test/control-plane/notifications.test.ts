/**
 * @module Consumer notification through the admin API, on SQLite and PostgreSQL: a subscription
 * decision reaches the consumer's webhook signed per Standard Webhooks (verified with the
 * consumer's secret) after the receiver failed three times, every attempt visible at
 * `GET /notifications`, and by email through a local SMTP server; webhook URLs into the network
 * are refused; a breaking new major and a deprecation mark exactly the consumers whose traffic
 * (shipped access records) uses what changes; sunset reminders go out once per threshold; a
 * deprecated major refuses new subscriptions.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { simpleParser } from 'mailparser';
import { Webhook } from 'standardwebhooks';
import { ADMIN_ROUTES } from '../../control-plane/routes/index.js';
import { accessRecord } from '../support/access-records.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { startSmtpReceiver, startWebhookReceiver, type SmtpReceiver, type WebhookReceiver } from '../support/receivers.js';
import { ENGINES, type Engine } from '../support/stores.js';

const orders = JSON.parse(readFileSync(new URL('../policies/contracts/orders-3.0.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
const API = '/api/v1/apis/erp-orders';
const GATEWAY = 'service:gatehouse-gateway';
const DAY = 86_400_000;

function withoutOrderUpdate(): object {
  const copy = structuredClone(orders);
  delete copy.paths['/orders/{orderId}']!.patch;
  return copy;
}

interface Fixture {
  cp: TestControlPlane;
  hooks: WebhookReceiver;
  smtp: SmtpReceiver;
  /** Moves the control plane's clock. */
  advance(ms: number): void;
  secrets: Record<string, string>;
}

async function act(cp: TestControlPlane, who: string, path: string, action: string, body: unknown = {}) {
  const etag = (await cp.call('ada.auditor', 'GET', path)).headers.get('etag')!;
  return cp.call(who, 'POST', `${path}/${action}`, body, { 'if-match': etag });
}

async function publishVersion(cp: TestControlPlane, version: string, contract: object): Promise<void> {
  assert.equal((await cp.call('olivia.owner', 'POST', `${API}/versions`, { version, contract, policies: [] })).status, 201);
  for (const [who, action] of [['olivia.owner', 'submit'], ['rafael.reviewer', 'approve'], ['olivia.owner', 'publish']] as const) {
    const res = await act(cp, who, `${API}/versions/${version}`, action);
    assert.equal(res.status, 200, `${action} ${version}: ${res.text}`);
  }
}

/** erp-orders 1.0.0 published; consumers store-app and pos-app with webhooks (store-app with email too), both subscribed to v1. */
async function setup(t: TestContext, engine: Engine): Promise<Fixture | undefined> {
  const hooks = await startWebhookReceiver(t);
  const smtp = await startSmtpReceiver(t);
  let offset = 0;
  const cp = await startTestControlPlane(t, engine, {
    routes: ADMIN_ROUTES,
    clock: { now: () => Date.now() + offset },
    notifications: { webhook: { allowLoopback: true, allowList: [] }, smtp: { url: smtp.url, from: 'Gatehouse <notify@gatehouse.example>' }, retry: { baseMs: 40, maxMs: 200, giveUpAfterMs: 60_000 }, pollMs: 50 },
  });
  if (cp === undefined) return undefined;
  t.after(() => cp.close());
  assert.equal((await cp.call('adam.admin', 'POST', '/api/v1/teams', { id: 'erp-team', name: 'ERP' })).status, 201);
  assert.equal((await cp.call('adam.admin', 'POST', '/api/v1/plans', { id: 'standard', name: 'Standard', scopes: ['orders:read', 'orders:write'] })).status, 201);
  const upstream = { kind: 'http', baseUrl: 'http://127.0.0.1:9/orders', settings: {}, connectTimeoutMs: 1000, responseTimeoutMs: 2000 };
  assert.equal((await cp.call('olivia.owner', 'POST', '/api/v1/apis', { slug: 'erp-orders', title: 'Orders', team: 'erp-team', upstream })).status, 201);
  await publishVersion(cp, '1.0.0', orders);
  const secrets: Record<string, string> = {};
  for (const id of ['store-app', 'pos-app']) {
    const created = await cp.call('olivia.owner', 'POST', '/api/v1/consumers', { id, name: id, team: 'erp-team', clientIds: [id], webhookUrl: `${hooks.url}/${id}`, ...(id === 'store-app' ? { email: 'store-team@retail.example' } : {}) });
    assert.equal(created.status, 201, created.text);
    secrets[id] = created.json.webhookSecret as string;
  }
  return { cp, hooks, smtp, secrets, advance: (ms) => void (offset += ms) };
}

async function subscribe(cp: TestControlPlane, consumer: string): Promise<void> {
  const requested = await cp.call('olivia.owner', 'POST', '/api/v1/subscriptions', { consumer, api: 'erp-orders', major: 1, plan: 'standard' });
  assert.equal(requested.status, 201, requested.text);
  assert.equal((await act(cp, 'olivia.owner', `/api/v1/subscriptions/${requested.json.id as string}`, 'approve')).status, 200);
}

/** Polls `GET /notifications` until `done` holds for the page. */
async function notificationsWhen(cp: TestControlPlane, query: string, done: (items: any[]) => boolean, timeoutMs = 15_000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const page = await cp.call('ada.auditor', 'GET', `/api/v1/notifications?${query}`);
    assert.equal(page.status, 200, page.text);
    if (done(page.json.items)) return page.json.items;
    if (Date.now() > deadline) throw new Error(`notifications ${query} never settled: ${page.text}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const engine of ENGINES) {
  describe(`consumer notifications on ${engine}`, () => {
    it('delivers a signed webhook once the receiver recovers, every attempt visible, and an email over SMTP', async (t) => {
      const f = await setup(t, engine);
      if (f === undefined) return;
      const { cp, hooks, smtp } = f;
      // The receiver fails three times, then takes the event.
      hooks.answer = (path, nth) => (path === '/store-app' && nth <= 3 ? 500 : 204);
      await subscribe(cp, 'store-app');

      const [webhook] = await notificationsWhen(cp, 'consumer=store-app&channel=webhook', (items) => items[0]?.status === 'delivered');
      assert.equal(webhook.type, 'subscription.approved');
      assert.deepEqual(
        webhook.attempts.map((a: { attempt: number; outcome: string; statusCode: number | null; error: string | null }) => [a.attempt, a.outcome, a.statusCode, a.error]),
        [[1, 'failed', 500, 'HTTP 500 Internal Server Error'], [2, 'failed', 500, 'HTTP 500 Internal Server Error'], [3, 'failed', 500, 'HTTP 500 Internal Server Error'], [4, 'delivered', 204, null]],
      );
      for (const attempt of webhook.attempts) assert.equal(typeof attempt.latencyMs, 'number');
      const metrics = await (await fetch(`${cp.url}/metrics`)).text();
      assert.match(metrics, /gatehouse_notification_attempts_total\{channel="webhook",outcome="failed"\} 3\n/);
      assert.match(metrics, /gatehouse_notification_attempts_total\{channel="webhook",outcome="delivered"\} 1\n/);
      const received = hooks.received.filter((hook) => hook.path === '/store-app');
      assert.equal(received.length, 4, 'one request per attempt, none after delivery');
      assert.equal(new Set(received.map((hook) => hook.headers['webhook-id'])).size, 1, 'the same message id on every retry');
      const last = received[3]!;
      const verified = new Webhook(f.secrets['store-app']!).verify(last.body, last.headers as Record<string, string>) as { type: string; data: { consumer: { id: string }; api: string; major: number; impacted: boolean } };
      assert.deepEqual([verified.type, verified.data.consumer.id, verified.data.api, verified.data.major, verified.data.impacted], ['subscription.approved', 'store-app', 'erp-orders', 1, false]);
      assert.throws(() => new Webhook(f.secrets['pos-app']!).verify(last.body, last.headers as Record<string, string>), 'another consumer\'s secret does not verify it');

      const [mail] = await smtp.waitFor(1);
      const parsed = await simpleParser(mail!);
      assert.equal(parsed.to && !Array.isArray(parsed.to) ? parsed.to.text : '', 'store-team@retail.example');
      assert.match(parsed.subject ?? '', /^\[Gatehouse\] The subscription of store-app to erp-orders v1 is approved/);
      assert.match(parsed.text ?? '', /"type": "subscription.approved"/);
      const [email] = await notificationsWhen(cp, 'consumer=store-app&channel=email', (items) => items[0]?.status === 'delivered');
      assert.equal(email.attempts.length, 1);
      assert.equal(email.target, 'store-team@retail.example');

      // Owners see their teams' notifications; filters are checked.
      assert.equal((await cp.call('olivia.owner', 'GET', '/api/v1/notifications?consumer=store-app')).json.items.length, 2);
      assert.equal((await cp.call('ada.auditor', 'GET', '/api/v1/notifications?status=sent')).json.code, 'request.validation_failed');
      assert.equal((await cp.call('ada.auditor', 'GET', `/api/v1/notifications/${webhook.id as string}`)).json.attempts.length, 4);
    });

    it('refuses webhook URLs into the network (SSRF), private and metadata addresses alike; rotates the signing secret', async (t) => {
      const f = await setup(t, engine);
      if (f === undefined) return;
      for (const url of ['https://169.254.169.254/latest/meta-data', 'https://10.0.0.8/hooks', 'https://[fd00::1]/hooks', 'https://metadata.google.internal/hooks', 'https://[::ffff:192.168.1.1]/x']) {
        const refused = await f.cp.call('olivia.owner', 'POST', '/api/v1/consumers', { id: 'sneaky', name: 'Sneaky', team: 'erp-team', webhookUrl: url });
        assert.equal(refused.status, 400, url);
        assert.deepEqual(refused.json.errors.map((e: { pointer: string }) => e.pointer), ['/body/webhookUrl'], url);
      }
      // The signing secret rotates; the new one is shown once and never enters the audit trail.
      const etag = (await f.cp.call('ada.auditor', 'GET', '/api/v1/consumers/store-app')).headers.get('etag')!;
      const rotated = await f.cp.call('olivia.owner', 'POST', '/api/v1/consumers/store-app/webhook-secret', undefined, { 'if-match': etag });
      assert.equal(rotated.status, 200, rotated.text);
      assert.match(rotated.json.webhookSecret, /^whsec_/);
      assert.notEqual(rotated.json.webhookSecret, f.secrets['store-app']);
      const audit = await f.cp.call('ada.auditor', 'GET', '/api/v1/audit/events?limit=200');
      assert.equal(audit.json.items[0].action, 'consumer.rotate_webhook_secret');
      for (const secret of [rotated.json.webhookSecret as string, f.secrets['store-app']!]) assert.equal(audit.text.includes(secret.slice(6)), false);
      const noHook = await f.cp.call('olivia.owner', 'POST', '/api/v1/consumers', { id: 'quiet-app', name: 'Quiet', team: 'erp-team' });
      assert.equal(noHook.json.webhookSecretSet, false);
      assert.equal((await f.cp.call('olivia.owner', 'POST', '/api/v1/consumers/quiet-app/webhook-secret')).status, 409);
    });

    it('marks exactly the callers of what breaks or is deprecated, reminds before the sunset once per threshold, and refuses new subscriptions to the deprecated major', async (t) => {
      const f = await setup(t, engine);
      if (f === undefined) return;
      const { cp, hooks } = f;
      await subscribe(cp, 'store-app');
      await subscribe(cp, 'pos-app');
      // Traffic, as the gateways ship it: store-app updates orders, pos-app only lists them.
      const batch = {
        nodeId: 'gw-1',
        batchId: '0000000001',
        records: [
          accessRecord({ consumer: 'store-app', operation: 'updateOrder', method: 'PATCH', path: '/orders/42' }),
          accessRecord({ consumer: 'store-app', operation: 'updateOrder', method: 'PATCH', path: '/orders/43' }),
          accessRecord({ consumer: 'store-app', operation: 'listOrders' }),
          accessRecord({ consumer: 'pos-app', operation: 'listOrders' }),
          accessRecord({ consumer: 'pos-app', operation: 'updateOrder', version: '0.9.0', time: new Date(Date.now() - 3 * DAY).toISOString() }),
          accessRecord({ consumer: 'pos-app', operation: 'updateOrder', time: new Date(Date.now() - 45 * DAY).toISOString() }),
        ],
      };
      const shipped = await cp.call(GATEWAY, 'POST', '/api/v1/audit/access-batches', batch);
      assert.equal(shipped.status, 200, shipped.text);
      assert.deepEqual([shipped.json.accepted, shipped.json.duplicate], [6, false]);

      assert.equal((await cp.call('olivia.owner', 'POST', `${API}/versions`, { version: '2.0.0', contract: withoutOrderUpdate(), policies: [] })).status, 201);
      assert.equal((await act(cp, 'olivia.owner', `${API}/versions/2.0.0`, 'submit')).status, 200);
      const impact = await cp.call('rafael.reviewer', 'GET', `${API}/versions/2.0.0/impact`);
      assert.equal(impact.status, 200, impact.text);
      assert.equal(impact.json.breaking.against, '1.0.0');
      assert.deepEqual(impact.json.breaking.changes.map((c: { rule: string; operations: string[] }) => [c.rule, c.operations]), [['operation-removed', ['updateOrder']]]);
      // pos-app's update calls were to another major and outside the 30 days: not counted.
      assert.deepEqual(impact.json.breaking.consumers.map((c: { consumer: string; calls: number }) => [c.consumer, c.calls]), [['store-app', 2]]);
      assert.deepEqual(impact.json.breaking.changes[0].consumers.map((c: { consumer: string; calls: number }) => [c.consumer, c.calls]), [['store-app', 2]]);
      const review = await cp.call('rafael.reviewer', 'GET', `${API}/versions/2.0.0/review`);
      assert.deepEqual([review.json.version.status, review.json.lint.errors, review.json.diff.breaking, review.json.impact.breaking.consumers.length], ['in_review', 0, true, 1]);
      assert.equal((await cp.call('rafael.reviewer', 'GET', `${API}/versions/2.0.0/impact?days=0`)).json.code, 'request.validation_failed');

      assert.equal((await act(cp, 'rafael.reviewer', `${API}/versions/2.0.0`, 'approve')).status, 200);
      const ahead = await notificationsWhen(cp, 'type=version.breaking_change_ahead&channel=webhook', (items) => items.length === 2 && items.every((n) => n.status === 'delivered'));
      assert.deepEqual(ahead.map((n) => [n.consumer, n.impacted]).sort(), [['pos-app', false], ['store-app', true]]);
      assert.equal((await act(cp, 'olivia.owner', `${API}/versions/2.0.0`, 'publish')).status, 200);

      const sunset = new Date(Date.now() + 40 * DAY).toISOString();
      const deprecated = await act(cp, 'olivia.owner', `${API}/versions/1.0.0`, 'deprecate', { sunset, successor: '2.0.0' });
      assert.equal(deprecated.status, 200, deprecated.text);
      const notices = await notificationsWhen(cp, 'type=version.deprecated&channel=webhook', (items) => items.length === 2 && items.every((n) => n.status === 'delivered'));
      assert.deepEqual(notices.map((n) => [n.consumer, n.impacted]).sort(), [['pos-app', true], ['store-app', true]], 'both called v1 in the last 30 days');
      const hook = hooks.received.find((h) => h.path === '/store-app' && h.body.includes('version.deprecated'))!;
      const payload = new Webhook(f.secrets['store-app']!).verify(hook.body, hook.headers as Record<string, string>) as { data: { sunset: string; successor: string; version: string } };
      assert.deepEqual([payload.data.version, payload.data.sunset, payload.data.successor], ['1.0.0', sunset, '2.0.0']);

      const refused = await cp.call('olivia.owner', 'POST', '/api/v1/subscriptions', { consumer: 'pos-app', api: 'erp-orders', major: 1, plan: 'standard' });
      assert.equal((await act(cp, 'olivia.owner', `/api/v1/subscriptions/${(await cp.call('ada.auditor', 'GET', '/api/v1/subscriptions?consumer=pos-app')).json.items[0].id as string}`, 'revoke')).status, 200);
      const again = await cp.call('olivia.owner', 'POST', '/api/v1/subscriptions', { consumer: 'pos-app', api: 'erp-orders', major: 1, plan: 'standard' });
      assert.equal(refused.status, 409, 'pos-app holds an open subscription already');
      assert.equal(again.status, 409, again.text);
      assert.equal(again.json.code, 'version.deprecated');
      assert.deepEqual([again.json.sunset, again.json.successor], [sunset, '2.0.0']);

      // Eleven days on, the sunset is 29 days away: the 30-day reminder, once.
      f.advance(11 * DAY);
      await cp.notify!.dispatcher.tick();
      await cp.notify!.dispatcher.tick();
      const reminders = await notificationsWhen(cp, 'type=version.sunset_reminder&channel=webhook', (items) => items.length >= 2 && items.every((n) => n.status === 'delivered'));
      // pos-app is no longer subscribed, but it called v1 within the last 30 days: still told, as impacted.
      assert.deepEqual(reminders.map((n) => [n.consumer, n.payload.data.daysLeft, n.impacted]).sort(), [['pos-app', 30, true], ['store-app', 30, true]]);
      // 35 days on: 5 days left, the 7-day reminder; pos-app's calls are older than 30 days now.
      f.advance(24 * DAY);
      await cp.notify!.dispatcher.tick();
      await cp.notify!.dispatcher.tick();
      const seven = await notificationsWhen(cp, 'type=version.sunset_reminder&channel=webhook', (items) => items.length >= 3 && items.every((n) => n.status === 'delivered'));
      assert.deepEqual(seven.map((n) => [n.consumer, n.payload.data.daysLeft]).sort(), [['pos-app', 30], ['store-app', 30], ['store-app', 7]]);
      assert.match(seven.find((n) => n.payload.data.daysLeft === 7).payload.data.message, /sunsets in 7 days .*; move to 2\.0\.0$/);
    });
  });
}
