/**
 * @module Odoo 19+ JSON-2 (`POST /json/2/<model>/<method>`, upstreams.md §1.6): bearer API key
 * and `X-Odoo-Database` injected; real 4xx/5xx statuses carry `{name, message, debug}`.
 */
import type { JSONSchemaType } from 'ajv';
import { GatewayError } from '../../policies/index.js';
import { classifyOdooCall, odooErrorParts, odooProblem } from './odoo-common.js';
import { isRecord, secretRefSchema, stripCallerCredentials, tryParseJson, type AdapterFactory, type SecretRef } from './types.js';

export interface OdooJson2Settings {
  database: string;
  apiKey: SecretRef;
}

const schema: JSONSchemaType<OdooJson2Settings> = {
  type: 'object',
  properties: {
    database: { type: 'string', minLength: 1, maxLength: 128, description: 'Sent as X-Odoo-Database.' },
    apiKey: { ...secretRefSchema, description: 'Reference to the Odoo API key of the gateway bot user.' },
  },
  required: ['database', 'apiKey'],
  additionalProperties: false,
};

const STATUS_NAMES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'AccessError',
  404: 'NotFound',
  409: 'LockError',
  415: 'UnsupportedMediaType',
  422: 'UnprocessableEntity',
};

/** `/res.partner/search_read` → model and method. */
function splitPath(path: string): { model: string; method: string } {
  const clean = path.split('?')[0]!.replace(/^\/+/, '');
  const [model = '', method = ''] = clean.split('/');
  return { model, method };
}

export const odooJson2Adapter: AdapterFactory<OdooJson2Settings> = {
  kind: 'odoo-json2',
  schema,
  create(settings, env) {
    const authorization = `bearer ${env.resolveSecret(settings.apiKey, 'settings.apiKey')}`;
    return {
      kind: 'odoo-json2',
      needsBody: false,
      prepare(ctx) {
        stripCallerCredentials(ctx.upstreamHeaders);
        ctx.upstreamHeaders.authorization = authorization;
        ctx.upstreamHeaders['x-odoo-database'] = settings.database;
      },
      extractOperation(_method, path, body) {
        const { model, method } = splitPath(path);
        const params = isRecord(body) ? body : {};
        return classifyOdooCall(model, method, {
          ids: params.ids,
          vals: params.vals ?? params.vals_list,
          fields: params.fields,
        });
      },
      inspects: (status) => status >= 400,
      mapResponse(status, _headers, body) {
        const parsed = odooErrorParts(tryParseJson(body));
        const name = parsed.name || (status >= 500 ? '' : (STATUS_NAMES[status] ?? ''));
        if (status === 401) return { kind: 'problem', error: odooProblem('Unauthorized', '', status) };
        if (status === 404 && parsed.name === '') {
          return { kind: 'problem', error: new GatewayError('upstream.not_found', 'The ERP has no such model, method or database.') };
        }
        return { kind: 'problem', error: odooProblem(name, parsed.message || `HTTP ${status}`, status) };
      },
    };
  },
};
