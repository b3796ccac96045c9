/**
 * @module The canonical order status: one vocabulary for every consumer (storefront, service
 * desk, CRM), derived from Odoo's `sale.order` fields (upstreams.md §1.8): `state`,
 * `invoice_status`, the delivery state sale_stock computes from the order's pickings
 * (`delivery_status`: `pending`, `started`, `partial`, `full`, or `false` when nothing is to be
 * delivered), and a payment state where the record carries one (standard Odoo keeps it on the
 * invoice, `account.move.payment_state`).
 */

/** The vocabulary, in lifecycle order; `unknown` when the record lacks a `state` we know. */
export const CANONICAL_ORDER_STATUSES = ['quotation', 'confirmed', 'partially_shipped', 'shipped', 'invoiced', 'paid', 'cancelled', 'unknown'] as const;

export type CanonicalOrderStatus = (typeof CANONICAL_ORDER_STATUSES)[number];

/** The source values of one order, as Odoo answers them (`false` for empty). */
export interface OrderStatusSource {
  state?: unknown;
  invoiceStatus?: unknown;
  deliveryStatus?: unknown;
  paymentState?: unknown;
}

/** Invoice statuses saying everything ordered is invoiced (`upselling`: and more could be). */
const FULLY_INVOICED = new Set(['invoiced', 'upselling']);
/** Payment states of money received (`in_payment`: paid, awaiting bank reconciliation). */
const PAID = new Set(['paid', 'in_payment']);

/**
 * The furthest step of the lifecycle quotation → confirmed → partially_shipped → shipped →
 * invoiced → paid the order has reached, an unfinished earlier step holding it back: goods
 * still to ship keep an order `confirmed` or `partially_shipped` whatever its invoices say (an
 * order paid in advance shows `confirmed` until it ships). An order with nothing to deliver
 * (services only, or no delivery state known) moves on by its invoices and payment.
 *
 * @example
 * canonicalOrderStatus({ state: 'sale', invoiceStatus: 'invoiced', deliveryStatus: 'full', paymentState: 'paid' }); // 'paid'
 * canonicalOrderStatus({ state: 'sale', invoiceStatus: 'to invoice', deliveryStatus: 'partial' }); // 'partially_shipped'
 */
export function canonicalOrderStatus(source: OrderStatusSource): CanonicalOrderStatus {
  const { state, invoiceStatus, deliveryStatus, paymentState } = source;
  if (state === 'cancel') return 'cancelled';
  if (state === 'draft' || state === 'sent') return 'quotation';
  // `done` is Odoo ≤16's locked sales order.
  if (state !== 'sale' && state !== 'done') return 'unknown';
  if (deliveryStatus === 'partial') return 'partially_shipped';
  // `started`: an earlier picking step (pick, pack) is done, nothing has left the warehouse.
  if (deliveryStatus === 'pending' || deliveryStatus === 'started') return 'confirmed';
  if (typeof invoiceStatus === 'string' && FULLY_INVOICED.has(invoiceStatus)) {
    return typeof paymentState === 'string' && PAID.has(paymentState) ? 'paid' : 'invoiced';
  }
  return deliveryStatus === 'full' ? 'shipped' : 'confirmed';
}
