/**
 * @module Zendesk Support API v2 (upstreams.md §3.1): `email/token` basic auth injected;
 * `{error, description, details}` bodies and the text/plain 429 mapped to problems.
 */
import type { JSONSchemaType } from 'ajv';
import { GatewayError } from '../../policies/index.js';
import { isRecord, secretRefSchema, stripCallerCredentials, tryParseJson, type AdapterFactory, type SecretRef } from './types.js';
import type { BusinessOperation } from '../../contracts/index.js';

export interface ZendeskSettings {
  email: string;
  apiToken: SecretRef;
}

const schema: JSONSchemaType<ZendeskSettings> = {
  type: 'object',
  properties: {
    email: { type: 'string', minLength: 3, maxLength: 256, description: 'Agent email the API token belongs to.' },
    apiToken: { ...secretRefSchema, description: 'Reference to the Zendesk API token.' },
  },
  required: ['email', 'apiToken'],
  additionalProperties: false,
};

const TICKETS = /^\/(?:api\/v2\/)?tickets(?:\/(\d+))?(?:\.json)?\/?(?:\?|$)/;

export function zendeskOperation(method: string, path: string, body: unknown): BusinessOperation {
  const match = TICKETS.exec(path);
  const action: BusinessOperation['action'] =
    method === 'GET' || method === 'HEAD' ? 'read' : method === 'POST' ? 'create' : method === 'DELETE' ? 'delete' : 'update';
  const ticket = isRecord(body) && isRecord(body.ticket) ? body.ticket : undefined;
  return {
    system: 'zendesk',
    entity: match === null ? (path.split('?')[0]!.split('/').filter(Boolean).at(-1) ?? '').replace(/\.json$/, '') : 'ticket',
    action,
    fields: ticket === undefined ? [] : Object.keys(ticket),
    ids: match?.[1] === undefined ? [] : [Number(match[1])],
  };
}

export const zendeskAdapter: AdapterFactory<ZendeskSettings> = {
  kind: 'zendesk',
  schema,
  create(settings, env) {
    const token = env.resolveSecret(settings.apiToken, 'settings.apiToken');
    const authorization = `Basic ${Buffer.from(`${settings.email}/token:${token}`).toString('base64')}`;
    return {
      kind: 'zendesk',
      needsBody: false,
      prepare(ctx) {
        stripCallerCredentials(ctx.upstreamHeaders);
        ctx.upstreamHeaders.authorization = authorization;
      },
      extractOperation: zendeskOperation,
      inspects: (status) => status >= 400,
      mapResponse(status, headers, body) {
        const parsed = tryParseJson(body);
        const error = isRecord(parsed) && typeof parsed.error === 'string' ? parsed.error : '';
        const description = isRecord(parsed) && typeof parsed.description === 'string' ? parsed.description : '';
        const upstream = { system: 'zendesk', error, ...(isRecord(parsed) && isRecord(parsed.details) ? { details: parsed.details } : {}) };
        if (status === 401) return { kind: 'problem', error: new GatewayError('upstream.auth_failed', 'Zendesk refused the gateway credential.') };
        if (status === 429) {
          const retryAfter = headers['retry-after'];
          return {
            kind: 'problem',
            error: new GatewayError('upstream.rate_limited', 'Zendesk rate limit reached; try again later.', {
              headers: { 'retry-after': typeof retryAfter === 'string' && /^\d+$/.test(retryAfter) ? retryAfter : '60' },
              extensions: { upstream: { system: 'zendesk' } },
            }),
          };
        }
        const code =
          status === 403
            ? 'upstream.forbidden'
            : status === 404
              ? 'upstream.not_found'
              : status === 409
                ? 'upstream.conflict'
                : status < 500
                  ? 'upstream.validation_failed'
                  : 'upstream.error';
        const detail = status >= 500 ? `Zendesk failed (HTTP ${status}).` : description || error || `HTTP ${status}`;
        return { kind: 'problem', error: new GatewayError(code, detail, { status: code === 'upstream.validation_failed' ? 422 : undefined, extensions: { upstream } }) };
      },
    };
  },
};
