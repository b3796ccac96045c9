/** @module Barrel: the upstream adapters this build ships, by kind. */
import type { UpstreamKind } from '../../contracts/index.js';
import { httpAdapter } from './http.js';
import { odooJson2Adapter } from './odoo-json2.js';
import { odooJsonRpcAdapter } from './odoo-jsonrpc.js';
import { salesforceAdapter } from './salesforce.js';
import type { AnyAdapterFactory } from './types.js';
import { zendeskAdapter } from './zendesk.js';

export * from './types.js';
export { classifyOdooCall, ODOO_READ_METHODS } from './odoo-common.js';
export { salesforceOperation } from './salesforce.js';
export { zendeskOperation } from './zendesk.js';

export const BUILT_IN_ADAPTERS: ReadonlyMap<UpstreamKind, AnyAdapterFactory> = new Map<UpstreamKind, AnyAdapterFactory>([
  ['odoo-json2', odooJson2Adapter],
  ['odoo-jsonrpc', odooJsonRpcAdapter],
  ['salesforce', salesforceAdapter],
  ['zendesk', zendeskAdapter],
  ['http', httpAdapter],
]);
