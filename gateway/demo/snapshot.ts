/**
 * @module The demo landscape as a snapshot: four APIs over the Odoo, Salesforce and Zendesk
 * simulators, each declaring a small, realistic operation list, guarded by `jwt-auth` (tokens
 * of the dev OpenID provider) or `api-key`, `subscription` and `rbac`, with the four demo
 * consumers, their plans and subscriptions. Pure data; `start.ts` writes it to disk and a file
 * snapshot source serves it (the gateway computes the missing hash).
 */
import { createHash } from 'node:crypto';
import {
  SNAPSHOT_FORMAT_VERSION,
  type ApiSpec,
  type ConsumerSpec,
  type OperationSpec,
  type PlanSpec,
  type PolicyBinding,
  type Snapshot,
  type UpstreamSpec,
} from '../../contracts/index.js';

/** Where the three simulators answer, e.g. `http://127.0.0.1:8069`. */
export interface DemoUpstreamUrls {
  odooUrl: string;
  salesforceUrl: string;
  zendeskUrl: string;
}

export interface DemoSnapshotOptions extends DemoUpstreamUrls {
  /** Issuer of the dev OpenID provider, e.g. `http://127.0.0.1:4000/oidc` (keys found by discovery). */
  issuer: string;
  /** ISO timestamp recorded as `generatedAt` (default: now). */
  generatedAt?: string;
}

/** `aud` of the dev provider's access tokens, checked by `jwt-auth`. */
export const DEMO_AUDIENCE = 'gatehouse';

/**
 * The finance batch jobs' demo API key (`<prefix>.<secret>`). DEMO ONLY: public by design; the
 * snapshot holds only its prefix and SHA-256.
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

/** Names of the secrets the snapshot references; `start.ts` provides their values. */
export const DEMO_SECRET_NAMES = ['ODOO_API_KEY', 'SALESFORCE_CLIENT_SECRET', 'ZENDESK_API_TOKEN'] as const;
/** Connected app of the gateway at the Salesforce simulator (client-credentials grant). */
export const DEMO_SALESFORCE_CLIENT_ID = 'gatehouse-gateway';
export type DemoSecretName = (typeof DEMO_SECRET_NAMES)[number];

const CONNECT_TIMEOUT_MS = 2000;
const RESPONSE_TIMEOUT_MS = 15_000;

function upstream(kind: UpstreamSpec['kind'], baseUrl: string, settings: Record<string, unknown>): UpstreamSpec {
  return { kind, baseUrl, connectTimeoutMs: CONNECT_TIMEOUT_MS, responseTimeoutMs: RESPONSE_TIMEOUT_MS, settings };
}

/**
 * Who may call: a dev-provider token or (where `apiKeys`) an API key; a subscribed consumer;
 * the scopes of each operation granted by both the token and the consumer's plan.
 */
function access(issuer: string, scopes: Record<string, string[]>, apiKeys: boolean): PolicyBinding[] {
  return [
    { policy: 'jwt-auth', config: { issuers: [{ issuer, audiences: [DEMO_AUDIENCE] }] } },
    ...(apiKeys ? [{ policy: 'api-key', config: { required: false } }] : []),
    { policy: 'subscription', config: {} },
    { policy: 'rbac', config: { requiredScopes: scopes } },
  ];
}

function api(slug: string, title: string, spec: UpstreamSpec, operations: OperationSpec[], policies: PolicyBinding[]): ApiSpec {
  return { slug, title, versions: [{ version: '1.0.0', status: 'published', upstream: spec, operations, policies }] };
}

/** Plans: what each consuming team's subscriptions may do at most (scopes). */
const PLANS: PlanSpec[] = [
  { id: 'storefront', name: 'Storefront', scopes: ['orders:read', 'orders:write', 'products:read', 'stock:read'] },
  { id: 'crm-sync', name: 'CRM sync', scopes: ['customers:read', 'customers:write', 'orders:read'] },
  { id: 'service-desk', name: 'Service desk', scopes: ['tickets:read', 'tickets:write', 'orders:read', 'invoices:read', 'customers:read'] },
  { id: 'finance', name: 'Finance batch', scopes: ['invoices:read', 'invoices:write', 'payments:write', 'orders:read'] },
];

const sub = (apiSlug: string, plan: string): ConsumerSpec['subscriptions'][number] => ({ api: apiSlug, major: 1, plan });

/** The consuming systems; their OAuth clients are the dev provider's demo clients. */
function consumers(): ConsumerSpec[] {
  const [prefix] = DEMO_FINANCE_API_KEY.split('.');
  return [
    { id: 'storefront', name: 'Web storefront', team: 'ecommerce', clientIds: ['storefront'], apiKeys: [], subscriptions: [sub('erp-sales', 'storefront')] },
    { id: 'crm-sync', name: 'CRM sync', team: 'crm', clientIds: ['crm-sync'], apiKeys: [], subscriptions: [sub('crm', 'crm-sync'), sub('erp-sales', 'crm-sync')] },
    {
      id: 'service-desk',
      name: 'Service desk integration',
      team: 'customer-service',
      clientIds: ['service-desk'],
      apiKeys: [],
      subscriptions: [sub('service-desk', 'service-desk'), sub('crm', 'service-desk'), sub('erp-sales', 'service-desk')],
    },
    {
      id: 'finance-jobs',
      name: 'Finance batch jobs',
      team: 'finance',
      clientIds: ['finance-jobs'],
      apiKeys: [{ id: 'finance-batch-key', prefix: prefix!, sha256: createHash('sha256').update(DEMO_FINANCE_API_KEY).digest('hex'), revoked: false }],
      subscriptions: [sub('erp-sales', 'finance'), sub('erp-rpc', 'finance')],
    },
  ];
}

const op = (id: string, method: OperationSpec['method'], path: string): OperationSpec => ({ id, method, path });

/** Strips one trailing slash so `http://host:1/` and `http://host:1` give the same base URLs. */
const base = (url: string): string => url.replace(/\/$/, '');

/**
 * Builds the demo snapshot (without `hash`). Gateway-wide policies are empty: the always-on
 * `request-hygiene` and `access-record` are added by the gateway itself.
 *
 * @param options.generatedAt defaults to the current time
 * @example
 * const snapshot = buildDemoSnapshot({
 *   odooUrl: 'http://127.0.0.1:8069', salesforceUrl: 'http://127.0.0.1:8070', zendeskUrl: 'http://127.0.0.1:8071',
 *   issuer: 'http://127.0.0.1:4000/oidc',
 * });
 * await writeFile('data/demo-snapshot.json', JSON.stringify(snapshot, null, 2));
 */
export function buildDemoSnapshot(options: DemoSnapshotOptions): Omit<Snapshot, 'hash'> {
  const odoo = base(options.odooUrl);
  const salesforce = base(options.salesforceUrl);
  const zendesk = base(options.zendeskUrl);
  const { issuer } = options;
  return {
    formatVersion: SNAPSHOT_FORMAT_VERSION,
    generatedAt: options.generatedAt ?? new Date().toISOString(),
    gateway: { policies: [] },
    apis: [
      api(
        'erp-sales',
        'ERP sales (Odoo JSON-2)',
        upstream('odoo-json2', `${odoo}/json/2`, { database: DEMO_ODOO_DATABASE, apiKey: { env: 'ODOO_API_KEY' } }),
        [
          op('searchSaleOrders', 'POST', '/sale.order/search_read'),
          op('readSaleOrders', 'POST', '/sale.order/read'),
          op('createSaleOrders', 'POST', '/sale.order/create'),
          op('updateSaleOrders', 'POST', '/sale.order/write'),
          op('confirmSaleOrders', 'POST', '/sale.order/action_confirm'),
          op('searchProducts', 'POST', '/product.product/search_read'),
          op('searchInvoices', 'POST', '/account.move/search_read'),
          op('readInvoices', 'POST', '/account.move/read'),
        ],
        access(
          issuer,
          {
            searchSaleOrders: ['orders:read'],
            readSaleOrders: ['orders:read'],
            createSaleOrders: ['orders:write'],
            updateSaleOrders: ['orders:write'],
            confirmSaleOrders: ['orders:write'],
            searchProducts: ['products:read'],
            searchInvoices: ['invoices:read'],
            readInvoices: ['invoices:read'],
          },
          true,
        ),
      ),
      api(
        'erp-rpc',
        'ERP legacy RPC (Odoo JSON-RPC)',
        upstream('odoo-jsonrpc', odoo, {
          database: DEMO_ODOO_DATABASE,
          login: DEMO_ODOO_LOGIN,
          apiKey: { env: 'ODOO_API_KEY' },
        }),
        [op('executeKw', 'POST', '/jsonrpc')],
        // One operation for every model and method: finance's legacy batch jobs only.
        access(issuer, { executeKw: ['invoices:read'] }, true),
      ),
      api(
        'crm',
        'CRM (Salesforce REST)',
        upstream('salesforce', `${salesforce}/services/data/${DEMO_SALESFORCE_API_VERSION}`, {
          oauth: { grant: 'client_credentials', clientId: DEMO_SALESFORCE_CLIENT_ID, clientSecret: { env: 'SALESFORCE_CLIENT_SECRET' } },
          limitRetryAfterSeconds: 300,
        }),
        [
          op('getAccount', 'GET', '/sobjects/Account/{id}'),
          op('updateAccount', 'PATCH', '/sobjects/Account/{id}'),
          op('createAccount', 'POST', '/sobjects/Account'),
          op('querySoql', 'GET', '/query'),
          op('getCase', 'GET', '/sobjects/Case/{id}'),
          op('createCase', 'POST', '/sobjects/Case'),
        ],
        access(
          issuer,
          {
            getAccount: ['customers:read'],
            querySoql: ['customers:read'],
            updateAccount: ['customers:write'],
            createAccount: ['customers:write'],
            getCase: ['tickets:read'],
            createCase: ['tickets:write'],
          },
          false,
        ),
      ),
      api(
        'service-desk',
        'Service desk (Zendesk Support)',
        upstream('zendesk', `${zendesk}/api/v2`, { email: DEMO_ZENDESK_EMAIL, apiToken: { env: 'ZENDESK_API_TOKEN' } }),
        [
          op('listTickets', 'GET', '/tickets.json'),
          op('createTicket', 'POST', '/tickets.json'),
          // A template parameter is a whole segment, so `{id}` also matches `1001.json`.
          op('showTicket', 'GET', '/tickets/{id}'),
          op('updateTicket', 'PUT', '/tickets/{id}'),
        ],
        access(issuer, { listTickets: ['tickets:read'], showTicket: ['tickets:read'], createTicket: ['tickets:write'], updateTicket: ['tickets:write'] }, false),
      ),
    ],
    plans: PLANS,
    consumers: consumers(),
  };
}
