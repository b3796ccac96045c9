/**
 * @module What both Odoo adapters share: method classification (reads are listed; anything
 * else is a write — fail closed) and the mapping of Odoo exception names to problems
 * (upstreams.md §1.4, §1.6, §6). `debug` tracebacks are never passed on.
 */
import type { BusinessOperation } from '../../contracts/index.js';
import { GatewayError } from '../../policies/index.js';
import { fieldNames, idList, isRecord } from './types.js';

/** Methods known not to change data. Everything else counts as a write on the model. */
export const ODOO_READ_METHODS = new Set([
  'search_read',
  'read',
  'search',
  'search_count',
  'fields_get',
  'name_search',
  'name_get',
  'default_get',
  'read_group',
  'web_search_read',
  'web_read',
  'check_access_rights',
  'context_get',
]);

export function classifyOdooCall(
  model: string,
  method: string,
  params: { ids?: unknown; vals?: unknown; fields?: unknown },
): BusinessOperation {
  const ids = idList(params.ids);
  if (ODOO_READ_METHODS.has(method)) {
    const fields = Array.isArray(params.fields) ? params.fields.filter((f): f is string => typeof f === 'string') : [];
    return { system: 'odoo', entity: model, action: 'read', method, fields, ids };
  }
  const action = method === 'create' ? 'create' : method === 'write' ? 'update' : method === 'unlink' ? 'delete' : 'call';
  return { system: 'odoo', entity: model, action, method, fields: fieldNames(params.vals), ids };
}

/** Maps an Odoo exception (`name` as in `odoo.exceptions.AccessError`) to a problem. */
export function odooProblem(name: string, message: string, status: number): GatewayError {
  const upstream = { system: 'odoo', error: name };
  const short = name.slice(name.lastIndexOf('.') + 1);
  switch (short) {
    case 'AccessDenied':
    case 'Unauthorized':
    case 'SessionExpiredException':
      return new GatewayError('upstream.auth_failed', 'The ERP refused the gateway credential.', { extensions: { upstream } });
    case 'AccessError':
      return new GatewayError('upstream.forbidden', message, { extensions: { upstream } });
    case 'MissingError':
    case 'NotFound':
      return new GatewayError('upstream.not_found', message, { extensions: { upstream } });
    case 'ValidationError':
    case 'UserError':
    case 'RedirectWarning':
    case 'UnprocessableEntity':
    case 'BadRequest':
    case 'UnsupportedMediaType':
      return new GatewayError('upstream.validation_failed', message, { extensions: { upstream } });
    // Odoo answers a bad domain, field or value with a bare ValueError (HTTP 500): the
    // caller's mistake, and its message says which.
    case 'ValueError':
      return new GatewayError('upstream.validation_failed', message, { status: 422, extensions: { upstream } });
    case 'LockError':
    case 'SerializationFailure':
      return new GatewayError('upstream.conflict', message, { extensions: { upstream } });
    default:
      // A bug upstream: its message may carry internals, so only the class name travels.
      return new GatewayError('upstream.error', `The ERP failed (${short || `HTTP ${status}`}).`, {
        extensions: { upstream },
      });
  }
}

/** Name and message of an Odoo error object, whatever the transport. */
export function odooErrorParts(error: unknown): { name: string; message: string } {
  if (!isRecord(error)) return { name: '', message: '' };
  const data = isRecord(error.data) ? error.data : error;
  const name = typeof data.name === 'string' ? data.name : '';
  const message = typeof data.message === 'string' ? data.message : typeof error.message === 'string' ? error.message : '';
  return { name, message };
}
