/** @module Config schema of `order-status` (pure data). */
import type { JSONSchemaType } from 'ajv';

export interface OrderStatusConfig {
  field: string;
  models: string[];
  deliveryStatusField: string;
  paymentStateField: string;
  requestFields: string[];
  maxResponseBytes: number;
}

const FIELD = '^[A-Za-z_][A-Za-z0-9_]{0,127}$';

export const orderStatusSchema: JSONSchemaType<OrderStatusConfig> = {
  type: 'object',
  description:
    'Adds one canonical order status (quotation, confirmed, partially_shipped, shipped, invoiced, paid, cancelled, unknown) to each Odoo sales order a `search_read` or `read` answers (JSON-2 or JSON-RPC), derived from state, invoice_status, delivery_status and a payment state where the record carries one.',
  properties: {
    field: {
      type: 'string',
      pattern: FIELD,
      default: 'gatehouse_status',
      description: 'Name of the field added to each order record.',
    },
    models: {
      type: 'array',
      items: { type: 'string', minLength: 1, maxLength: 200 },
      minItems: 1,
      maxItems: 20,
      uniqueItems: true,
      default: ['sale.order'],
      description: 'Odoo models whose records are sales orders (a custom order model with the same fields may be added).',
    },
    deliveryStatusField: {
      type: 'string',
      pattern: FIELD,
      default: 'delivery_status',
      description: "Field holding the order's delivery state (sale_stock's `delivery_status`: pending, started, partial, full, or false when nothing is to be delivered).",
    },
    paymentStateField: {
      type: 'string',
      pattern: FIELD,
      default: 'payment_state',
      description:
        "Field holding the order's payment state (paid, in_payment, partial, not_paid, …) when the records carry one; standard Odoo keeps it on the invoice only, and without it an order goes no further than `invoiced`.",
    },
    requestFields: {
      type: 'array',
      items: { type: 'string', pattern: FIELD },
      maxItems: 20,
      uniqueItems: true,
      default: ['state', 'invoice_status', 'delivery_status'],
      description:
        'Fields added to a call that lists the fields it wants, so the status can be worked out, and removed from the answer again when the caller did not ask for them. Each must exist on the model (Odoo refuses an unknown field).',
    },
    maxResponseBytes: {
      type: 'integer',
      minimum: 1024,
      maximum: 32 * 1024 * 1024,
      default: 8 * 1024 * 1024,
      description: 'Largest answer read to add the status; a larger one passes without it.',
    },
  },
  required: ['field', 'models', 'deliveryStatusField', 'paymentStateField', 'requestFields', 'maxResponseBytes'],
  additionalProperties: false,
};
