/**
 * @module The assembled control plane: every router mounted, the admin OpenAPI document lists
 * every resource, and the dev OpenID provider answers under /oidc on the same port.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDevIdentityProvider } from '../../control-plane/dev-idp/dev-idp.js';
import { demoIdentities, DEMO_SERVICE_CLIENT_ROLES } from '../../control-plane/dev-idp/demo-identities.js';
import type { Role } from '../../control-plane/auth.js';
import { attachControlPlane } from '../../control-plane/server.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openTestStore } from '../support/stores.js';

describe('control plane server', () => {
  it('mounts every resource, describes it, and serves the dev IdP under /oidc', async (t) => {
    const store = await openTestStore(t, 'sqlite');
    if (store === undefined) return;
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oidc`;
    const idp = await createDevIdentityProvider({ issuer, audience: 'gatehouse', ...demoIdentities() });
    const quiet = { error() {}, warn() {}, info() {}, debug() {} };
    const cp = attachControlPlane(server, {
      store,
      logger: quiet,
      auth: { issuer, audience: 'gatehouse', serviceClients: DEMO_SERVICE_CLIENT_ROLES as Record<string, Role[]> },
      oidcCallback: idp.callback,
    });
    t.after(async () => {
      await cp.close();
      await idp.close();
      await store.dispose();
    });
    const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { issuer: string };
    assert.equal(discovery.issuer, issuer);
    const doc = (await (await fetch(`${cp.url}/api/v1/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    assert.equal(doc.openapi, '3.1.0');
    for (const path of ['/teams', '/apis', '/apis/{api}/versions', '/plans', '/consumers', '/subscriptions', '/gateway/snapshot', '/gateway/nodes']) {
      assert.ok(Object.keys(doc.paths).some((p) => p === path || p.startsWith(path)), `openapi.json lacks ${path}`);
    }
    const token = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('gatehouse-automation:demo-automation-secret').toString('base64')}` },
      body: 'grant_type=client_credentials',
    });
    const { access_token } = (await token.json()) as { access_token: string };
    const plans = await fetch(`${cp.url}/api/v1/plans`, { headers: { authorization: `Bearer ${access_token}` } });
    assert.equal(plans.status, 200);
    const unknown = await fetch(`${cp.url}/api/v1/unknown`, { headers: { authorization: `Bearer ${access_token}` } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers.get('content-type'), 'application/problem+json');
  });
});
