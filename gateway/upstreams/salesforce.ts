/**
 * @module Salesforce REST (upstreams.md §2): bearer token injected; error arrays
 * `[{message, errorCode, fields}]` mapped to problems; `403 REQUEST_LIMIT_EXCEEDED` (Salesforce
 * never sends 429) becomes 503 `upstream.rate_limited` with a conservative `Retry-After`.
 * The token is minted by the gateway (client credentials or JWT bearer, see
 * `salesforce-token.ts`) and renewed once on 401 `INVALID_SESSION_ID`, replaying the call when
 * it is idempotent; a static token reference remains for orgs that hand one out.
 */
import type { JSONSchemaType } from 'ajv';
import type { BusinessOperation } from '../../contracts/index.js';
import { GatewayError } from '../../policies/index.js';
import { createSalesforceTokenSource, type SalesforceOAuthSettings, type SalesforceTokenSource } from './salesforce-token.js';
import { fieldNames, isRecord, secretRefSchema, stripCallerCredentials, tryParseJson, type AdapterFactory, type MappedResponse, type SecretRef } from './types.js';

export interface SalesforceSettings {
  /** A fixed token (exactly one of `accessToken` and `oauth`). */
  accessToken?: SecretRef;
  /** The gateway mints its own token (exactly one of `accessToken` and `oauth`). */
  oauth?: SalesforceOAuthSettings;
  /** Seconds to tell callers to wait when the org's API allocation is exhausted. */
  limitRetryAfterSeconds: number;
}

const schema: JSONSchemaType<SalesforceSettings> = {
  type: 'object',
  properties: {
    accessToken: { ...secretRefSchema, nullable: true, description: 'Reference to a fixed Salesforce access token.' } as never,
    oauth: {
      type: 'object',
      nullable: true,
      description: 'How the gateway mints its own token at the Salesforce token endpoint.',
      properties: {
        grant: { type: 'string', enum: ['client_credentials', 'jwt_bearer'] },
        tokenUrl: { type: 'string', format: 'uri', pattern: '^https?://', nullable: true, description: 'Default: {base URL origin}/services/oauth2/token.' },
        clientId: { type: 'string', minLength: 1, maxLength: 256, description: 'Consumer key of the connected app.' },
        clientSecret: { ...secretRefSchema, nullable: true, description: 'client_credentials: consumer secret.' } as never,
        privateKey: { ...secretRefSchema, nullable: true, description: 'jwt_bearer: PEM private key.' } as never,
        username: { type: 'string', minLength: 1, maxLength: 256, nullable: true, description: 'jwt_bearer: the pre-authorised user.' },
        audience: { type: 'string', minLength: 1, maxLength: 256, nullable: true, description: 'jwt_bearer: assertion audience.' },
        maxAgeSeconds: { type: 'integer', minimum: 60, maximum: 86_400, nullable: true, description: 'Renew after this long even without a refusal (default 7200).' },
        renewCooldownSeconds: { type: 'integer', minimum: 0, maximum: 3600, nullable: true, description: 'No second mint within this long of the last (default 10).' },
      },
      required: ['grant', 'clientId'],
      additionalProperties: false,
    },
    limitRetryAfterSeconds: {
      type: 'integer',
      minimum: 1,
      maximum: 86_400,
      default: 300,
      description: 'Retry-After sent when Salesforce answers REQUEST_LIMIT_EXCEEDED.',
    },
  },
  required: ['limitRetryAfterSeconds'],
  additionalProperties: false,
};

const SOBJECT = /^\/services\/data\/v\d+\.\d+\/sobjects\/([A-Za-z0-9_]+)(?:\/([^/?]+))?(?:\/([^/?]+))?/;
const QUERY = /^\/services\/data\/v\d+\.\d+\/query(?:All)?\/?(?:\?|$)/;
const COMPOSITE = /^\/services\/data\/v\d+\.\d+\/composite\/?(?:\?|$)/;
const SOQL_FROM = /\bfrom\s+([A-Za-z0-9_]+)/i;

function actionOf(method: string): BusinessOperation['action'] {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return 'read';
    case 'POST':
      return 'create';
    case 'PATCH':
    case 'PUT':
      return 'update';
    case 'DELETE':
      return 'delete';
    default:
      return 'call';
  }
}

/** Operation of one sObject request path (used for composite sub-requests too). */
export function salesforceOperation(method: string, path: string, body: unknown): BusinessOperation {
  const sobject = SOBJECT.exec(path);
  if (sobject !== null) {
    const [, entity = '', idOrField, externalValue] = sobject;
    // PATCH /sobjects/Account/Ext_Id__c/C-1 is an upsert by external id.
    const ids = externalValue !== undefined ? [externalValue] : idOrField !== undefined ? [idOrField] : [];
    return { system: 'salesforce', entity, action: actionOf(method), fields: fieldNames(body), ids };
  }
  if (QUERY.test(path)) {
    const q = new URLSearchParams(path.slice(path.indexOf('?') + 1)).get('q') ?? '';
    return { system: 'salesforce', entity: SOQL_FROM.exec(q)?.[1] ?? '', action: 'read', fields: [], ids: [] };
  }
  if (COMPOSITE.test(path) && isRecord(body) && Array.isArray(body.compositeRequest)) {
    const parts = body.compositeRequest.filter(isRecord).map((sub) =>
      salesforceOperation(String(sub.method ?? 'GET').toUpperCase(), String(sub.url ?? ''), sub.body),
    );
    return { system: 'salesforce', entity: 'composite', action: 'call', fields: [], ids: [], parts };
  }
  return { system: 'salesforce', entity: '', action: actionOf(method), fields: fieldNames(body), ids: [] };
}

/**
 * A composite answer is always HTTP 200. When every sub-request failed (an all-or-none
 * transaction rolled back, or each one was refused) nothing happened upstream, so the caller
 * gets a problem listing each part's errors; a partial success passes through as sent.
 */
function mapComposite(parsed: unknown): MappedResponse {
  const parts = isRecord(parsed) && Array.isArray(parsed.compositeResponse) ? parsed.compositeResponse.filter(isRecord) : [];
  if (parts.length === 0 || parts.some((part) => typeof part.httpStatusCode !== 'number' || part.httpStatusCode < 400)) return { kind: 'pass' };
  const failures = parts.map((part) => ({
    referenceId: typeof part.referenceId === 'string' ? part.referenceId : '',
    httpStatusCode: part.httpStatusCode as number,
    errors: (Array.isArray(part.body) ? part.body : []).filter(isRecord).map((e) => ({
      errorCode: typeof e.errorCode === 'string' ? e.errorCode : '',
      message: typeof e.message === 'string' ? e.message : '',
    })),
  }));
  // The cause is the part that did not merely halt because another one failed.
  const cause = failures.find((f) => !f.errors.some((e) => e.errorCode === 'PROCESSING_HALTED')) ?? failures[0]!;
  const detail = cause.errors[0]?.message || `Sub-request "${cause.referenceId}" failed (HTTP ${cause.httpStatusCode}).`;
  return {
    kind: 'problem',
    error: new GatewayError('upstream.validation_failed', detail, { extensions: { upstream: { system: 'salesforce', composite: failures } } }),
  };
}

export const salesforceAdapter: AdapterFactory<SalesforceSettings> = {
  kind: 'salesforce',
  schema,
  create(settings, env) {
    if ((settings.accessToken === undefined) === (settings.oauth === undefined)) {
      throw new Error('settings: exactly one of accessToken and oauth is required');
    }
    const fixed = settings.accessToken === undefined ? undefined : `Bearer ${env.resolveSecret(settings.accessToken, 'settings.accessToken')}`;
    const tokens: SalesforceTokenSource | undefined = settings.oauth === undefined ? undefined : createSalesforceTokenSource(settings.oauth, env);
    // The base URL usually ends in /services/data/vXX.X; operations are matched on the full path.
    const basePath = env.baseUrl.pathname.replace(/\/$/, '');
    return {
      kind: 'salesforce',
      needsBody: false,
      prepare(ctx) {
        stripCallerCredentials(ctx.upstreamHeaders);
        if (tokens === undefined) {
          ctx.upstreamHeaders.authorization = fixed!;
          return undefined;
        }
        const token = tokens.current();
        if (token !== undefined) {
          ctx.upstreamHeaders.authorization = `Bearer ${token}`;
          return undefined;
        }
        return tokens.get().then((minted) => {
          ctx.upstreamHeaders.authorization = `Bearer ${minted}`;
        });
      },
      extractOperation: (method, path, body) => salesforceOperation(method, basePath + path, body),
      // 300: an external id matched several records; composite answers carry their errors in 200s.
      inspects: (status, _headers, ctx) => status >= 400 || status === 300 || (status === 200 && COMPOSITE.test(basePath + ctx.upstreamPath)),
      mapResponse(status, _headers, body, ctx) {
        const parsed = tryParseJson(body);
        if (status === 200) return mapComposite(parsed);
        const errors = (Array.isArray(parsed) ? parsed : []).filter(isRecord).map((e) => ({
          errorCode: typeof e.errorCode === 'string' ? e.errorCode : '',
          message: typeof e.message === 'string' ? e.message : '',
          ...(Array.isArray(e.fields) ? { fields: e.fields.filter((f): f is string => typeof f === 'string') } : {}),
        }));
        const first = errors[0];
        const upstream = { system: 'salesforce', errors };
        const detail = first?.message || `HTTP ${status}`;
        if (status === 401) {
          const refused = new GatewayError('upstream.auth_failed', 'Salesforce refused the gateway credential.', { extensions: { upstream: { system: 'salesforce' } } });
          const sent = ctx.upstreamHeaders.authorization;
          if (tokens === undefined || first?.errorCode !== 'INVALID_SESSION_ID' || typeof sent !== 'string') return { kind: 'problem', error: refused };
          // Salesforce checks the session before doing anything, so nothing happened upstream.
          env.logger.info('salesforce session refused; renewing the token', { api: ctx.api, requestId: ctx.requestId });
          const stale = sent.slice('Bearer '.length);
          const ready = tokens.refresh(stale).then((fresh) => {
            if (fresh === stale) throw refused;
          });
          return { kind: 'replay', ready, otherwise: refused };
        }
        if (status === 403 && first?.errorCode === 'REQUEST_LIMIT_EXCEEDED') {
          return {
            kind: 'problem',
            error: new GatewayError('upstream.rate_limited', 'Salesforce API request limit reached; try again later.', {
              headers: { 'retry-after': String(settings.limitRetryAfterSeconds) },
              extensions: { upstream },
            }),
          };
        }
        const code =
          status === 403
            ? 'upstream.forbidden'
            : status === 404
              ? 'upstream.not_found'
              : status === 409 || status === 300
                ? 'upstream.conflict'
                : status < 500
                  ? 'upstream.validation_failed'
                  : status === 503
                    ? 'upstream.unavailable'
                    : 'upstream.error';
        const options = code === 'upstream.validation_failed' && status !== 422 ? { status: 422, extensions: { upstream } } : { extensions: { upstream } };
        return { kind: 'problem', error: new GatewayError(code, status >= 500 ? `Salesforce failed (HTTP ${status}).` : detail, options) };
      },
    };
  },
};
