/**
 * @module Starts the development OpenID provider on loopback for gateway tests and mints
 * client-credentials tokens for the demo clients.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDevIdentityProvider, type DevIdentityProvider } from '../../control-plane/dev-idp/dev-idp.js';
import { demoIdentities } from '../../control-plane/dev-idp/demo-identities.js';
import { clientToken } from '../control-plane/dev-idp-login.js';

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
    token: (clientId, scope) => clientToken(idp.tokenEndpoint, clientId, secrets.get(clientId) ?? '', scope),
    async close() {
      await idp.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
