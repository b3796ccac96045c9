/**
 * @module Odoo legacy JSON-RPC (`POST /jsonrpc`, upstreams.md §1.4): the credential lives in the
 * body, so the adapter rewrites `execute_kw` args 0–2 (db, uid, key) and refuses every other
 * service call (`common.authenticate` would be a credential oracle). Errors arrive inside
 * HTTP 200, so every response is read and mapped.
 */
import type { JSONSchemaType } from 'ajv';
import { GatewayError } from '../../policies/index.js';
import { classifyOdooCall, odooErrorParts, odooProblem } from './odoo-common.js';
import { isRecord, secretRefSchema, stripCallerCredentials, tryParseJson, type AdapterFactory, type SecretRef } from './types.js';

export interface OdooJsonRpcSettings {
  database: string;
  login: string;
  apiKey: SecretRef;
  /** The bot user's id; when absent it is looked up once with `common.authenticate` and cached. */
  uid?: number;
}

const schema: JSONSchemaType<OdooJsonRpcSettings> = {
  type: 'object',
  properties: {
    database: { type: 'string', minLength: 1, maxLength: 128, description: 'Odoo database name.' },
    login: { type: 'string', minLength: 1, maxLength: 256, description: 'Login of the gateway bot user.' },
    apiKey: { ...secretRefSchema, description: 'Reference to the bot user API key.' },
    uid: { type: 'integer', minimum: 1, nullable: true, description: 'User id; looked up when absent.' },
  },
  required: ['database', 'login', 'apiKey'],
  additionalProperties: false,
};

// `execute` (positional arguments) is refused: one argument layout to read means no way to
// hide written fields from the ownership and field rules.
const EXECUTE_METHODS = new Set(['execute_kw']);

interface RpcCall {
  model: string;
  method: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** Reads `params.args` of an `object.execute_kw` call. */
function readCall(body: unknown): RpcCall | undefined {
  if (!isRecord(body) || !isRecord(body.params)) return undefined;
  const { service, method, args } = body.params;
  if (service !== 'object' || typeof method !== 'string' || !EXECUTE_METHODS.has(method) || !Array.isArray(args)) return undefined;
  const [, , , model, rpcMethod, callArgs, kwargs] = args as unknown[];
  if (typeof model !== 'string' || typeof rpcMethod !== 'string') return undefined;
  return {
    model,
    method: rpcMethod,
    args: Array.isArray(callArgs) ? callArgs : [],
    kwargs: isRecord(kwargs) ? kwargs : {},
  };
}

export const odooJsonRpcAdapter: AdapterFactory<OdooJsonRpcSettings> = {
  kind: 'odoo-jsonrpc',
  schema,
  create(settings, env) {
    const apiKey = env.resolveSecret(settings.apiKey, 'settings.apiKey');
    const endpoint = new URL(`${env.baseUrl.pathname.replace(/\/$/, '')}/jsonrpc`, env.baseUrl);
    let uid: Promise<number> | undefined = settings.uid === undefined ? undefined : Promise.resolve(settings.uid);

    async function authenticate(): Promise<number> {
      const response = await env.fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          method: 'call',
          id: 1,
          params: { service: 'common', method: 'authenticate', args: [settings.database, settings.login, apiKey, {}] },
        }),
        signal: AbortSignal.timeout(10_000),
      });
      const payload = (await response.json()) as { result?: unknown };
      if (typeof payload.result !== 'number') throw new Error('authenticate returned no uid');
      return payload.result;
    }

    function resolveUid(): Promise<number> {
      uid ??= authenticate().catch((error: unknown) => {
        uid = undefined; // try again on the next call
        throw new GatewayError('upstream.auth_failed', 'The ERP refused the gateway credential.', { cause: error });
      });
      return uid;
    }

    return {
      kind: 'odoo-jsonrpc',
      needsBody: true,
      async prepare(ctx, method) {
        stripCallerCredentials(ctx.upstreamHeaders);
        if (method !== 'POST') return;
        // Parsed once by the gateway when the request said JSON; otherwise parsed here.
        const body = ctx.json !== undefined ? ctx.json : tryParseJson(ctx.body);
        if (!isRecord(body)) throw new GatewayError('request.malformed_body', 'The body is not a JSON-RPC object.');
        if (readCall(body) === undefined) {
          throw new GatewayError('route.call_refused', 'Only object.execute_kw calls pass the gateway; it authenticates for you.');
        }
        // Copies, so the parsed request other policies see never holds the credential.
        const params = body.params as Record<string, unknown> & { args: unknown[] };
        const args = [...params.args];
        args[0] = settings.database;
        args[1] = await resolveUid();
        args[2] = apiKey;
        ctx.body = Buffer.from(JSON.stringify({ ...body, params: { ...params, args } }));
        ctx.upstreamHeaders['content-length'] = String(ctx.body.length);
        delete ctx.upstreamHeaders['transfer-encoding'];
      },
      extractOperation(_method, _path, body) {
        const call = readCall(body);
        if (call === undefined) return { system: 'odoo', entity: '', action: 'call', fields: [], ids: [] };
        const { model, method, args, kwargs } = call;
        const first = args[0];
        switch (method) {
          case 'create':
            return classifyOdooCall(model, method, { vals: first ?? kwargs.vals_list });
          case 'write':
            return classifyOdooCall(model, method, { ids: first, vals: args[1] ?? kwargs.vals });
          case 'read':
            return classifyOdooCall(model, method, { ids: first, fields: args[1] ?? kwargs.fields });
          case 'search_read':
            return classifyOdooCall(model, method, { fields: args[1] ?? kwargs.fields });
          default:
            return classifyOdooCall(model, method, { ids: typeof first === 'number' || (Array.isArray(first) && first.every((v) => typeof v === 'number')) ? first : [] });
        }
      },
      inspects: () => true,
      mapResponse(status, _headers, body) {
        if (status >= 400) {
          return { kind: 'problem', error: odooProblem(status === 404 ? 'NotFound' : status < 500 ? 'BadRequest' : '', 'The ERP refused the request.', status) };
        }
        // Only bodies that can carry an error envelope are parsed; results pass untouched.
        if (!body.includes('"error"')) return { kind: 'pass' };
        const parsed = tryParseJson(body);
        if (!isRecord(parsed) || parsed.error === undefined) return { kind: 'pass' };
        const { name, message } = odooErrorParts(parsed.error);
        const code = isRecord(parsed.error) ? parsed.error.code : undefined;
        return { kind: 'problem', error: odooProblem(code === 404 ? 'NotFound' : code === 100 ? 'SessionExpiredException' : name, message, status) };
      },
    };
  },
};
