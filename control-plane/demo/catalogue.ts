/**
 * @module The demo catalogue as data: teams, four APIs over the Odoo, Salesforce and Zendesk
 * simulators (owning team, upstream, OpenAPI 3.1 contract from `contracts/*.json`, policy
 * bindings), plans, the four consuming systems with their OAuth client ids and the finance
 * jobs' API key, and their subscriptions. `seed.ts` writes it into an empty store; the
 * publisher turns it into the snapshot `npm start`'s gateway enforces. DEMO ONLY: the key and
 * every secret named here are public by design.
 */
import type { PlanLimits, PolicyBinding, UpstreamSpec } from '../../contracts/index.js';
import crmContract from './contracts/crm.json' with { type: 'json' };
import erpRpcContract from './contracts/erp-rpc.json' with { type: 'json' };
import erpSalesContract from './contracts/erp-sales.json' with { type: 'json' };
import serviceDeskContract from './contracts/service-desk.json' with { type: 'json' };

/** `aud` of the dev provider's access tokens, checked by `jwt-auth`. */
export const DEMO_AUDIENCE = 'gatehouse';

/**
 * The finance batch jobs' demo API key (`<prefix>.<secret>`). DEMO ONLY: public by design; the
 * store and the snapshot hold only its prefix and SHA-256.
 */
export const DEMO_FINANCE_API_KEY = 'ghk_finance.demo-finance-jobs-api-key';

/** Odoo database the simulator hosts and the adapters select. */
export const DEMO_ODOO_DATABASE = 'retail';
/** Odoo login of the gateway's bot user (legacy JSON-RPC authenticates it once). */
export const DEMO_ODOO_LOGIN = 'gateway-bot@shop.example';
/** Zendesk agent the API token belongs to. */
export const DEMO_ZENDESK_EMAIL = 'gateway-bot@shop.example';
/** Salesforce REST version the `crm` API is pinned to. */
export const DEMO_SALESFORCE_API_VERSION = 'v62.0';
/** Connected app of the gateway at the Salesforce simulator (client-credentials grant). */
export const DEMO_SALESFORCE_CLIENT_ID = 'gatehouse-gateway';

/** Names of the secrets the APIs reference (`{ "env": NAME }`); the gateway resolves them. */
export const DEMO_SECRET_NAMES = ['ODOO_API_KEY', 'SALESFORCE_CLIENT_SECRET', 'ZENDESK_API_TOKEN'] as const;
export type DemoSecretName = (typeof DEMO_SECRET_NAMES)[number];

/** Where the three simulators answer, e.g. `http://127.0.0.1:8069`. */
export interface DemoUpstreamUrls {
  odooUrl: string;
  salesforceUrl: string;
  zendeskUrl: string;
}

export interface DemoEndpoints extends DemoUpstreamUrls {
  /** Issuer of the dev OpenID provider, e.g. `http://127.0.0.1:4000/oidc` (keys found by discovery). */
  issuer: string;
}

/** The demo's people, as the dev provider names them (`sub`): who did what in the audit trail. */
export const DEMO_ACTORS = {
  owner: 'olivia.owner',
  reviewer: 'rafael.reviewer',
  admin: 'adam.admin',
} as const;

export interface DemoTeam {
  id: string;
  name: string;
}

/** API owners, consuming teams, and the teams of the demo users (so every claim names a real team). */
export const DEMO_TEAMS: readonly DemoTeam[] = [
  { id: 'erp-team', name: 'ERP team (Odoo)' },
  { id: 'crm-team', name: 'CRM team (Salesforce)' },
  { id: 'service-team', name: 'Customer service team (Zendesk)' },
  { id: 'ecommerce', name: 'E-commerce (web storefront)' },
  { id: 'finance', name: 'Finance' },
  { id: 'platform', name: 'Platform team' },
  { id: 'architecture-board', name: 'Architecture board' },
  { id: 'security', name: 'Security' },
];

export interface DemoPlan {
  id: string;
  name: string;
  scopes: string[];
  limits: PlanLimits;
}

/** Generous enough for any walk through the README, low enough to mean something. */
const perMinute = (requests: number): PlanLimits => ({ rates: [{ requests, windowSeconds: 60 }], quotas: [], onStoreFailure: 'failOpen' });

/** Plans: what each consuming team's subscriptions may do at most (scopes, rate). */
export const DEMO_PLANS: readonly DemoPlan[] = [
  { id: 'storefront', name: 'Storefront (600/min)', scopes: ['orders:read', 'orders:write', 'products:read', 'stock:read'], limits: perMinute(600) },
  { id: 'crm-sync', name: 'CRM sync (300/min)', scopes: ['customers:read', 'customers:write', 'orders:read'], limits: perMinute(300) },
  { id: 'service-desk', name: 'Service desk (300/min)', scopes: ['tickets:read', 'tickets:write', 'orders:read', 'invoices:read', 'customers:read'], limits: perMinute(300) },
  { id: 'finance', name: 'Finance batch (120/min)', scopes: ['invoices:read', 'invoices:write', 'payments:write', 'orders:read'], limits: perMinute(120) },
];

export interface DemoApi {
  slug: string;
  title: string;
  team: string;
  /** Who registers the API and takes its version through the lifecycle (an owner of its team, or an admin). */
  owner: string;
  upstream(endpoints: DemoEndpoints): UpstreamSpec;
  /** A fresh copy of the OpenAPI 3.1 contract of version 1.0.0 (token URL set to the issuer's). */
  contract(endpoints: DemoEndpoints): Record<string, unknown>;
  policies(endpoints: DemoEndpoints): PolicyBinding[];
  /** The reviewer's comment on approval. */
  reviewComment: string;
}

const CONNECT_TIMEOUT_MS = 2000;
const RESPONSE_TIMEOUT_MS = 15_000;

function upstream(kind: UpstreamSpec['kind'], baseUrl: string, settings: Record<string, unknown>): UpstreamSpec {
  return { kind, baseUrl, connectTimeoutMs: CONNECT_TIMEOUT_MS, responseTimeoutMs: RESPONSE_TIMEOUT_MS, settings };
}

/** Strips one trailing slash so `http://host:1/` and `http://host:1` give the same base URLs. */
const base = (url: string): string => url.replace(/\/$/, '');

/**
 * Who may call and what they may send: a dev-provider token or (where `apiKeys`) an API key; a
 * subscribed consumer; each operation's scopes from the contract's `security`, granted by both
 * the token and the plan; the plan's rate; the request checked against the contract.
 */
function access(endpoints: DemoEndpoints, apiKeys: boolean): PolicyBinding[] {
  return [
    { policy: 'jwt-auth', config: { issuers: [{ issuer: endpoints.issuer, audiences: [DEMO_AUDIENCE] }] } },
    ...(apiKeys ? [{ policy: 'api-key', config: { required: false } }] : []),
    { policy: 'subscription', config: {} },
    // Scopes come from each operation's `security` in the contract.
    { policy: 'rbac', config: {} },
    { policy: 'rate-limit', config: {} },
    { policy: 'contract-validation', config: { mode: 'enforce' } },
    // Writes only from the system that owns the record (or a consumer granted the fields).
    { policy: 'ownership', config: { unmappedWrites: 'deny' } },
  ];
}

/** The contract with the OAuth token URL pointing at this landscape's provider. */
function contractFor(document: object, endpoints: DemoEndpoints): Record<string, unknown> {
  const copy = structuredClone(document) as { components?: { securitySchemes?: { oauth2?: { flows?: { clientCredentials?: { tokenUrl?: string } } } } } };
  const flow = copy.components?.securitySchemes?.oauth2?.flows?.clientCredentials;
  if (flow !== undefined) flow.tokenUrl = `${base(endpoints.issuer)}/token`;
  return copy as Record<string, unknown>;
}

export const DEMO_APIS: readonly DemoApi[] = [
  {
    slug: 'erp-sales',
    title: 'ERP sales (Odoo JSON-2)',
    team: 'erp-team',
    owner: DEMO_ACTORS.owner,
    upstream: (e) => upstream('odoo-json2', `${base(e.odooUrl)}/json/2`, { database: DEMO_ODOO_DATABASE, apiKey: { env: 'ODOO_API_KEY' } }),
    contract: (e) => contractFor(erpSalesContract, e),
    // Sales orders read through it carry one canonical status (gatehouse_status).
    policies: (e) => [...access(e, true), { policy: 'order-status', config: {} }],
    reviewComment: 'Reviewed: every operation has an operationId, scopes and error answers; writes need orders:write.',
  },
  {
    slug: 'erp-rpc',
    title: 'ERP legacy RPC (Odoo JSON-RPC)',
    team: 'erp-team',
    owner: DEMO_ACTORS.owner,
    upstream: (e) => upstream('odoo-jsonrpc', base(e.odooUrl), { database: DEMO_ODOO_DATABASE, login: DEMO_ODOO_LOGIN, apiKey: { env: 'ODOO_API_KEY' } }),
    contract: (e) => contractFor(erpRpcContract, e),
    // One operation for every model and method: finance's legacy batch jobs only.
    policies: (e) => access(e, true),
    reviewComment: 'Approved for the finance batch jobs only, until they move to JSON-2; execute_kw alone passes the gateway.',
  },
  {
    slug: 'crm',
    title: 'CRM (Salesforce REST)',
    team: 'crm-team',
    // The demo has no owner in crm-team: the platform admin acts for it.
    owner: DEMO_ACTORS.admin,
    upstream: (e) =>
      upstream('salesforce', `${base(e.salesforceUrl)}/services/data/${DEMO_SALESFORCE_API_VERSION}`, {
        oauth: { grant: 'client_credentials', clientId: DEMO_SALESFORCE_CLIENT_ID, clientSecret: { env: 'SALESFORCE_CLIENT_SECRET' } },
        limitRetryAfterSeconds: 300,
      }),
    contract: (e) => contractFor(crmContract, e),
    policies: (e) => access(e, false),
    reviewComment: 'Reviewed: accounts are read and written under customers:*, cases under tickets:*.',
  },
  {
    slug: 'service-desk',
    title: 'Service desk (Zendesk Support)',
    team: 'service-team',
    // The demo has no owner in service-team: the platform admin acts for it.
    owner: DEMO_ACTORS.admin,
    upstream: (e) => upstream('zendesk', `${base(e.zendeskUrl)}/api/v2`, { email: DEMO_ZENDESK_EMAIL, apiToken: { env: 'ZENDESK_API_TOKEN' } }),
    contract: (e) => contractFor(serviceDeskContract, e),
    policies: (e) => access(e, false),
    reviewComment: 'Reviewed: a new ticket needs its first comment; tickets:write for create and update.',
  },
];

export interface DemoConsumer {
  id: string;
  name: string;
  team: string;
  clientIds: string[];
  email: string;
  /** The demo API key, when the consumer has one. */
  apiKey?: string;
  /** The system of record it writes for (the retail registry's `erp`, `crm`, `service-desk`). */
  speaksFor?: string;
  /** API slug → plan id (major 1). */
  subscriptions: ReadonlyArray<{ api: string; plan: string }>;
}

/**
 * Enrichment grants seeded into the retail ownership registry: the storefront places orders
 * (quotations: customer, lines, its reference) in the ERP without owning them; confirming,
 * invoicing and every other order field stay the ERP's.
 */
export const DEMO_GRANTS: ReadonlyArray<{ consumer: string; entity: string; fields: string[] }> = [
  { consumer: 'storefront', entity: 'order', fields: ['partner_id', 'partner_shipping_id', 'order_line', 'client_order_ref', 'note'] },
];

/** The consuming systems; their OAuth clients are the dev provider's demo clients. */
export const DEMO_CONSUMERS: readonly DemoConsumer[] = [
  { id: 'storefront', name: 'Web storefront', team: 'ecommerce', clientIds: ['storefront'], email: 'ecommerce@shop.example', subscriptions: [{ api: 'erp-sales', plan: 'storefront' }] },
  {
    id: 'crm-sync',
    name: 'CRM sync',
    team: 'crm-team',
    clientIds: ['crm-sync'],
    email: 'crm-team@shop.example',
    speaksFor: 'crm',
    subscriptions: [
      { api: 'crm', plan: 'crm-sync' },
      { api: 'erp-sales', plan: 'crm-sync' },
    ],
  },
  {
    id: 'service-desk',
    name: 'Service desk integration',
    team: 'service-team',
    clientIds: ['service-desk'],
    email: 'service-team@shop.example',
    speaksFor: 'service-desk',
    subscriptions: [
      { api: 'service-desk', plan: 'service-desk' },
      { api: 'crm', plan: 'service-desk' },
      { api: 'erp-sales', plan: 'service-desk' },
    ],
  },
  {
    id: 'finance-jobs',
    name: 'Finance batch jobs',
    team: 'finance',
    clientIds: ['finance-jobs'],
    email: 'finance@shop.example',
    apiKey: DEMO_FINANCE_API_KEY,
    speaksFor: 'erp',
    subscriptions: [
      { api: 'erp-sales', plan: 'finance' },
      { api: 'erp-rpc', plan: 'finance' },
    ],
  },
];
