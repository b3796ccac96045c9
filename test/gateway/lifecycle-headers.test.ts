/**
 * @module Deprecation and retirement at the gateway: a deprecated version's answers carry
 * `Deprecation` (RFC 9745), `Sunset` (RFC 8594) and `Link: <…>; rel="successor-version"` — its
 * problems too — while the current version's carry none; a retired version answers 410
 * `version.retired` with the successor link and never reaches the upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ApiSpec } from '../../contracts/index.js';
import { buildSnapshot, startTestGateway, type TestGateway } from '../support/gateway-harness.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/upstream.js';

describe('deprecated and retired versions at the gateway', () => {
  let upstream: RecordingUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startRecordingUpstream();
    const upstreamSpec = { kind: 'http' as const, baseUrl: upstream.url, connectTimeoutMs: 1000, responseTimeoutMs: 2000, settings: {} };
    const ops = [{ id: 'listOrders', method: 'GET' as const, path: '/orders' }];
    const shop: ApiSpec = {
      slug: 'shop',
      title: 'Shop',
      versions: [
        { version: '1.4.0', status: 'deprecated', upstream: upstreamSpec, operations: ops, policies: [], deprecatedAt: '2026-11-01T00:00:00.000Z', sunset: '2027-03-31T00:00:00.000Z', successor: '/shop/v2' },
        { version: '2.0.0', status: 'published', upstream: upstreamSpec, operations: ops, policies: [] },
      ],
    };
    const legacy: ApiSpec = {
      slug: 'legacy',
      title: 'Legacy',
      versions: [
        { version: '1.0.0', status: 'retired', upstream: upstreamSpec, operations: [], policies: [], sunset: '2026-10-01T00:00:00.000Z', successor: '/legacy/v2' },
        { version: '2.1.0', status: 'published', upstream: upstreamSpec, operations: ops, policies: [] },
      ],
    };
    gw = await startTestGateway({ snapshot: buildSnapshot({ apis: [shop, legacy] }) });
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('adds Deprecation, Sunset and the successor link to a deprecated version, on answers and problems', async () => {
    const ok = await fetch(`${gw.url}/shop/v1/orders`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('deprecation'), `@${Date.UTC(2026, 10, 1) / 1000}`);
    assert.equal(ok.headers.get('sunset'), 'Wed, 31 Mar 2027 00:00:00 GMT');
    assert.equal(ok.headers.get('link'), '</shop/v2>; rel="successor-version"');
    const problem = await fetch(`${gw.url}/shop/v1/nowhere`);
    assert.equal(problem.status, 404);
    assert.equal(problem.headers.get('deprecation'), `@${Date.UTC(2026, 10, 1) / 1000}`);
    const current = await fetch(`${gw.url}/shop/v2/orders`);
    assert.equal(current.status, 200);
    assert.deepEqual([current.headers.get('deprecation'), current.headers.get('sunset'), current.headers.get('link')], [null, null, null]);
  });

  it('answers a retired version with 410 version.retired and the successor link, upstream untouched', async () => {
    upstream.seen.length = 0;
    const gone = await fetch(`${gw.url}/legacy/v1/orders`);
    assert.equal(gone.status, 410);
    assert.equal(((await gone.json()) as { code: string }).code, 'version.retired');
    assert.equal(gone.headers.get('link'), '</legacy/v2>; rel="successor-version"');
    assert.equal(upstream.seen.length, 0);
  });
});
