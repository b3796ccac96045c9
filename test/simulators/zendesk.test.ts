/** @module Wire-level tests of the Zendesk simulator: auth, ticket CRUD and shapes, cursor paging, idempotency, closed-ticket rule, search and rate limiting. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ZENDESK_ORDER_FIELD_ID, startZendeskSimulator } from './zendesk.js';
import type { ZendeskSimulatorHandle } from './zendesk.js';

const EMAIL = 'bot@shop.example';
const TOKEN = 'zd-api-token-123';
const AUTH = `Basic ${Buffer.from(`${EMAIL}/token:${TOKEN}`).toString('base64')}`;

interface TicketJson {
  id: number;
  url: string;
  external_id: string | null;
  status: string;
  subject: string;
  description: string;
  priority: string | null;
  type: string | null;
  tags: string[];
  custom_fields: Array<{ id: number; value: unknown }>;
  created_at: string;
  updated_at: string;
  requester_id: number;
  via: { channel: string };
}

describe('Zendesk simulator', () => {
  let zd: ZendeskSimulatorHandle;
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${zd.url}${path}`, {
      method,
      headers: { authorization: AUTH, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text === '' ? undefined : JSON.parse(text)) as Record<string, any> };
  };

  before(async () => {
    zd = await startZendeskSimulator({ email: EMAIL, apiToken: TOKEN });
  });
  after(() => zd.close());

  it('401 "Couldn\'t authenticate you" without the email/token API-token credentials', async () => {
    for (const authorization of ['', `Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}`, `Basic ${Buffer.from(`${EMAIL}/token:nope`).toString('base64')}`, `Bearer ${TOKEN}`]) {
      const res = await fetch(`${zd.url}/api/v2/tickets.json`, { headers: authorization ? { authorization } : {} });
      assert.equal(res.status, 401);
      assert.deepEqual(await res.json(), { error: "Couldn't authenticate you" });
      assert.equal(res.headers.get('x-rate-limit'), '700');
    }
  });

  it('show returns the documented ticket shape, with or without .json', async () => {
    const res = await call('GET', '/api/v2/tickets/1001.json');
    assert.equal(res.status, 200);
    const t = res.body.ticket as TicketJson;
    assert.equal(t.url, `${zd.url}/api/v2/tickets/1001.json`);
    assert.deepEqual(
      [t.id, t.external_id, t.type, t.priority, t.status, t.tags, t.via],
      [1001, 'S00004', 'problem', 'high', 'open', ['delivery', 'order'], { channel: 'email' }],
    );
    assert.deepEqual(t.custom_fields, [{ id: ZENDESK_ORDER_FIELD_ID, value: 'S00004' }]);
    assert.match(t.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    for (const key of ['subject', 'description', 'requester_id', 'updated_at']) assert.ok(key in t, key);
    assert.equal((await call('GET', '/api/v2/tickets/1001')).body.ticket.id, 1001);
  });

  it('404 RecordNotFound for unknown tickets', async () => {
    const res = await call('GET', '/api/v2/tickets/999999.json');
    assert.deepEqual([res.status, res.body], [404, { error: 'RecordNotFound', description: 'Not found' }]);
  });

  it('cursor pagination with page[size], meta.has_more/after_cursor and links.next', async () => {
    const first = await call('GET', '/api/v2/tickets.json?page[size]=2');
    assert.deepEqual(first.body.tickets.map((t: TicketJson) => t.id), [1001, 1002]);
    assert.equal(first.body.meta.has_more, true);
    assert.ok(first.body.meta.after_cursor);
    const next = await fetch(first.body.links.next, { headers: { authorization: AUTH } });
    const second = (await next.json()) as Record<string, any>;
    assert.deepEqual(second.tickets.map((t: TicketJson) => t.id), [1003, 1004]);
    const last = await call('GET', `/api/v2/tickets.json?page[size]=2&page[after]=${second.meta.after_cursor}`);
    assert.equal(last.body.meta.has_more, false);
    assert.equal(last.body.links.next, null);
    assert.ok(last.body.tickets.length >= 1);
  });

  it('create: 201 + Location, {ticket, audit}; 422 RecordInvalid without a description', async () => {
    const res = await call('POST', '/api/v2/tickets.json', {
      ticket: { subject: 'Order S00007 missing lamp', comment: { body: 'Lamp never arrived' }, priority: 'urgent', type: 'problem', requester: { name: 'Priya', email: 'priya.shah@mail.example' }, external_id: 'S00007', tags: ['Delivery'] },
    });
    assert.equal(res.status, 201);
    const t = res.body.ticket as TicketJson;
    assert.equal(res.headers.get('location'), `${zd.url}/api/v2/tickets/${t.id}.json`);
    assert.deepEqual([t.status, t.description, t.external_id, t.tags, t.via.channel], ['new', 'Lamp never arrived', 'S00007', ['delivery'], 'api']);
    assert.equal(t.requester_id, 9100001, 'existing requester matched by email');
    assert.equal(res.body.audit.ticket_id, t.id);
    assert.equal(res.body.audit.events[0].type, 'Comment');
    const invalid = await call('POST', '/api/v2/tickets', { ticket: { subject: 'no body', priority: 'whenever' } });
    assert.equal(invalid.status, 422);
    assert.equal(invalid.body.error, 'RecordInvalid');
    assert.equal(invalid.body.description, 'Record validation errors');
    assert.equal(invalid.body.details.description[0].error, 'BlankValue');
    assert.equal(invalid.body.details.priority[0].error, 'InvalidValue');
  });

  it('Idempotency-Key: miss then hit with the same ticket, 400 when the body differs', async () => {
    const body = { ticket: { subject: 'Idempotent', comment: { body: 'once' } } };
    const first = await call('POST', '/api/v2/tickets.json', body, { 'idempotency-key': 'key-1' });
    assert.deepEqual([first.status, first.headers.get('x-idempotency-lookup')], [201, 'miss']);
    const second = await call('POST', '/api/v2/tickets.json', body, { 'idempotency-key': 'key-1' });
    assert.deepEqual([second.status, second.headers.get('x-idempotency-lookup')], [201, 'hit']);
    assert.equal(second.body.ticket.id, first.body.ticket.id);
    assert.equal(zd.tickets().filter((t) => t.subject === 'Idempotent').length, 1);
    const conflict = await call('POST', '/api/v2/tickets.json', { ticket: { subject: 'Other', comment: { body: 'x' } } }, { 'idempotency-key': 'key-1' });
    assert.equal(conflict.status, 400);
  });

  it('update (PUT) changes fields and records audit events; a closed ticket gives 422', async () => {
    const res = await call('PUT', '/api/v2/tickets/1002.json', { ticket: { status: 'solved', comment: { body: 'Replacement shipped', public: false } } });
    assert.equal(res.status, 200);
    assert.equal(res.body.ticket.status, 'solved');
    assert.deepEqual(res.body.audit.events.map((e: { type: string }) => e.type), ['Comment', 'Change']);
    assert.equal(res.body.audit.events[1].previous_value, 'pending');
    const closed = await call('PUT', '/api/v2/tickets/1004.json', { ticket: { status: 'open' } });
    assert.equal(closed.status, 422);
    assert.deepEqual(closed.body, {
      error: 'RecordInvalid',
      description: 'Record validation errors',
      details: { status: [{ description: 'Status: closed prevents ticket update', error: 'ClosedPrevents' }] },
    });
  });

  it('delete answers 204 and the ticket is gone', async () => {
    const created = await call('POST', '/api/v2/tickets', { ticket: { comment: { body: 'temp' } } });
    const del = await call('DELETE', `/api/v2/tickets/${created.body.ticket.id}.json`);
    assert.deepEqual([del.status, del.body], [204, undefined]);
    assert.equal((await call('GET', `/api/v2/tickets/${created.body.ticket.id}.json`)).status, 404);
  });

  it('search.json?query=type:ticket status:open (+ external_id)', async () => {
    const res = await call('GET', `/api/v2/search.json?query=${encodeURIComponent('type:ticket status:open')}`);
    assert.equal(res.status, 200);
    assert.ok(res.body.results.length >= 1);
    assert.ok(res.body.results.every((r: TicketJson & { result_type: string }) => r.status === 'open' && r.result_type === 'ticket'));
    assert.equal(res.body.count, res.body.results.length);
    const byOrder = await call('GET', `/api/v2/search.json?query=${encodeURIComponent('type:ticket external_id:S00004')}`);
    assert.deepEqual(byOrder.body.results.map((r: TicketJson) => r.id), [1001]);
  });

  it('X-Rate-Limit headers on every response; 429 text/plain with Retry-After past the limit', async () => {
    let clock = Date.parse('2025-04-01T10:00:15Z');
    const limited = await startZendeskSimulator({ email: EMAIL, apiToken: TOKEN, rateLimitPerMinute: 3, now: () => new Date(clock) });
    try {
      const get = () => fetch(`${limited.url}/api/v2/tickets/1001.json`, { headers: { authorization: AUTH } });
      const remaining: Array<string | null> = [];
      for (let i = 0; i < 3; i += 1) {
        const res = await get();
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-rate-limit'), '3');
        remaining.push(res.headers.get('x-rate-limit-remaining'));
      }
      assert.deepEqual(remaining, ['2', '1', '0']);
      const over = await get();
      assert.equal(over.status, 429);
      assert.match(over.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(over.headers.get('retry-after'), '45');
      assert.match(await over.text(), /per minute exceeded/);
      const missing = await fetch(`${limited.url}/api/v2/tickets/4242.json`, { headers: { authorization: AUTH } });
      assert.equal(missing.status, 429, 'still limited within the same minute');
      clock += 45_000;
      const fresh = await get();
      assert.equal(fresh.status, 200);
      assert.equal(fresh.headers.get('x-rate-limit-remaining'), '2');
    } finally {
      await limited.close();
    }
  });
});
