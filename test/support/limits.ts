/**
 * @module Helpers for the rate-limit and quota tests: API-key consumers, a steppable clock, an
 * API version with the usual chain, and a parser for the IETF RateLimit headers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ApiSpec, ConsumerSpec, PlanSpec, PolicyBinding } from '../../contracts/index.js';
import type { Clock } from '../../policies/index.js';
import { apiKeySpec } from './consumers.js';
import { httpApi } from './gateway-harness.js';

/** A consumer with one API key, subscribed to the given API majors under `plan`. */
export function keyedConsumer(id: string, plan: string, apis: readonly string[]): { consumer: ConsumerSpec; key: string } {
  const prefix = `gh_${randomBytes(6).toString('hex')}`;
  const key = `${prefix}.PLANTED-${randomBytes(12).toString('hex')}`;
  return {
    key,
    consumer: {
      id,
      name: id,
      team: 'test',
      clientIds: [],
      apiKeys: [apiKeySpec(`${id}-key`, key)],
      subscriptions: apis.map((api) => ({ api, major: 1, plan })),
    },
  };
}

/** A plan granting `orders:read` with the given limits. */
export function limitedPlan(id: string, limits: PlanSpec['limits']): PlanSpec {
  return { id, name: id, scopes: ['orders:read'], ...(limits === undefined ? {} : { limits }) };
}

/** A clock the test sets and steps. */
export function steppedClock(iso: string): Clock & { set(iso: string): void; advance(ms: number): void } {
  let now = Date.parse(iso);
  return {
    now: () => now,
    set(next) {
      now = Date.parse(next);
    },
    advance(ms) {
      now += ms;
    },
  };
}

/**
 * `/{slug}/v1` with `GET /orders` (needs `orders:read`) and `POST /orders` (needs
 * `orders:write`) behind api-key, subscription and rbac, plus `limits` bindings.
 */
export function limitedApi(slug: string, upstreamUrl: string, limits: PolicyBinding[]): ApiSpec {
  return httpApi(
    slug,
    upstreamUrl,
    [
      { id: 'listOrders', method: 'GET', path: '/orders' },
      { id: 'createOrder', method: 'POST', path: '/orders' },
    ],
    {
      policies: [
        { policy: 'api-key', config: {} },
        { policy: 'subscription', config: {} },
        { policy: 'rbac', config: { requiredScopes: { listOrders: ['orders:read'], createOrder: ['orders:write'] } } },
        ...limits,
      ],
    },
  );
}

/** One member of a RateLimit / RateLimit-Policy structured-field list. */
export interface LimitItem {
  name: string;
  params: Record<string, number>;
}

/**
 * Parses `"name";q=100;w=60, "other";q=5;w=1` (RFC 8941 list of quoted strings with integer
 * parameters, as draft-ietf-httpapi-ratelimit-headers-08 uses), failing on anything else.
 */
export function parseLimitList(value: string | null): LimitItem[] {
  assert.ok(value !== null && value.length > 0, 'header present');
  return value.split(',').map((member) => {
    const match = /^\s*"([a-z0-9-]+)"((?:;[a-z]+=\d+)+)\s*$/.exec(member);
    assert.ok(match !== null, `"${member}" is a quoted name with integer parameters`);
    const params: Record<string, number> = {};
    for (const param of match[2]!.slice(1).split(';')) {
      const [key, number] = param.split('=');
      params[key!] = Number(number);
    }
    return { name: match[1]!, params };
  });
}

/** The items of both headers by name: `{ 'gold-60s': { q, w, r, t } }`. */
export function limitsOf(response: Response): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const item of parseLimitList(response.headers.get('ratelimit-policy'))) out[item.name] = { ...item.params };
  for (const item of parseLimitList(response.headers.get('ratelimit'))) {
    assert.ok(out[item.name] !== undefined, `RateLimit item "${item.name}" has its RateLimit-Policy item`);
    Object.assign(out[item.name]!, item.params);
  }
  return out;
}
