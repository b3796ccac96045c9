/**
 * @module Starts the development OpenID provider on loopback for gateway tests and mints
 * client-credentials tokens for the demo clients.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDevIdentityProvider, type DevIdentityProvider } from '../../control-plane/dev-idp/dev-idp.js';
import { demoIdentities } from '../../control-plane/dev-idp/demo-identities.js';

export interface TestIdp {
  idp: DevIdentityProvider;
  /** An access token for a demo client (all its scopes unless `scope` narrows them). */
  token(clientId: string, scope?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startDevIdp(audience = 'gatehouse'): Promise<TestIdp> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { clients, users } = demoIdentities();
  const secrets = new Map(clients.map((c) => [c.clientId, c.clientSecret]));
  const idp = await createDevIdentityProvider({
    issuer: `http://127.0.0.1:${(server.address() as AddressInfo).port}/oidc`,
    audience,
    clients,
    users,
  });
  server.on('request', (req, res) => idp.callback(req, res));
  return {
    idp,
    async token(clientId, scope) {
      const response = await fetch(idp.tokenEndpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${clientId}:${secrets.get(clientId) ?? ''}`).toString('base64')}`,
        },
        body: scope === undefined ? 'grant_type=client_credentials' : `grant_type=client_credentials&scope=${encodeURIComponent(scope)}`,
      });
      assert.equal(response.status, 200, await response.clone().text());
      return ((await response.json()) as { access_token: string }).access_token;
    },
    async close() {
      await idp.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
