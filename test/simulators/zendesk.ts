/** @module Zendesk Support API v2 simulator: API-token Basic auth, tickets (cursor/offset lists, idempotent create, closed-ticket rule), minimal search, per-minute rate limit (reference §3.1). */
import { startSimulatorServer } from './faults.js';
import type { SimulatorHandle, SimulatorServerOptions } from './faults.js';
import { clone, header, isPlainObject, jsonResponse, textResponse, tryParseJson } from './http-util.js';
import type { SimRequest, SimResponse } from './http-util.js';

export interface ZendeskSimulatorOptions extends SimulatorServerOptions {
  /** Agent email; Basic auth user is `<email>/token`. */
  email: string;
  apiToken: string;
  /** Requests per minute per account (default 700, Enterprise). */
  rateLimitPerMinute?: number;
  /** Clock (default real time); drives timestamps, the rate-limit window and idempotency expiry. */
  now?: () => Date;
}

export type ZendeskStatus = 'new' | 'open' | 'pending' | 'hold' | 'solved' | 'closed';

/** Stored ticket (the wire JSON adds url and constant fields). */
export interface ZendeskTicket {
  id: number;
  external_id: string | null;
  created_at: string;
  updated_at: string;
  type: 'problem' | 'incident' | 'question' | 'task' | null;
  subject: string | null;
  description: string;
  priority: 'urgent' | 'high' | 'normal' | 'low' | null;
  status: ZendeskStatus;
  requester_id: number;
  submitter_id: number;
  assignee_id: number | null;
  organization_id: number | null;
  group_id: number | null;
  tags: string[];
  custom_fields: Array<{ id: number; value: unknown }>;
  via: { channel: string };
}

export interface ZendeskSimulatorHandle extends SimulatorHandle {
  /** Stored tickets (copies), by id. */
  tickets(): ZendeskTicket[];
}

/** Custom field holding the ERP order reference (Odoo SO name) on seeded tickets. */
export const ZENDESK_ORDER_FIELD_ID = 360001;
/** User id of the authenticated agent (the API token owner). */
export const ZENDESK_AGENT_ID = 9000001;

const STATUSES: ZendeskStatus[] = ['new', 'open', 'pending', 'hold', 'solved', 'closed'];
const PRIORITIES = ['urgent', 'high', 'normal', 'low'];
const TYPES = ['problem', 'incident', 'question', 'task'];
const IDEMPOTENCY_TTL_MS = 2 * 60 * 60 * 1000;

const zdTime = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Seeded requesters: email → user id. */
export function zendeskSeedUsers(): Record<string, number> {
  return {
    'priya.shah@mail.example': 9100001,
    'sam.rivera@northwind-cycles.example': 9100002,
    'jane.doe@harbor-outfitters.example': 9100003,
    'marc.lefebvre@lumenhome.example': 9100004,
    'noah.peeters@mail.example': 9100005,
  };
}

/**
 * The deterministic ticket seed (ids 1001–1005). Tickets about orders carry the Odoo
 * SO name in `external_id` and in custom field {@link ZENDESK_ORDER_FIELD_ID}:
 * 1001 S00004 open/high, 1002 S00003 pending, 1003 S00001 solved, 1004 S00002 closed,
 * 1005 no order, new.
 */
export function zendeskSeed(): ZendeskTicket[] {
  const users = zendeskSeedUsers();
  const t = (id: number, day: string, values: Partial<ZendeskTicket> & Pick<ZendeskTicket, 'subject' | 'description' | 'status' | 'requester_id'>): ZendeskTicket => ({
    id, external_id: null, created_at: `2025-03-${day}T09:00:00Z`, updated_at: `2025-03-${day}T15:30:00Z`, type: null, priority: null,
    submitter_id: values.requester_id, assignee_id: null, organization_id: null, group_id: null, tags: [],
    custom_fields: [{ id: ZENDESK_ORDER_FIELD_ID, value: values.external_id ?? null }], via: { channel: 'email' }, ...values,
  });
  return [
    t(1001, '18', { external_id: 'S00004', subject: 'Order S00004 not delivered yet', description: 'My side table was due last week. Where is it?', type: 'problem', priority: 'high', status: 'open', requester_id: users['priya.shah@mail.example']!, assignee_id: ZENDESK_AGENT_ID, tags: ['delivery', 'order'] }),
    t(1002, '14', { external_id: 'S00003', subject: 'Brass desk lamp arrived dented', description: 'One of the two lamps has a dent in the shade.', type: 'incident', priority: 'normal', status: 'pending', requester_id: users['sam.rivera@northwind-cycles.example']!, tags: ['damaged'], via: { channel: 'web' } }),
    t(1003, '07', { external_id: 'S00001', subject: 'Copy of invoice INV/2025/00001', description: 'Please send the invoice PDF again.', type: 'question', priority: 'low', status: 'solved', requester_id: users['jane.doe@harbor-outfitters.example']!, tags: ['invoice'] }),
    t(1004, '09', { external_id: 'S00002', subject: 'Wrong colour linen throws', description: 'We ordered natural, received charcoal.', type: 'problem', priority: 'normal', status: 'closed', requester_id: users['marc.lefebvre@lumenhome.example']!, tags: ['return'] }),
    t(1005, '22', { subject: 'Do you ship to Luxembourg?', description: 'Thinking of ordering chairs.', type: 'question', priority: 'low', status: 'new', requester_id: users['noah.peeters@mail.example']!, via: { channel: 'web' } }),
  ];
}

interface StoredResponse {
  fingerprint: string;
  response: SimResponse;
  at: number;
}

const recordInvalid = (details: Record<string, Array<{ description: string; error: string }>>): SimResponse =>
  jsonResponse(422, { error: 'RecordInvalid', description: 'Record validation errors', details });
const notFound = (): SimResponse => jsonResponse(404, { error: 'RecordNotFound', description: 'Not found' });

/**
 * Starts a Zendesk Support simulator answering under `/api/v2/` (the `.json` suffix is
 * optional). Every response carries `X-Rate-Limit` / `X-Rate-Limit-Remaining`.
 *
 * @param options `email`, `apiToken`; `rateLimitPerMinute` (default 700), `port` (default 0), `now`
 * @example
 * const zd = await startZendeskSimulator({ email: 'bot@shop.example', apiToken: 'zd-token', rateLimitPerMinute: 200 });
 * const auth = `Basic ${Buffer.from('bot@shop.example/token:zd-token').toString('base64')}`;
 * const res = await fetch(`${zd.url}/api/v2/tickets.json?page[size]=2`, { headers: { authorization: auth } });
 * await zd.close();
 */
export async function startZendeskSimulator(options: ZendeskSimulatorOptions): Promise<ZendeskSimulatorHandle> {
  const now = options.now ?? (() => new Date());
  const limit = options.rateLimitPerMinute ?? 700;
  const tickets = new Map(zendeskSeed().map((t) => [t.id, t]));
  const users = new Map(Object.entries(zendeskSeedUsers()));
  users.set(options.email.toLowerCase(), ZENDESK_AGENT_ID);
  const idempotency = new Map<string, StoredResponse>();
  let nextTicketId = 1006;
  let nextUserId = 9100100;
  let nextAuditId = 50000;
  let window = { minute: -1, count: 0 };

  const ticketUrl = (base: string, id: number): string => `${base}/api/v2/tickets/${id}.json`;

  function present(base: string, t: ZendeskTicket): Record<string, unknown> {
    return {
      url: ticketUrl(base, t.id), id: t.id, external_id: t.external_id, via: t.via, created_at: t.created_at, updated_at: t.updated_at,
      type: t.type, subject: t.subject, raw_subject: t.subject, description: t.description, priority: t.priority, status: t.status,
      recipient: null, requester_id: t.requester_id, submitter_id: t.submitter_id, assignee_id: t.assignee_id,
      organization_id: t.organization_id, group_id: t.group_id, collaborator_ids: [], follower_ids: [], email_cc_ids: [],
      forum_topic_id: null, problem_id: null, has_incidents: false, is_public: true, due_at: null, tags: t.tags,
      custom_fields: t.custom_fields, satisfaction_rating: null, sharing_agreement_ids: [], fields: t.custom_fields,
      followup_ids: [], brand_id: 360000001, allow_channelback: false, allow_attachments: true, from_messaging_channel: false,
    };
  }

  function audit(ticketId: number, events: Array<Record<string, unknown>>): Record<string, unknown> {
    const id = (nextAuditId += 1);
    return {
      id, ticket_id: ticketId, created_at: zdTime(now()), author_id: ZENDESK_AGENT_ID, metadata: { system: {}, custom: {} },
      events: events.map((e, i) => ({ id: id * 10 + i, ...e })), via: { channel: 'api' },
    };
  }

  /** Validates writable attributes shared by create and update; returns 422 details (empty when fine). */
  function validate(input: Record<string, unknown>): Record<string, Array<{ description: string; error: string }>> {
    const details: Record<string, Array<{ description: string; error: string }>> = {};
    const check = (key: string, allowed: string[], label: string): void => {
      if (input[key] !== undefined && input[key] !== null && !allowed.includes(input[key] as string)) {
        details[key] = [{ description: `${label}: is not valid`, error: 'InvalidValue' }];
      }
    };
    check('status', STATUSES, 'Status');
    check('priority', PRIORITIES, 'Priority');
    check('type', TYPES, 'Type');
    if (input.requester_id !== undefined && ![...users.values()].includes(input.requester_id as number)) {
      details.requester = [{ description: `Requester: ${String(input.requester_id)} is invalid`, error: 'InvalidValue' }];
    }
    if (input.tags !== undefined && !(Array.isArray(input.tags) && input.tags.every((x) => typeof x === 'string'))) {
      details.tags = [{ description: 'Tags: must be a list of strings', error: 'InvalidValue' }];
    }
    return details;
  }

  const commentBody = (input: Record<string, unknown>): string | undefined => {
    const c = input.comment;
    if (!isPlainObject(c)) return undefined;
    const body = c.body ?? c.html_body;
    return typeof body === 'string' && body.trim() !== '' ? body : undefined;
  };

  function readTicketBody(req: SimRequest): Record<string, unknown> | SimResponse {
    const parsed = tryParseJson(req.body);
    if (!parsed.ok) return jsonResponse(400, { error: 'InvalidJSON', description: `Unable to parse request body: ${parsed.error}` });
    if (!isPlainObject(parsed.value) || !isPlainObject(parsed.value.ticket)) {
      return jsonResponse(400, { error: 'InvalidJSON', description: 'The request body must contain a ticket object' });
    }
    return parsed.value.ticket;
  }

  function createTicket(req: SimRequest): SimResponse {
    const input = readTicketBody(req);
    if (!isPlainObject(input)) return input as SimResponse;
    const description = commentBody(input) ?? (typeof input.description === 'string' ? input.description : undefined);
    const details = validate(input);
    if (description === undefined) details.description = [{ description: 'Description: cannot be blank', error: 'BlankValue' }];
    let requesterId = typeof input.requester_id === 'number' ? input.requester_id : ZENDESK_AGENT_ID;
    if (isPlainObject(input.requester)) {
      const email = typeof input.requester.email === 'string' ? input.requester.email.toLowerCase() : '';
      if (!/^[^@\s]+@[^@\s]+$/.test(email)) {
        details.requester = [{ description: `Requester: ${String(input.requester.name ?? '')} <${email}> is invalid`, error: 'InvalidValue' }];
      } else {
        if (!users.has(email)) users.set(email, (nextUserId += 1));
        requesterId = users.get(email)!;
      }
    }
    if (Object.keys(details).length > 0) return recordInvalid(details);
    const stamp = zdTime(now());
    const ticket: ZendeskTicket = {
      id: nextTicketId++,
      external_id: typeof input.external_id === 'string' ? input.external_id : null,
      created_at: stamp, updated_at: stamp,
      type: (input.type as ZendeskTicket['type']) ?? null,
      subject: typeof input.subject === 'string' ? input.subject : description!.slice(0, 80),
      description: description!,
      priority: (input.priority as ZendeskTicket['priority']) ?? null,
      status: (input.status as ZendeskStatus) ?? 'new',
      requester_id: requesterId, submitter_id: ZENDESK_AGENT_ID,
      assignee_id: typeof input.assignee_id === 'number' ? input.assignee_id : null,
      organization_id: null, group_id: null,
      tags: ((input.tags as string[] | undefined) ?? []).map((x) => x.toLowerCase()),
      custom_fields: Array.isArray(input.custom_fields) ? (input.custom_fields as ZendeskTicket['custom_fields']) : [],
      via: { channel: 'api' },
    };
    tickets.set(ticket.id, ticket);
    const isPublic = isPlainObject(input.comment) ? input.comment.public !== false : true;
    const events = [
      { type: 'Comment', author_id: ZENDESK_AGENT_ID, body: description, public: isPublic, attachments: [] },
      ...(['status', 'priority', 'type', 'subject'] as const).filter((k) => ticket[k] !== null).map((k) => ({ type: 'Create', field_name: k, value: ticket[k] })),
    ];
    return jsonResponse(201, { ticket: present(req.baseUrl, ticket), audit: audit(ticket.id, events) }, { location: ticketUrl(req.baseUrl, ticket.id) });
  }

  function updateTicket(req: SimRequest, ticket: ZendeskTicket): SimResponse {
    const input = readTicketBody(req);
    if (!isPlainObject(input)) return input as SimResponse;
    if (ticket.status === 'closed') {
      return recordInvalid({ status: [{ description: 'Status: closed prevents ticket update', error: 'ClosedPrevents' }] });
    }
    const details = validate(input);
    if (Object.keys(details).length > 0) return recordInvalid(details);
    const events: Array<Record<string, unknown>> = [];
    const change = <K extends keyof ZendeskTicket>(key: K, value: ZendeskTicket[K]): void => {
      if (JSON.stringify(ticket[key]) === JSON.stringify(value)) return;
      events.push({ type: 'Change', field_name: key, value, previous_value: ticket[key] });
      ticket[key] = value;
    };
    for (const key of ['status', 'priority', 'type', 'subject', 'external_id', 'assignee_id'] as const) {
      if (input[key] !== undefined) change(key, input[key] as never);
    }
    let tags = input.tags !== undefined ? (input.tags as string[]).map((x) => x.toLowerCase()) : [...ticket.tags];
    if (Array.isArray(input.additional_tags)) tags = [...new Set([...tags, ...(input.additional_tags as string[])])];
    if (Array.isArray(input.remove_tags)) tags = tags.filter((x) => !(input.remove_tags as string[]).includes(x));
    change('tags', tags);
    if (Array.isArray(input.custom_fields)) {
      const merged = new Map(ticket.custom_fields.map((cf) => [cf.id, cf.value]));
      for (const cf of input.custom_fields as ZendeskTicket['custom_fields']) merged.set(cf.id, cf.value);
      change('custom_fields', [...merged].map(([id, value]) => ({ id, value })));
    }
    const body = commentBody(input);
    if (body !== undefined) {
      const isPublic = isPlainObject(input.comment) && input.comment.public !== false;
      events.unshift({ type: 'Comment', author_id: ZENDESK_AGENT_ID, body, public: isPublic, attachments: [] });
    }
    ticket.updated_at = zdTime(now());
    return jsonResponse(200, { ticket: present(req.baseUrl, ticket), audit: audit(ticket.id, events) });
  }

  function listTickets(req: SimRequest): SimResponse {
    const q = req.url.searchParams;
    const all = [...tickets.values()].sort((a, b) => a.id - b.id);
    const base = `${req.baseUrl}/api/v2/tickets.json`;
    if (q.has('page[size]') || q.has('page[after]') || q.has('page[before]')) {
      const size = Number(q.get('page[size]') ?? 100);
      if (!Number.isInteger(size) || size < 1 || size > 100) {
        return jsonResponse(400, { error: 'InvalidPaginationParameter', description: 'page[size] must be between 1 and 100' });
      }
      const decode = (cursor: string | null): number | undefined => {
        if (cursor === null) return undefined;
        const id = Number(Buffer.from(cursor, 'base64url').toString('utf8').replace(/^id:/, ''));
        return Number.isInteger(id) ? id : undefined;
      };
      const encode = (id: number): string => Buffer.from(`id:${id}`).toString('base64url');
      const after = decode(q.get('page[after]'));
      const before = decode(q.get('page[before]'));
      let slice: ZendeskTicket[];
      let hasMore: boolean;
      if (before !== undefined) {
        const earlier = all.filter((t) => t.id < before);
        slice = earlier.slice(-size);
        hasMore = earlier.length > size;
      } else {
        const later = all.filter((t) => after === undefined || t.id > after);
        slice = later.slice(0, size);
        hasMore = later.length > size;
      }
      const first = slice[0];
      const last = slice[slice.length - 1];
      const link = (key: string, cursor: string): string => `${base}?page%5B${key}%5D=${cursor}&page%5Bsize%5D=${size}`;
      return jsonResponse(200, {
        tickets: slice.map((t) => present(req.baseUrl, t)),
        meta: { has_more: hasMore, after_cursor: last ? encode(last.id) : null, before_cursor: first ? encode(first.id) : null },
        links: { prev: first ? link('before', encode(first.id)) : null, next: hasMore && last ? link('after', encode(last.id)) : null },
      });
    }
    const perPage = Math.min(100, Math.max(1, Number(q.get('per_page') ?? 100) || 100));
    const pageNo = Math.max(1, Number(q.get('page') ?? 1) || 1);
    const slice = all.slice((pageNo - 1) * perPage, pageNo * perPage);
    const pageUrl = (n: number): string => `${base}?page=${n}&per_page=${perPage}`;
    return jsonResponse(200, {
      tickets: slice.map((t) => present(req.baseUrl, t)),
      next_page: pageNo * perPage < all.length ? pageUrl(pageNo + 1) : null,
      previous_page: pageNo > 1 ? pageUrl(pageNo - 1) : null,
      count: all.length,
    });
  }

  function search(req: SimRequest): SimResponse {
    const query = req.url.searchParams.get('query');
    if (query === null || query.trim() === '') return jsonResponse(400, { error: 'InvalidSearchQuery', description: 'The query parameter is required' });
    let results = [...tickets.values()];
    for (const term of query.trim().split(/\s+/)) {
      const m = /^(\w+)([:<>])(.+)$/.exec(term);
      const needle = (m ? m[3]! : term).toLowerCase().replace(/^"|"$/g, '');
      if (m === null) {
        results = results.filter((t) => `${t.subject ?? ''} ${t.description}`.toLowerCase().includes(needle));
        continue;
      }
      const [, key, op] = m;
      if (key === 'type') {
        if (needle !== 'ticket') results = [];
      } else if (key === 'status') {
        const rank = STATUSES.indexOf(needle as ZendeskStatus);
        results = results.filter((t) => {
          const r = STATUSES.indexOf(t.status);
          return op === ':' ? r === rank : op === '<' ? r < rank : r > rank;
        });
      } else if (key === 'priority' || key === 'ticket_type') {
        results = results.filter((t) => (key === 'priority' ? t.priority : t.type) === needle);
      } else if (key === 'external_id') {
        results = results.filter((t) => t.external_id?.toLowerCase() === needle);
      } else if (key === 'tags' || key === 'tag') {
        results = results.filter((t) => t.tags.includes(needle));
      } else if (key === 'requester') {
        results = results.filter((t) => users.get(needle) === t.requester_id);
      } else {
        results = results.filter((t) => JSON.stringify(present(req.baseUrl, t)).toLowerCase().includes(needle));
      }
    }
    results.sort((a, b) => a.id - b.id);
    return jsonResponse(200, {
      results: results.map((t) => ({ ...present(req.baseUrl, t), result_type: 'ticket' })),
      facets: null, next_page: null, previous_page: null, count: results.length,
    });
  }

  function route(req: SimRequest): SimResponse {
    const path = req.url.pathname.replace(/\.json$/, '').replace(/\/$/, '');
    if (path === '/api/v2/tickets') {
      if (req.method === 'GET') return listTickets(req);
      if (req.method === 'POST') return createIdempotent(req);
    }
    const m = /^\/api\/v2\/tickets\/(\d+)$/.exec(path);
    if (m !== null) {
      const ticket = tickets.get(Number(m[1]));
      if (ticket === undefined) return notFound();
      if (req.method === 'GET') return jsonResponse(200, { ticket: present(req.baseUrl, ticket) });
      if (req.method === 'PUT') return updateTicket(req, ticket);
      if (req.method === 'DELETE') {
        tickets.delete(ticket.id);
        return { status: 204, headers: {} };
      }
    }
    if (path === '/api/v2/search' && req.method === 'GET') return search(req);
    if (path === '/api/v2/users/me' && req.method === 'GET') {
      return jsonResponse(200, { user: { id: ZENDESK_AGENT_ID, name: 'Gatehouse Integration', email: options.email, role: 'admin', active: true } });
    }
    return jsonResponse(404, { error: 'InvalidEndpoint', description: 'Not found' });
  }

  /** `Idempotency-Key` on ticket creation: same key + same body replays the stored response. */
  function createIdempotent(req: SimRequest): SimResponse {
    const key = header(req, 'idempotency-key');
    if (key === undefined) return createTicket(req);
    const nowMs = now().getTime();
    for (const [k, v] of idempotency) if (nowMs - v.at > IDEMPOTENCY_TTL_MS) idempotency.delete(k);
    const fingerprint = `${req.method} ${req.url.pathname} ${req.body}`;
    const stored = idempotency.get(key);
    if (stored !== undefined) {
      if (stored.fingerprint !== fingerprint) {
        return jsonResponse(400, { error: 'IdempotentRequestError', description: 'Request parameters do not match the existing idempotency key' });
      }
      return { ...stored.response, headers: { ...stored.response.headers, 'x-idempotency-lookup': 'hit' } };
    }
    const response = createTicket(req);
    if (response.status < 300) idempotency.set(key, { fingerprint, response, at: nowMs });
    return { ...response, headers: { ...response.headers, 'x-idempotency-lookup': 'miss' } };
  }

  function handle(req: SimRequest): SimResponse {
    const minute = Math.floor(now().getTime() / 60000);
    if (minute !== window.minute) window = { minute, count: 0 };
    const rateHeaders = (): Record<string, string> => ({
      'x-rate-limit': String(limit),
      'x-rate-limit-remaining': String(Math.max(0, limit - window.count)),
    });
    const auth = /^Basic\s+(\S+)$/i.exec(header(req, 'authorization') ?? '');
    const decoded = auth ? Buffer.from(auth[1]!, 'base64').toString('utf8') : '';
    const sep = decoded.indexOf(':');
    const user = decoded.slice(0, sep);
    const ok = sep > 0 && user.toLowerCase() === `${options.email.toLowerCase()}/token` && decoded.slice(sep + 1) === options.apiToken;
    if (!ok) return jsonResponse(401, { error: "Couldn't authenticate you" }, rateHeaders());
    window.count += 1;
    if (window.count > limit) {
      const retryAfter = Math.max(1, Math.ceil(((minute + 1) * 60000 - now().getTime()) / 1000));
      return textResponse(429, 'Number of allowed API requests per minute exceeded', { ...rateHeaders(), 'retry-after': String(retryAfter) });
    }
    const response = route(req);
    return { ...response, headers: { ...response.headers, ...rateHeaders() } };
  }

  const server = await startSimulatorServer(handle, options);
  return Object.assign(server, { tickets: () => clone([...tickets.values()]) });
}
