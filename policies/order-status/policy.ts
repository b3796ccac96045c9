/**
 * @module `order-status`: on Odoo reads of sales orders (`search_read` / `read`, JSON-2 or
 * JSON-RPC `execute_kw`), each order record gets one canonical status (`status.ts`), so the
 * storefront and the service desk read the same word for the same order. A call that lists
 * the fields it wants is extended with the ones the status needs (`requestFields`), which are
 * removed from the answer again unless the caller asked for them. The status is added by a
 * response transform: kept copies (idempotent replays) get it too; an answer that is not JSON
 * passes unchanged.
 */
import type { RequestContext, ResponseTransform } from '../../contracts/index.js';
import { definePolicy } from '../define-policy.js';
import { orderStatusSchema, type OrderStatusConfig } from './schema.js';
import { canonicalOrderStatus } from './status.js';

/** The Odoo read methods whose answer is a list of records. */
const RECORD_READS = new Set(['search_read', 'read']);

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Where a call names its fields: an array the policy may extend, and how to put a new one back. */
interface FieldsSlot {
  fields: unknown[];
  replace(fields: string[]): unknown;
}

/** JSON-2: `{ ..., fields: [...] }` (named parameters only). */
function json2Slot(body: unknown): FieldsSlot | undefined {
  if (!isRecord(body) || !Array.isArray(body.fields)) return undefined;
  const fields = body.fields;
  return { fields, replace: (next) => ({ ...body, fields: next }) };
}

/**
 * JSON-RPC `execute_kw(db, uid, key, model, method, args, kwargs)`: `search_read(domain,
 * fields, …)` and `read(ids, fields, …)` take the fields second, positionally or as a keyword.
 */
function jsonRpcSlot(body: unknown): FieldsSlot | undefined {
  if (!isRecord(body) || !isRecord(body.params) || !Array.isArray(body.params.args)) return undefined;
  const params = body.params;
  const rpcArgs = params.args as unknown[];
  const callArgs = Array.isArray(rpcArgs[5]) ? rpcArgs[5] : [];
  const kwargs = isRecord(rpcArgs[6]) ? rpcArgs[6] : undefined;
  const rebuild = (nextCallArgs: unknown[], nextKwargs: Record<string, unknown> | undefined): unknown => {
    const args = [...rpcArgs];
    args[5] = nextCallArgs;
    if (nextKwargs !== undefined) args[6] = nextKwargs;
    return { ...body, params: { ...params, args } };
  };
  if (Array.isArray(callArgs[1])) {
    const fields = callArgs[1];
    return { fields, replace: (next) => rebuild([callArgs[0], next, ...callArgs.slice(2)], kwargs) };
  }
  if (kwargs !== undefined && Array.isArray(kwargs.fields)) {
    const fields = kwargs.fields;
    return { fields, replace: (next) => rebuild(callArgs, { ...kwargs, fields: next }) };
  }
  return undefined;
}

/**
 * @param config.field defaults to `gatehouse_status`
 * @param config.models defaults to `["sale.order"]`
 * @example
 * // on an Odoo version's order view route: each order gets `gatehouse_status`
 * { policy: 'order-status', config: {} }
 * // POST /erp/v1/sale.order/search_read {"fields":["name"]}
 * //   → [{ "id": 7, "name": "S00007", "gatehouse_status": "confirmed" }, …]
 */
export const orderStatusPolicy = definePolicy<OrderStatusConfig>({
  name: 'order-status',
  // After the checks that read the request as sent (contract validation 800, field-auth 920),
  // since it extends the field list; before idempotency (600) and the cache (500), so kept
  // answers are transformed too.
  priority: 700,
  schema: orderStatusSchema,
  needsBody: true,
  create(config, deps) {
    const version = deps.version;
    if (version === undefined) throw new Error('order-status is bound per API version');
    const kind = version.spec.upstream.kind;
    if (kind !== 'odoo-json2' && kind !== 'odoo-jsonrpc') throw new Error(`order-status reads Odoo orders; this version's upstream is "${kind}"`);
    const slotOf = kind === 'odoo-json2' ? json2Slot : jsonRpcSlot;
    const models = new Set(config.models);
    const { field, deliveryStatusField, paymentStateField, maxResponseBytes } = config;

    /** Adds the status to each order record of a JSON-2 list or a JSON-RPC `{result}`; drops `added` fields. */
    function addStatus(json: unknown, added: readonly string[]): unknown {
      const records = Array.isArray(json) ? json : isRecord(json) && Array.isArray(json.result) ? json.result : undefined;
      if (records === undefined) return json;
      for (const record of records) {
        if (!isRecord(record)) continue;
        record[field] = canonicalOrderStatus({
          state: record.state,
          invoiceStatus: record.invoice_status,
          deliveryStatus: record[deliveryStatusField],
          paymentState: record[paymentStateField],
        });
        for (const name of added) delete record[name];
      }
      return json;
    }

    const statusOnly: ResponseTransform = {
      name: 'order-status',
      failClosed: false,
      maxBytes: maxResponseBytes,
      apply: (json, status) => (status === 200 ? addStatus(json, []) : json),
    };

    /** Extends an explicit field list with what the status needs; returns the fields added. */
    function requestSourceFields(ctx: RequestContext): string[] {
      const slot = slotOf(ctx.json);
      // No list (or an empty one): Odoo answers every field.
      if (slot === undefined || slot.fields.length === 0) return [];
      const missing = config.requestFields.filter((name) => !slot.fields.includes(name));
      if (missing.length === 0) return [];
      const next = slot.replace([...(slot.fields as string[]), ...missing]);
      // A copy with the longer list: what the adapter forwards (JSON-RPC rebuilds from `json`).
      ctx.json = next;
      ctx.body = Buffer.from(JSON.stringify(next), 'utf8');
      return missing;
    }

    return function orderStatus(_req, _res, ctx) {
      const operation = ctx.operation;
      if (operation === undefined || operation.action !== 'read' || !models.has(operation.entity) || !RECORD_READS.has(operation.method ?? '')) return;
      const added = requestSourceFields(ctx);
      const transform: ResponseTransform =
        added.length === 0
          ? statusOnly
          : { name: 'order-status', failClosed: false, maxBytes: maxResponseBytes, apply: (json, status) => (status === 200 ? addStatus(json, added) : json) };
      (ctx.responseTransforms ??= []).push(transform);
    };
  },
});
