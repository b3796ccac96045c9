/**
 * @module The demo landscape as a snapshot: four APIs over the Odoo, Salesforce and Zendesk
 * simulators, each declaring a small, realistic operation list. Pure data; `start.ts` writes it
 * to disk and a file snapshot source serves it (the gateway computes the missing hash).
 */
import { SNAPSHOT_FORMAT_VERSION, type ApiSpec, type OperationSpec, type Snapshot, type UpstreamSpec } from '../../contracts/index.js';

/** Where the three simulators answer, e.g. `http://127.0.0.1:8069`. */
export interface DemoUpstreamUrls {
  odooUrl: string;
  salesforceUrl: string;
  zendeskUrl: string;
}

export interface DemoSnapshotOptions extends DemoUpstreamUrls {
  /** ISO timestamp recorded as `generatedAt` (default: now). */
  generatedAt?: string;
}

/** Odoo database the simulator hosts and the adapters select. */
export const DEMO_ODOO_DATABASE = 'retail';
/** Odoo login of the gateway's bot user (legacy JSON-RPC authenticates it once). */
export const DEMO_ODOO_LOGIN = 'gateway-bot@shop.example';
/** Zendesk agent the API token belongs to. */
export const DEMO_ZENDESK_EMAIL = 'gateway-bot@shop.example';
/** Salesforce REST version the `crm` API is pinned to. */
export const DEMO_SALESFORCE_API_VERSION = 'v62.0';

/** Names of the secrets the snapshot references; `start.ts` provides their values. */
export const DEMO_SECRET_NAMES = ['ODOO_API_KEY', 'SALESFORCE_ACCESS_TOKEN', 'ZENDESK_API_TOKEN'] as const;
export type DemoSecretName = (typeof DEMO_SECRET_NAMES)[number];

const CONNECT_TIMEOUT_MS = 2000;
const RESPONSE_TIMEOUT_MS = 15_000;

function upstream(kind: UpstreamSpec['kind'], baseUrl: string, settings: Record<string, unknown>): UpstreamSpec {
  return { kind, baseUrl, connectTimeoutMs: CONNECT_TIMEOUT_MS, responseTimeoutMs: RESPONSE_TIMEOUT_MS, settings };
}

function api(slug: string, title: string, spec: UpstreamSpec, operations: OperationSpec[]): ApiSpec {
  return { slug, title, versions: [{ version: '1.0.0', status: 'published', upstream: spec, operations, policies: [] }] };
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
 * });
 * await writeFile('data/demo-snapshot.json', JSON.stringify(snapshot, null, 2));
 */
export function buildDemoSnapshot(options: DemoSnapshotOptions): Omit<Snapshot, 'hash'> {
  const odoo = base(options.odooUrl);
  const salesforce = base(options.salesforceUrl);
  const zendesk = base(options.zendeskUrl);
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
      ),
      api(
        'crm',
        'CRM (Salesforce REST)',
        upstream('salesforce', `${salesforce}/services/data/${DEMO_SALESFORCE_API_VERSION}`, {
          accessToken: { env: 'SALESFORCE_ACCESS_TOKEN' },
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
      ),
    ],
    plans: [],
    consumers: [],
  };
}
