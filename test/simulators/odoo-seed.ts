/** @module Retail model schemas (Odoo 19 field names, §1.8) and the deterministic seed data of the Odoo simulator. */
import { odooDatetime, odooErrors, round2 } from './odoo-orm.js';
import type { OdooField, OdooModel, OdooOrm, OdooRecord, OdooSeed } from './odoo-orm.js';

/** Flat tax rate applied to order lines (simulator simplification: no tax records). */
export const ODOO_TAX_RATE = 0.21;

const char = (string: string, extra: Partial<OdooField> = {}): OdooField => ({ type: 'char', string, ...extra });
const num = (string: string, extra: Partial<OdooField> = {}): OdooField => ({ type: 'float', string, ...extra });
const money = (string: string, extra: Partial<OdooField> = {}): OdooField => ({ type: 'monetary', string, ...extra });
const bool = (string: string, extra: Partial<OdooField> = {}): OdooField => ({ type: 'boolean', string, ...extra });
const date = (string: string): OdooField => ({ type: 'date', string });
const datetime = (string: string, extra: Partial<OdooField> = {}): OdooField => ({ type: 'datetime', string, ...extra });
const m2o = (relation: string, string: string, extra: Partial<OdooField> = {}): OdooField => ({ type: 'many2one', relation, string, ...extra });
const o2m = (relation: string, inverse: string, string: string): OdooField => ({ type: 'one2many', relation, inverse, string });
const sel = (string: string, selection: Array<[string, string]>, extra: Partial<OdooField> = {}): OdooField => ({ type: 'selection', string, selection, ...extra });

const lineSubtotal = (line: OdooRecord): number =>
  round2(Number(line.product_uom_qty ?? 0) * Number(line.price_unit ?? 0) * (1 - Number(line.discount ?? 0) / 100));

function orderLines(orm: OdooOrm, orderId: number): OdooRecord[] {
  return orm.all('sale.order.line').filter((l) => l.order_id === orderId);
}

function orderUntaxed(orm: OdooOrm, orderId: number): number {
  return round2(orderLines(orm, orderId).reduce((sum, l) => sum + lineSubtotal(l), 0));
}

function nextName(orm: OdooOrm, model: string, prefix: string, width: number): string {
  const numbers = orm
    .all(model)
    .map((r) => (typeof r.name === 'string' && r.name.startsWith(prefix) ? Number(r.name.slice(prefix.length)) : 0));
  return `${prefix}${String(Math.max(0, ...numbers) + 1).padStart(width, '0')}`;
}

function freeQty(orm: OdooOrm, productId: number): number {
  return orm
    .all('stock.quant')
    .filter((q) => q.product_id === productId && orm.get('stock.location', q.location_id as number)?.usage === 'internal')
    .reduce((sum, q) => sum + Number(q.quantity) - Number(q.reserved_quantity ?? 0), 0);
}

/**
 * sale_stock's `delivery_status`: `false` without transfers (or only cancelled ones), `full`
 * once every transfer is done or cancelled, `partial` when one is done and goods were
 * delivered, `started` when one is done but nothing delivered yet, otherwise `pending`.
 */
function deliveryStatus(orm: OdooOrm, orderId: number): string | false {
  const pickings = orm.all('stock.picking').filter((p) => p.sale_id === orderId);
  if (pickings.length === 0 || pickings.every((p) => p.state === 'cancel')) return false;
  if (pickings.every((p) => p.state === 'done' || p.state === 'cancel')) return 'full';
  if (!pickings.some((p) => p.state === 'done')) return 'pending';
  return orderLines(orm, orderId).some((l) => Number(l.qty_delivered ?? 0) > 0) ? 'partial' : 'started';
}

function confirmOrders(orm: OdooOrm, ids: number[]): true {
  orm.assertUnlocked('sale.order', ids);
  const orders = orm.browse('sale.order', ids);
  const wrong = orders.filter((o) => o.state !== 'draft' && o.state !== 'sent');
  if (wrong.length > 0) {
    throw odooErrors.user(
      `The following orders are not in a state requiring confirmation: ${wrong.map((o) => o.name).join(', ')}`,
    );
  }
  for (const order of orders) {
    const now = odooDatetime(orm.now());
    const lines = orderLines(orm, order.id);
    orm.write('sale.order', [order.id], { state: 'sale', date_order: now, invoice_status: lines.length > 0 ? 'to invoice' : 'no' });
    const storable = lines.filter((l) => orm.get('product.product', l.product_id as number)?.is_storable === true);
    if (storable.length === 0) continue;
    const ready = storable.every((l) => freeQty(orm, l.product_id as number) >= Number(l.product_uom_qty));
    orm.create('stock.picking', [{
      name: nextName(orm, 'stock.picking', 'WH/OUT/', 5),
      origin: order.name,
      partner_id: order.partner_shipping_id || order.partner_id,
      sale_id: order.id,
      scheduled_date: now,
      state: ready ? 'assigned' : 'confirmed',
    }]);
  }
  return true;
}

function cancelOrders(orm: OdooOrm, ids: number[]): true {
  orm.assertUnlocked('sale.order', ids);
  for (const order of orm.browse('sale.order', ids)) {
    const posted = orm.all('account.move').filter((m) => m.invoice_origin === order.name && m.state === 'posted');
    if (posted.length > 0) {
      throw odooErrors.user(
        `Cannot cancel order ${String(order.name)}: it has posted invoices (${posted.map((m) => m.name).join(', ')}). Reset them to draft or reverse them first.`,
      );
    }
    orm.write('sale.order', [order.id], { state: 'cancel', invoice_status: 'no' });
    for (const picking of orm.all('stock.picking').filter((p) => p.sale_id === order.id && p.state !== 'done')) {
      orm.write('stock.picking', [picking.id], { state: 'cancel' });
    }
  }
  return true;
}

function draftOrders(orm: OdooOrm, ids: number[]): true {
  const orders = orm.browse('sale.order', ids);
  const wrong = orders.filter((o) => o.state !== 'cancel' && o.state !== 'sent');
  if (wrong.length > 0) throw odooErrors.user('Only cancelled or sent quotations can be set back to quotation.');
  orm.write('sale.order', ids, { state: 'draft' });
  return true;
}

function postMoves(orm: OdooOrm, ids: number[]): true {
  orm.assertUnlocked('account.move', ids);
  for (const move of orm.browse('account.move', ids)) {
    if (move.state === 'posted') throw odooErrors.user(`The entry ${String(move.name)} (id ${move.id}) is already posted.`);
    if (move.state === 'cancel') throw odooErrors.user('You cannot post a cancelled entry.');
    const year = orm.now().getUTCFullYear();
    orm.write('account.move', [move.id], {
      state: 'posted',
      name: move.name && move.name !== '/' ? move.name : nextName(orm, 'account.move', `INV/${year}/`, 5),
      invoice_date: move.invoice_date || odooDatetime(orm.now()).slice(0, 10),
      amount_residual: move.amount_total,
      payment_state: 'not_paid',
    });
  }
  return true;
}

/**
 * The retail model schemas served by the simulator. Computed fields (amounts,
 * `qty_available`, `display_name`…) are evaluated on read from the stored records.
 */
export function retailModels(): Record<string, OdooModel> {
  const models: OdooModel[] = [
    { name: 'res.country', description: 'Country', order: 'name', fields: { name: char('Country Name', { required: true }), code: char('Country Code') } },
    { name: 'res.currency', description: 'Currency', order: 'name', fields: { name: char('Currency', { required: true }), symbol: char('Symbol') } },
    { name: 'res.users', description: 'User', order: 'name, login', fields: { name: char('Name'), login: char('Login', { required: true }), partner_id: m2o('res.partner', 'Related Partner') } },
    {
      name: 'res.partner', description: 'Contact', order: 'name, id desc',
      displayName: (rec, orm) => {
        const parent = typeof rec.parent_id === 'number' ? orm.get('res.partner', rec.parent_id) : undefined;
        return parent ? `${String(parent.name)}, ${String(rec.name)}` : String(rec.name);
      },
      fields: {
        name: char('Name', { required: true }),
        is_company: bool('Is a Company'),
        company_type: sel('Company Type', [['person', 'Individual'], ['company', 'Company']], { compute: (rec) => (rec.is_company ? 'company' : 'person') }),
        parent_id: m2o('res.partner', 'Related Company'),
        child_ids: o2m('res.partner', 'parent_id', 'Contact'),
        email: char('Email'), phone: char('Phone'), street: char('Street'), city: char('City'), zip: char('Zip'),
        country_id: m2o('res.country', 'Country'),
        vat: char('Tax ID'), ref: char('Reference'), lang: char('Language'),
        customer_rank: { type: 'integer', string: 'Customer Rank' },
        supplier_rank: { type: 'integer', string: 'Supplier Rank' },
        active: bool('Active', { default: () => true }),
      },
    },
    { name: 'res.partner.bank', description: 'Bank Accounts', order: 'id', displayName: (rec) => String(rec.acc_number), fields: { acc_number: char('Account Number', { required: true }), partner_id: m2o('res.partner', 'Account Holder', { required: true }), bank_name: char('Bank') } },
    { name: 'stock.location', description: 'Inventory Locations', order: 'name', fields: { name: char('Location Name', { required: true }), usage: sel('Location Type', [['internal', 'Internal Location'], ['customer', 'Customer Location'], ['supplier', 'Vendor Location']]) } },
    {
      name: 'product.product', description: 'Product Variant', order: 'default_code, name, id',
      displayName: (rec) => (rec.default_code ? `[${String(rec.default_code)}] ${String(rec.name)}` : String(rec.name)),
      fields: {
        name: char('Name', { required: true }),
        default_code: char('Internal Reference'), barcode: char('Barcode'),
        type: sel('Product Type', [['consu', 'Goods'], ['service', 'Service'], ['combo', 'Combo']], { default: () => 'consu' }),
        is_storable: bool('Track Inventory'), sale_ok: bool('Can be Sold', { default: () => true }),
        lst_price: num('Sales Price'), standard_price: num('Cost'),
        qty_available: num('Quantity On Hand', { compute: (rec, orm) => orm.all('stock.quant').filter((q) => q.product_id === rec.id && orm.get('stock.location', q.location_id as number)?.usage === 'internal').reduce((s, q) => s + Number(q.quantity), 0) }),
        free_qty: num('Free To Use Quantity', { compute: (rec, orm) => freeQty(orm, rec.id) }),
        active: bool('Active', { default: () => true }),
      },
    },
    {
      name: 'stock.quant', description: 'Quants', order: 'id',
      displayName: (rec, orm) => String(orm.get('product.product', rec.product_id as number)?.name ?? rec.id),
      fields: {
        product_id: m2o('product.product', 'Product', { required: true, ondelete: 'cascade' }),
        location_id: m2o('stock.location', 'Location', { required: true }),
        quantity: num('Quantity'), reserved_quantity: num('Reserved Quantity'),
        available_quantity: num('Available Quantity', { compute: (rec) => Number(rec.quantity) - Number(rec.reserved_quantity ?? 0) }),
        in_date: datetime('Incoming Date'),
      },
    },
    {
      name: 'sale.order', description: 'Sales Order', order: 'date_order desc, id desc',
      onCreate: (orm, vals) => {
        vals.name ??= nextName(orm, 'sale.order', 'S', 5);
        if (typeof vals.partner_id === 'number') {
          vals.partner_invoice_id ??= vals.partner_id;
          vals.partner_shipping_id ??= vals.partner_id;
        }
      },
      beforeUnlink: (_orm, rec) => {
        if (rec.state === 'sale') throw odooErrors.user('You can not delete a sent quotation or a confirmed sales order. You must first cancel it.');
      },
      actions: { action_confirm: confirmOrders, action_cancel: cancelOrders, action_draft: draftOrders },
      fields: {
        name: char('Order Reference', { required: true }),
        partner_id: m2o('res.partner', 'Customer', { required: true }),
        partner_invoice_id: m2o('res.partner', 'Invoice Address'),
        partner_shipping_id: m2o('res.partner', 'Delivery Address'),
        date_order: datetime('Order Date', { default: (orm) => odooDatetime(orm.now()) }),
        validity_date: date('Expiration'), commitment_date: datetime('Delivery Date'),
        client_order_ref: char('Customer Reference'), origin: char('Source Document'),
        order_line: o2m('sale.order.line', 'order_id', 'Order Lines'),
        amount_untaxed: money('Untaxed Amount', { compute: (rec, orm) => orderUntaxed(orm, rec.id) }),
        amount_tax: money('Taxes', { compute: (rec, orm) => round2(orderUntaxed(orm, rec.id) * ODOO_TAX_RATE) }),
        amount_total: money('Total', { compute: (rec, orm) => round2(orderUntaxed(orm, rec.id) + round2(orderUntaxed(orm, rec.id) * ODOO_TAX_RATE)) }),
        currency_id: m2o('res.currency', 'Currency', { default: () => 1 }),
        invoice_status: sel('Invoice Status', [['upselling', 'Upselling Opportunity'], ['invoiced', 'Fully Invoiced'], ['to invoice', 'To Invoice'], ['no', 'Nothing to Invoice']], { default: () => 'no' }),
        invoice_ids: { type: 'many2many', relation: 'account.move', string: 'Invoices', compute: (rec, orm) => orm.all('account.move').filter((m) => m.invoice_origin === rec.name).map((m) => m.id) },
        locked: bool('Locked'),
        state: sel('Status', [['draft', 'Quotation'], ['sent', 'Quotation Sent'], ['sale', 'Sales Order'], ['cancel', 'Cancelled']], { default: () => 'draft' }),
        // sale_stock: the order's transfers and the delivery state computed from them.
        picking_ids: o2m('stock.picking', 'sale_id', 'Transfers'),
        delivery_status: sel('Delivery Status', [['pending', 'Not Delivered'], ['started', 'Started'], ['partial', 'Partially Delivered'], ['full', 'Fully Delivered']], { compute: (rec, orm) => deliveryStatus(orm, rec.id) }),
      },
    },
    {
      name: 'sale.order.line', description: 'Sales Order Line', order: 'order_id, sequence, id',
      onCreate: (orm, vals) => {
        const product = typeof vals.product_id === 'number' ? orm.get('product.product', vals.product_id) : undefined;
        if (product) {
          vals.name ??= orm.displayName('product.product', product);
          vals.price_unit ??= product.lst_price;
        }
      },
      fields: {
        order_id: m2o('sale.order', 'Order Reference', { required: true, ondelete: 'cascade' }),
        sequence: { type: 'integer', string: 'Sequence', default: () => 10 },
        product_id: m2o('product.product', 'Product', { required: true }),
        name: { type: 'text', string: 'Description', required: true },
        product_uom_qty: num('Quantity', { default: () => 1 }),
        price_unit: num('Unit Price'), discount: num('Discount (%)'),
        price_subtotal: money('Subtotal', { compute: (rec) => lineSubtotal(rec) }),
        price_tax: num('Total Tax', { compute: (rec) => round2(lineSubtotal(rec) * ODOO_TAX_RATE) }),
        price_total: money('Total', { compute: (rec) => round2(lineSubtotal(rec) * (1 + ODOO_TAX_RATE)) }),
        qty_delivered: num('Delivery Quantity'), qty_invoiced: num('Invoiced Quantity'),
      },
    },
    {
      name: 'account.move', description: 'Journal Entry', order: 'invoice_date desc, name desc, id desc',
      actions: { action_post: postMoves },
      beforeUnlink: (_orm, rec) => {
        if (rec.state === 'posted') throw odooErrors.user('You cannot delete an entry which has been posted once.');
      },
      fields: {
        name: char('Number', { default: () => '/' }),
        move_type: sel('Type', [['entry', 'Journal Entry'], ['out_invoice', 'Customer Invoice'], ['out_refund', 'Customer Credit Note'], ['in_invoice', 'Vendor Bill'], ['in_refund', 'Vendor Credit Note'], ['out_receipt', 'Sales Receipt'], ['in_receipt', 'Purchase Receipt']], { required: true, default: () => 'entry' }),
        state: sel('Status', [['draft', 'Draft'], ['posted', 'Posted'], ['cancel', 'Cancelled']], { required: true, default: () => 'draft' }),
        partner_id: m2o('res.partner', 'Partner'),
        invoice_date: date('Invoice/Bill Date'), invoice_date_due: date('Due Date'),
        invoice_origin: char('Origin'), ref: char('Reference'), payment_reference: char('Payment Reference'),
        amount_untaxed: money('Untaxed Amount'), amount_tax: money('Tax'), amount_total: money('Total'),
        amount_residual: money('Amount Due'),
        currency_id: m2o('res.currency', 'Currency', { default: () => 1 }),
        payment_state: sel('Payment Status', [['not_paid', 'Not Paid'], ['in_payment', 'In Payment'], ['paid', 'Paid'], ['partial', 'Partially Paid'], ['reversed', 'Reversed'], ['blocked', 'Blocked'], ['invoicing_legacy', 'Invoicing App Legacy']], { default: () => 'not_paid' }),
        partner_bank_id: m2o('res.partner.bank', 'Recipient Bank'),
      },
    },
    {
      name: 'stock.picking', description: 'Transfer', order: 'scheduled_date asc, id desc',
      fields: {
        name: char('Reference', { default: () => '/' }), origin: char('Source Document'),
        partner_id: m2o('res.partner', 'Contact'),
        picking_type_code: sel('Type of Operation', [['incoming', 'Receipt'], ['outgoing', 'Delivery'], ['internal', 'Internal Transfer']], { default: () => 'outgoing' }),
        location_id: m2o('stock.location', 'Source Location', { default: () => 8 }),
        location_dest_id: m2o('stock.location', 'Destination Location', { default: () => 5 }),
        scheduled_date: datetime('Scheduled Date'), date_done: datetime('Date of Transfer'),
        sale_id: m2o('sale.order', 'Sales Order'),
        carrier_tracking_ref: char('Tracking Reference'),
        state: sel('Status', [['draft', 'Draft'], ['waiting', 'Waiting Another Operation'], ['confirmed', 'Waiting'], ['assigned', 'Ready'], ['done', 'Done'], ['cancel', 'Cancelled']], { default: () => 'draft' }),
      },
    },
  ];
  return Object.fromEntries(models.map((m) => [m.name, m]));
}

/** A simulator user: `uid` is the `res.users` id. */
export interface OdooUser {
  uid: number;
  login: string;
  password?: string;
  apiKey?: string;
}

const CREATED = '2025-01-06 08:00:00';
const rec = (id: number, values: Record<string, unknown>): OdooRecord => ({ id, create_date: CREATED, write_date: CREATED, ...values });

/**
 * The deterministic retail data set. Key facts for demos and assertions:
 *
 * - Partners: 10 Harbor Outfitters (`C-1001`), 11 Lumen Home Goods (`C-1002`),
 *   12 Northwind Cycles (`C-1003`), 13 Jane Doe (contact of 10), 14 Marc Lefebvre
 *   (contact of 11), 15 Priya Shah (`C-1004`, individual, no phone → `false`).
 * - Products 21–26 (`FURN-0001` … `SERV-0900`); `LAMP-0100` (23) is out of stock.
 * - Orders: 1 S00001 sale (invoice 41 paid), 2 S00002 sale (42 partial),
 *   3 S00003 sale (43 in_payment), 4 S00004 sale (44 not_paid, overdue),
 *   5 S00005 draft quotation, 6 S00006 cancelled, 7 S00007 sale, to invoice.
 * - Invoices 41–44 `INV/2025/00001`…`00004`, `invoice_origin` = SO name.
 * - Pickings 51–55 `WH/OUT/00001`…`00005` (S00001–S00003 done, S00004 ready, S00007 waiting).
 *
 * @param users simulator users, stored as `res.users` records
 */
export function retailSeed(users: OdooUser[] = [{ uid: 2, login: 'admin' }]): OdooSeed {
  const lines: Array<[number, number, number, number, number?]> = [
    // [order, product, qty, price_unit, discount]
    [1, 21, 4, 129], [1, 22, 1, 249],
    [2, 24, 10, 59], [2, 25, 6, 39.5],
    [3, 23, 2, 89.9], [3, 26, 1, 45],
    [4, 22, 1, 249], [4, 26, 1, 45],
    [5, 21, 12, 129, 10],
    [6, 24, 3, 59],
    [7, 23, 1, 89.9],
  ];
  const products: Array<[number, string, string, number, number, boolean]> = [
    [21, 'FURN-0001', 'Oak Dining Chair', 129, 54, true],
    [22, 'FURN-0002', 'Walnut Side Table', 249, 110, true],
    [23, 'LAMP-0100', 'Brass Desk Lamp', 89.9, 31.5, true],
    [24, 'TEXT-0200', 'Linen Throw Blanket', 59, 18, true],
    [25, 'KIT-0300', 'Ceramic Pour-Over Set', 39.5, 12.75, true],
    [26, 'SERV-0900', 'White-Glove Delivery', 45, 0, false],
  ];
  const productName = new Map(products.map(([id, code, name]) => [id, `[${code}] ${name}`]));
  const untaxed = (order: number): number =>
    round2(lines.filter((l) => l[0] === order).reduce((s, [, , q, p, d = 0]) => s + round2(q * p * (1 - d / 100)), 0));
  const total = (order: number): number => round2(untaxed(order) + round2(untaxed(order) * ODOO_TAX_RATE));
  const orders: Array<[number, number, string, string, string]> = [
    // [id, partner, state, invoice_status, date_order]
    [1, 10, 'sale', 'invoiced', '2025-03-03 09:15:00'],
    [2, 11, 'sale', 'invoiced', '2025-03-05 14:02:00'],
    [3, 12, 'sale', 'invoiced', '2025-03-10 10:45:00'],
    [4, 15, 'sale', 'invoiced', '2025-03-12 16:30:00'],
    [5, 10, 'draft', 'no', '2025-03-20 11:00:00'],
    [6, 11, 'cancel', 'no', '2025-03-21 08:20:00'],
    [7, 15, 'sale', 'to invoice', '2025-03-24 13:05:00'],
  ];
  const invoices: Array<[number, number, string, string, string, (t: number) => number]> = [
    // [id, order, payment_state, invoice_date, due date, residual(total)]
    [41, 1, 'paid', '2025-03-04', '2025-04-03', () => 0],
    [42, 2, 'partial', '2025-03-06', '2025-04-05', () => 400],
    [43, 3, 'in_payment', '2025-03-11', '2025-04-10', () => 0],
    [44, 4, 'not_paid', '2025-03-13', '2025-04-12', (t) => t],
  ];
  const orderPartner = new Map(orders.map(([id, partner]) => [id, partner]));
  return {
    'res.country': [rec(21, { name: 'Belgium', code: 'BE' }), rec(75, { name: 'France', code: 'FR' }), rec(233, { name: 'United States', code: 'US' })],
    'res.currency': [rec(1, { name: 'EUR', symbol: '€' })],
    'res.users': users.map((u) => rec(u.uid, { name: u.login, login: u.login, partner_id: false })),
    'res.partner': [
      rec(10, { name: 'Harbor Outfitters', is_company: true, email: 'orders@harbor-outfitters.example', phone: '+32 3 555 01 01', street: 'Kaaistraat 12', city: 'Antwerp', zip: '2000', country_id: 21, vat: 'BE0477472701', ref: 'C-1001', lang: 'en_US', customer_rank: 3, supplier_rank: 0, active: true }),
      rec(11, { name: 'Lumen Home Goods', is_company: true, email: 'buying@lumenhome.example', phone: '+33 4 55 50 12 34', street: '8 Rue de la République', city: 'Lyon', zip: '69002', country_id: 75, vat: 'FR40303265045', ref: 'C-1002', lang: 'fr_FR', customer_rank: 2, supplier_rank: 0, active: true }),
      rec(12, { name: 'Northwind Cycles', is_company: true, email: 'ap@northwind-cycles.example', phone: '+1 503 555 0142', street: '415 NW 11th Ave', city: 'Portland', zip: '97209', country_id: 233, vat: false, ref: 'C-1003', lang: 'en_US', customer_rank: 1, supplier_rank: 0, active: true }),
      rec(13, { name: 'Jane Doe', is_company: false, parent_id: 10, email: 'jane.doe@harbor-outfitters.example', phone: '+32 3 555 01 02', city: 'Antwerp', country_id: 21, ref: false, lang: 'en_US', customer_rank: 0, supplier_rank: 0, active: true }),
      rec(14, { name: 'Marc Lefebvre', is_company: false, parent_id: 11, email: 'marc.lefebvre@lumenhome.example', phone: false, city: 'Lyon', country_id: 75, ref: false, lang: 'fr_FR', customer_rank: 0, supplier_rank: 0, active: true }),
      rec(15, { name: 'Priya Shah', is_company: false, parent_id: false, email: 'priya.shah@mail.example', phone: false, street: 'Rue Haute 41', city: 'Brussels', zip: '1000', country_id: 21, ref: 'C-1004', lang: 'en_US', customer_rank: 2, supplier_rank: 0, active: true }),
    ],
    'res.partner.bank': [rec(1, { acc_number: 'BE71 0961 2345 6769', partner_id: 10, bank_name: 'Retail Demo Bank' })],
    'stock.location': [rec(5, { name: 'Partners/Customers', usage: 'customer' }), rec(8, { name: 'WH/Stock', usage: 'internal' })],
    'product.product': products.map(([id, code, name, price, cost, storable], i) =>
      rec(id, { name, default_code: code, barcode: `54012340000${i + 1}${[2, 9, 6, 3, 0, 7][i]}`, type: storable ? 'consu' : 'service', is_storable: storable, sale_ok: true, lst_price: price, standard_price: cost, active: true })),
    'stock.quant': [[31, 21, 40, 4], [32, 22, 12, 1], [33, 23, 0, 0], [34, 24, 75, 0], [35, 25, 8, 0]].map(([id, product, qty, reserved]) =>
      rec(id!, { product_id: product, location_id: 8, quantity: qty, reserved_quantity: reserved, in_date: '2025-02-01 07:30:00' })),
    'sale.order': orders.map(([id, partner, state, invoiceStatus, dateOrder]) =>
      rec(id, { name: `S0000${id}`, partner_id: partner, partner_invoice_id: partner, partner_shipping_id: partner, date_order: dateOrder, validity_date: false, commitment_date: false, client_order_ref: id === 1 ? 'PO-HO-7781' : false, origin: false, currency_id: 1, invoice_status: invoiceStatus, locked: false, state })),
    'sale.order.line': lines.map(([order, product, qty, price, discount = 0], i) => {
      const invoiced = orders.find((o) => o[0] === order)![3] === 'invoiced';
      const delivered = order <= 3;
      return rec(101 + i, { order_id: order, sequence: 10, product_id: product, name: productName.get(product), product_uom_qty: qty, price_unit: price, discount, qty_delivered: delivered ? qty : 0, qty_invoiced: invoiced ? qty : 0 });
    }),
    'account.move': invoices.map(([id, order, paymentState, invoiceDate, due, residual], i) =>
      rec(id, { name: `INV/2025/0000${i + 1}`, move_type: 'out_invoice', state: 'posted', partner_id: orderPartner.get(order), invoice_date: invoiceDate, invoice_date_due: due, invoice_origin: `S0000${order}`, ref: false, payment_reference: `INV/2025/0000${i + 1}`, amount_untaxed: untaxed(order), amount_tax: round2(untaxed(order) * ODOO_TAX_RATE), amount_total: total(order), amount_residual: residual(total(order)), currency_id: 1, payment_state: paymentState, partner_bank_id: 1 })),
    'stock.picking': ([[51, 1, 'done'], [52, 2, 'done'], [53, 3, 'done'], [54, 4, 'assigned'], [55, 7, 'confirmed']] as Array<[number, number, string]>).map(([id, order, state], i) =>
      rec(id, { name: `WH/OUT/0000${i + 1}`, origin: `S0000${order}`, partner_id: orderPartner.get(order), picking_type_code: 'outgoing', location_id: 8, location_dest_id: 5, scheduled_date: orders[order - 1]![4], date_done: state === 'done' ? orders[order - 1]![4].replace(/^(\d{4}-\d{2}-)(\d{2})/, (_m, p: string, d: string) => `${p}${String(Number(d) + 1).padStart(2, '0')}`) : false, sale_id: order, carrier_tracking_ref: state === 'done' ? `1Z999AA1012345678${i}` : false, state })),
  };
}
