/**
 * @module The retail default system-of-record registry (shared/reference/upstreams.md §4): the
 * ERP (Odoo) owns products, prices, stock, confirmed orders and deliveries, invoices and
 * payments, and a customer's legal and billing identity; the CRM (Salesforce) owns the customer
 * relationship and opportunities; the service desk (Zendesk, ServiceNow) owns cases. Mirrors of
 * these records in other systems map onto the same entities, so a write to a mirror is judged
 * like a write to the original. Migration 006 seeds a new store with it; change it through
 * `/api/v1/ownership`.
 */
import type { OwnershipSpec } from '../../contracts/index.js';

export const RETAIL_OWNERSHIP_DEFAULTS: OwnershipSpec = {
  systems: [
    { id: 'erp', name: 'ERP (Odoo)', upstreams: ['odoo'] },
    { id: 'crm', name: 'CRM (Salesforce)', upstreams: ['salesforce'] },
    { id: 'service-desk', name: 'Service desk (Zendesk, ServiceNow)', upstreams: ['zendesk', 'servicenow'] },
  ],
  entities: [
    {
      name: 'product',
      owner: 'erp',
      fieldOwners: {},
      mappings: [
        { upstream: 'odoo', model: 'product.product', fields: {} },
        { upstream: 'odoo', model: 'product.template', fields: {} },
        { upstream: 'salesforce', model: 'Product2', fields: { ProductCode: 'default_code', Name: 'name' } },
      ],
    },
    {
      name: 'price',
      owner: 'erp',
      fieldOwners: {},
      mappings: [
        { upstream: 'odoo', model: 'product.pricelist', fields: {} },
        { upstream: 'odoo', model: 'product.pricelist.item', fields: {} },
        { upstream: 'salesforce', model: 'PricebookEntry', fields: { UnitPrice: 'list_price' } },
      ],
    },
    {
      name: 'inventory',
      owner: 'erp',
      fieldOwners: {},
      mappings: [
        { upstream: 'odoo', model: 'stock.quant', fields: {} },
        { upstream: 'odoo', model: 'stock.move', fields: {} },
      ],
    },
    {
      name: 'order',
      owner: 'erp',
      fieldOwners: {},
      mappings: [
        { upstream: 'odoo', model: 'sale.order', fields: {} },
        { upstream: 'odoo', model: 'sale.order.line', fields: {} },
        { upstream: 'salesforce', model: 'Order', fields: { Status: 'state', OrderReferenceNumber: 'name' } },
      ],
    },
    {
      name: 'delivery',
      owner: 'erp',
      fieldOwners: {},
      mappings: [{ upstream: 'odoo', model: 'stock.picking', fields: {} }],
    },
    {
      name: 'invoice',
      owner: 'erp',
      fieldOwners: {},
      mappings: [
        { upstream: 'odoo', model: 'account.move', fields: {} },
        { upstream: 'salesforce', model: 'Invoice__c', fields: { Name: 'name', Payment_State__c: 'payment_state', Amount_Total__c: 'amount_total', Amount_Residual__c: 'amount_residual', Due_Date__c: 'invoice_date_due' } },
      ],
    },
    {
      name: 'payment',
      owner: 'erp',
      fieldOwners: {},
      mappings: [{ upstream: 'odoo', model: 'account.payment', fields: {} }],
    },
    {
      // The relationship is the CRM's; the legal and billing identity the ERP invoices with is the ERP's.
      name: 'customer',
      owner: 'crm',
      fieldOwners: { vat: 'erp', credit_limit: 'erp', property_payment_term_id: 'erp', property_account_position_id: 'erp', ref: 'erp' },
      mappings: [
        { upstream: 'odoo', model: 'res.partner', fields: {} },
        { upstream: 'salesforce', model: 'Account', fields: { ERP_Customer_Id__c: 'ref', VAT__c: 'vat', Credit_Limit__c: 'credit_limit' } },
        { upstream: 'salesforce', model: 'Contact', fields: {} },
      ],
    },
    {
      name: 'opportunity',
      owner: 'crm',
      fieldOwners: {},
      mappings: [{ upstream: 'salesforce', model: 'Opportunity', fields: {} }],
    },
    {
      name: 'case',
      owner: 'service-desk',
      fieldOwners: {},
      mappings: [
        { upstream: 'zendesk', model: 'ticket', fields: {} },
        { upstream: 'servicenow', model: 'incident', fields: {} },
        { upstream: 'salesforce', model: 'Case', fields: {} },
      ],
    },
  ],
  grants: [],
};
