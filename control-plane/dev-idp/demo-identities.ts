/**
 * @module The demo landscape's consuming clients and admin users. DEMO ONLY: every secret and
 * password below is public by design and must never guard anything real.
 */
import type { DevClient, DevUser } from './dev-idp.js';

/** Demo machine clients (client_credentials) of the four consuming teams. */
export const DEMO_CLIENTS: readonly DevClient[] = Object.freeze([
  {
    clientId: 'storefront',
    clientSecret: 'demo-storefront-secret',
    scopes: ['orders:read', 'orders:write', 'products:read', 'stock:read'],
    description: 'Web shop: places orders, reads catalogue and stock.',
  },
  {
    clientId: 'crm-sync',
    clientSecret: 'demo-crm-sync-secret',
    scopes: ['customers:read', 'customers:write', 'orders:read'],
    description: 'Salesforce sync job: keeps customers aligned, reads orders.',
  },
  {
    clientId: 'service-desk',
    clientSecret: 'demo-service-desk-secret',
    scopes: ['tickets:read', 'tickets:write', 'orders:read', 'invoices:read', 'customers:read'],
    description: 'Service desk integration: tickets plus read access for agents.',
  },
  {
    clientId: 'finance-jobs',
    clientSecret: 'demo-finance-jobs-secret',
    scopes: ['invoices:read', 'invoices:write', 'payments:write', 'orders:read'],
    description: 'Finance batch jobs: invoicing and payment postings.',
  },
  {
    clientId: 'gatehouse-automation',
    clientSecret: 'demo-automation-secret',
    scopes: ['gatehouse:admin'],
    description: 'Automation (CI pipelines) acting on the admin API as admin (client credentials).',
  },
  {
    clientId: 'gatehouse-gateway',
    clientSecret: 'demo-gateway-secret',
    scopes: ['gatehouse:gateway'],
    description: 'Gateway nodes: fetch snapshots and report what they applied (client credentials).',
  },
]);

/** Service clients of the admin API and the roles the control plane grants each. */
export const DEMO_SERVICE_CLIENT_ROLES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  'gatehouse-automation': ['admin'],
  'gatehouse-gateway': ['gateway'],
});

/** Demo admin users (web admin login), one per role. */
export const DEMO_USERS: readonly DevUser[] = Object.freeze([
  {
    username: 'olivia.owner',
    password: 'demo-owner',
    name: 'Olivia Owner',
    email: 'olivia.owner@gatehouse.example',
    roles: ['owner'],
    teams: ['erp-team'],
  },
  {
    username: 'rafael.reviewer',
    password: 'demo-reviewer',
    name: 'Rafael Reviewer',
    email: 'rafael.reviewer@gatehouse.example',
    roles: ['reviewer'],
    teams: ['architecture-board'],
  },
  {
    username: 'ada.auditor',
    password: 'demo-auditor',
    name: 'Ada Auditor',
    email: 'ada.auditor@gatehouse.example',
    roles: ['auditor'],
    teams: ['security'],
  },
  {
    username: 'adam.admin',
    password: 'demo-admin',
    name: 'Adam Admin',
    email: 'adam.admin@gatehouse.example',
    roles: ['admin'],
    teams: ['platform'],
  },
]);

/**
 * The demo clients and users as fresh mutable copies, optionally with client secrets replaced
 * (e.g. from the environment) so a shared demo can avoid the published defaults.
 *
 * @param options.secrets Client id → secret overrides; unknown ids are ignored. Default none.
 * @example
 * const { clients, users } = demoIdentities({ secrets: { storefront: process.env.STOREFRONT_SECRET! } });
 * await createDevIdentityProvider({ issuer, audience: 'gatehouse', clients, users });
 */
export function demoIdentities(options: { secrets?: Readonly<Record<string, string>> } = {}): {
  clients: DevClient[];
  users: DevUser[];
} {
  const secrets = options.secrets ?? {};
  return {
    clients: DEMO_CLIENTS.map((client) => ({
      ...client,
      scopes: [...client.scopes],
      clientSecret: secrets[client.clientId] ?? client.clientSecret,
    })),
    users: DEMO_USERS.map((user) => ({ ...user, roles: [...user.roles], teams: [...user.teams] })),
  };
}
