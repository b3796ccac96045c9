/**
 * @module The retail landscape the governance policy tests share: the system-of-record
 * registry of upstreams.md §4 (ERP owns invoices and orders, CRM the customer relationship,
 * the service desk its cases), three keyed consumers speaking for their systems, and one API
 * per upstream protocol in front of the simulators (Odoo JSON-2 and JSON-RPC, Salesforce,
 * Zendesk), each bound to the given policies after API-key authentication and subscription.
 */
import type { ApiSpec, ConsumerSpec, OperationSpec, OwnershipSpec, PlanSpec, PolicyBinding } from '../../contracts/index.js';
import { upstreamApi } from '../gateway/upstreams/helpers.js';
import { apiKeySpec } from './consumers.js';

export const KEYS = {
  finance: 'gh_fin_A1b2C3d4.PLANTED-finance-secret-1a2b',
  serviceDesk: 'gh_sdk_E5f6G7h8.PLANTED-service-desk-secret-3c4d',
  storefront: 'gh_web_J9k0L1m2.PLANTED-storefront-secret-5e6f',
} as const;

export const SECRETS = {
  ODOO_KEY: 'PLANTED-odoo-key-gov-81f2',
  SF_TOKEN: 'PLANTED-sf-token-gov-4c7e',
  ZD_TOKEN: 'PLANTED-zd-token-gov-09ab',
};

export const ODOO_RPC_LOGIN = 'rpc-bot@shop.example';
export const ODOO_RPC_UID = 7;
export const ZENDESK_EMAIL = 'bot@shop.example';
export const SF_API_PATH = '/services/data/v62.0';

export const PLANS: PlanSpec[] = [
  { id: 'finance', name: 'Finance', scopes: [] },
  { id: 'service', name: 'Service desk', scopes: [] },
  { id: 'storefront', name: 'Storefront', scopes: [] },
];

/** The registry: who owns what, where each entity lives upstream, and one enrichment grant. */
export const RETAIL_OWNERSHIP: OwnershipSpec = {
  systems: [
    { id: 'erp', name: 'Odoo ERP', upstreams: ['odoo'] },
    { id: 'crm', name: 'Salesforce CRM', upstreams: ['salesforce'] },
    { id: 'service-desk', name: 'Zendesk', upstreams: ['zendesk'] },
  ],
  entities: [
    {
      name: 'invoice',
      owner: 'erp',
      fieldOwners: {},
      mappings: [
        { upstream: 'odoo', model: 'account.move', fields: {} },
        {
          upstream: 'salesforce',
          model: 'Invoice__c',
          fields: {
            Name: 'name',
            Invoice_Number__c: 'name',
            Account__c: 'partner_id',
            Order_Reference__c: 'invoice_origin',
            Amount_Total__c: 'amount_total',
            Amount_Due__c: 'amount_residual',
            Due_Date__c: 'invoice_date_due',
            Payment_State__c: 'payment_state',
            Bank_Account__c: 'partner_bank_id',
          },
        },
      ],
    },
    {
      name: 'order',
      owner: 'erp',
      fieldOwners: {},
      mappings: [
        { upstream: 'odoo', model: 'sale.order', fields: {} },
        { upstream: 'salesforce', model: 'Order', fields: { OrderReferenceNumber: 'name', Status: 'state' } },
      ],
    },
    {
      name: 'customer',
      owner: 'crm',
      // Legal and billing identity stays with the ERP once invoiced (§4).
      fieldOwners: { vat: 'erp', ref: 'erp' },
      mappings: [
        { upstream: 'odoo', model: 'res.partner', fields: {} },
        { upstream: 'salesforce', model: 'Account', fields: { Name: 'name', Phone: 'phone', ERP_Customer_Id__c: 'ref' } },
      ],
    },
    {
      name: 'case',
      owner: 'service-desk',
      fieldOwners: {},
      mappings: [
        { upstream: 'zendesk', model: 'ticket', fields: {} },
        { upstream: 'salesforce', model: 'Case', fields: { Subject: 'subject', Status: 'status', Priority: 'priority' } },
      ],
    },
  ],
  // The service desk notes its ticket on the invoice (Odoo `ref`), and nothing else.
  grants: [{ consumer: 'service-desk', entity: 'invoice', fields: ['ref'] }],
};

/** The API slugs of the landscape, one per upstream protocol. */
export const SLUGS = ['erp', 'erp-rpc', 'crm', 'desk'] as const;

/** Finance speaks for the ERP, the service desk for itself; the storefront for no system. */
export function retailConsumers(slugs: readonly string[] = SLUGS): ConsumerSpec[] {
  const subscriptions = (plan: string) => slugs.map((api) => ({ api, major: 1, plan }));
  return [
    { id: 'finance-jobs', name: 'Finance jobs', team: 'finance', clientIds: [], apiKeys: [apiKeySpec('k-fin', KEYS.finance)], subscriptions: subscriptions('finance'), speaksFor: 'erp' },
    { id: 'service-desk', name: 'Service desk', team: 'support', clientIds: [], apiKeys: [apiKeySpec('k-sdk', KEYS.serviceDesk)], subscriptions: subscriptions('service'), speaksFor: 'service-desk' },
    { id: 'storefront', name: 'Storefront', team: 'web', clientIds: [], apiKeys: [apiKeySpec('k-web', KEYS.storefront)], subscriptions: subscriptions('storefront') },
  ];
}

export const SF_OPERATIONS: OperationSpec[] = [
  { id: 'sobject.create', method: 'POST', path: '/sobjects/{type}' },
  { id: 'sobject.get', method: 'GET', path: '/sobjects/{type}/{id}' },
  { id: 'sobject.update', method: 'PATCH', path: '/sobjects/{type}/{id}' },
  { id: 'sobject.delete', method: 'DELETE', path: '/sobjects/{type}/{id}' },
  { id: 'query', method: 'GET', path: '/query' },
  { id: 'composite', method: 'POST', path: '/composite' },
];

export const ZD_OPERATIONS: OperationSpec[] = [
  { id: 'tickets.list', method: 'GET', path: '/tickets.json' },
  { id: 'tickets.create', method: 'POST', path: '/tickets.json' },
  { id: 'tickets.show', method: 'GET', path: '/tickets/{id}' },
  { id: 'tickets.update', method: 'PUT', path: '/tickets/{id}' },
  { id: 'tickets.delete', method: 'DELETE', path: '/tickets/{id}' },
];

/** Authentication and subscription, then `policies`. */
export const withIdentity = (policies: PolicyBinding[]): PolicyBinding[] => [{ policy: 'api-key', config: {} }, { policy: 'subscription', config: {} }, ...policies];

export interface UpstreamUrls {
  odoo: string;
  salesforce: string;
  zendesk: string;
}

/**
 * The four APIs: `erp` (Odoo JSON-2), `erp-rpc` (Odoo JSON-RPC with a fixed uid, so no
 * `authenticate` call muddies call counts), `crm` (Salesforce), `desk` (Zendesk).
 */
export function retailApis(urls: UpstreamUrls, policies: (slug: string) => PolicyBinding[]): ApiSpec[] {
  const bind = (api: ApiSpec): ApiSpec => ({ ...api, versions: api.versions.map((v) => ({ ...v, policies: withIdentity(policies(api.slug)) })) });
  return [
    bind(upstreamApi('erp', 'odoo-json2', `${urls.odoo}/json/2`, { database: 'retail', apiKey: { env: 'ODOO_KEY' } }, [{ id: 'odoo.call', method: 'POST', path: '/{model}/{method}' }])),
    bind(upstreamApi('erp-rpc', 'odoo-jsonrpc', urls.odoo, { database: 'retail', login: ODOO_RPC_LOGIN, apiKey: { env: 'ODOO_KEY' }, uid: ODOO_RPC_UID }, [{ id: 'odoo.rpc', method: 'POST', path: '/jsonrpc' }])),
    bind(upstreamApi('crm', 'salesforce', `${urls.salesforce}${SF_API_PATH}`, { accessToken: { env: 'SF_TOKEN' }, limitRetryAfterSeconds: 120 }, SF_OPERATIONS)),
    bind(upstreamApi('desk', 'zendesk', `${urls.zendesk}/api/v2`, { email: ZENDESK_EMAIL, apiToken: { env: 'ZD_TOKEN' } }, ZD_OPERATIONS)),
  ];
}

/** An `object.execute_kw` JSON-RPC body as a client sends it (the gateway fills db, uid, key). */
export function executeKw(model: string, method: string, args: unknown[], kwargs: Record<string, unknown> = {}): Record<string, unknown> {
  return { jsonrpc: '2.0', method: 'call', id: 1, params: { service: 'object', method: 'execute_kw', args: ['x', 0, 'x', model, method, args, kwargs] } };
}

/** Odoo simulator options: one global key the gateway holds, the JSON-2 bot (first user) and the JSON-RPC bot. */
export const ODOO_OPTIONS = {
  database: 'retail',
  apiKeys: [SECRETS.ODOO_KEY],
  users: [
    { uid: 2, login: 'json2-bot@shop.example' },
    { uid: ODOO_RPC_UID, login: ODOO_RPC_LOGIN },
  ],
};
