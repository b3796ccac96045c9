/** @module Barrel for the in-memory upstream simulators (Odoo, Salesforce, Zendesk) and their shared fault controls. */
export { startSimulatorServer } from './faults.js';
export type { RecordedCall, SimulatorHandle, SimulatorServerOptions } from './faults.js';
export type { SimHandler, SimRequest, SimResponse } from './http-util.js';

export { startOdooSimulator } from './odoo.js';
export type { OdooSimulatorHandle, OdooSimulatorOptions } from './odoo.js';
export { ODOO_TAX_RATE, retailModels, retailSeed } from './odoo-seed.js';
export type { OdooUser } from './odoo-seed.js';
export type { OdooField, OdooFieldType, OdooModel, OdooRecord, OdooSeed } from './odoo-orm.js';

export { salesforceId, salesforceSeed, startSalesforceSimulator, toCaseSafeId } from './salesforce.js';
export type { SalesforceClient, SalesforceSimulatorHandle, SalesforceSimulatorOptions, SfRecord } from './salesforce.js';

export { ZENDESK_AGENT_ID, ZENDESK_ORDER_FIELD_ID, startZendeskSimulator, zendeskSeed, zendeskSeedUsers } from './zendesk.js';
export type { ZendeskSimulatorHandle, ZendeskSimulatorOptions, ZendeskStatus, ZendeskTicket } from './zendesk.js';
