/** @module Odoo upstream simulator: JSON-2 (`/json/2/<model>/<method>`) and legacy JSON-RPC (`/jsonrpc`) over one in-memory ORM (reference §1). */
import { startSimulatorServer } from './faults.js';
import type { SimulatorHandle, SimulatorServerOptions } from './faults.js';
import { header, isPlainObject, jsonResponse, mimeType, textResponse, tryParseJson } from './http-util.js';
import type { SimRequest, SimResponse } from './http-util.js';
import { OdooError, OdooOrm, odooErrors } from './odoo-orm.js';
import type { OdooRecord, OdooSeed } from './odoo-orm.js';
import { retailModels, retailSeed } from './odoo-seed.js';
import type { OdooUser } from './odoo-seed.js';

export interface OdooSimulatorOptions extends SimulatorServerOptions {
  /** Database name, e.g. `retail`; checked against `X-Odoo-Database` and RPC `db` arguments. */
  database: string;
  /** Global API keys, valid for JSON-2 (acting as the first user) and as any user's RPC password. */
  apiKeys: string[];
  /** Users; `apiKey` binds a key to that user, `password` allows legacy password logins. */
  users: OdooUser[];
  /** Several databases on the server: JSON-2 without `X-Odoo-Database` answers 404 text/html. */
  multiDb?: boolean;
  /** Replaces the retail seed ({@link retailSeed}); `res.users` is filled from `users` when absent. */
  seed?: OdooSeed;
  /** Clock for create/write dates and `date_order` (default: real time). */
  now?: () => Date;
}

export interface OdooSimulatorHandle extends SimulatorHandle {
  /** Raw stored records of a model (copies). */
  records(model: string): OdooRecord[];
  /** Writes/unlinks/actions on these records (all of the model when `ids` is omitted) fail with LockError (409). */
  lockRecords(model: string, ids?: number[]): void;
  unlockRecords(): void;
}

const VERSION_INFO = [19, 0, 0, 'final', 0, ''];

interface MethodSpec {
  api: 'model' | 'records';
  /** Python parameters after `self`, in order: [name, required]. */
  params: Array<[string, boolean]>;
  run(orm: OdooOrm, model: string, ids: number[], kw: Record<string, unknown>, ctx: Record<string, unknown>, uid: number): unknown;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

const GENERIC_METHODS: Record<string, MethodSpec> = {
  search_read: {
    api: 'model',
    params: [['domain', false], ['fields', false], ['offset', false], ['limit', false], ['order', false], ['load', false]],
    run: (orm, model, _ids, kw, ctx) => {
      orm.checkFields(model, kw.fields);
      return orm.read(model, orm.search(model, kw.domain, { ...kw, context: ctx }), kw.fields);
    },
  },
  read: { api: 'records', params: [['fields', false], ['load', false]], run: (orm, model, ids, kw) => orm.read(model, ids, kw.fields) },
  search: {
    api: 'model',
    params: [['domain', true], ['offset', false], ['limit', false], ['order', false]],
    run: (orm, model, _ids, kw, ctx) => orm.search(model, kw.domain, { ...kw, context: ctx }),
  },
  search_count: {
    api: 'model',
    params: [['domain', true], ['limit', false]],
    run: (orm, model, _ids, kw, ctx) => orm.search(model, kw.domain, { limit: kw.limit, context: ctx }).length,
  },
  create: {
    api: 'model',
    params: [['vals_list', true]],
    run: (orm, model, _ids, kw) => orm.create(model, Array.isArray(kw.vals_list) ? kw.vals_list : [kw.vals_list]),
  },
  write: { api: 'records', params: [['vals', true]], run: (orm, model, ids, kw) => orm.write(model, ids, kw.vals) },
  unlink: { api: 'records', params: [], run: (orm, model, ids) => orm.unlink(model, ids) },
  fields_get: {
    api: 'model',
    params: [['allfields', false], ['attributes', false]],
    run: (orm, model, _ids, kw) => orm.fieldsGet(model, kw.allfields, kw.attributes),
  },
  name_search: {
    api: 'model',
    params: [['name', false], ['domain', false], ['operator', false], ['limit', false]],
    run: (orm, model, _ids, kw, ctx) => {
      const domain = Array.isArray(kw.domain) ? [...(kw.domain as unknown[])] : [];
      if (typeof kw.name === 'string' && kw.name !== '') domain.push(['display_name', kw.operator ?? 'ilike', kw.name]);
      const ids = orm.search(model, domain, { limit: num(kw.limit) ?? 100, context: ctx });
      return ids.map((id) => [id, orm.displayName(model, orm.get(model, id)!)]);
    },
  },
};

function findMethod(orm: OdooOrm, model: string, method: string): MethodSpec | undefined {
  if (Object.hasOwn(GENERIC_METHODS, method)) return GENERIC_METHODS[method];
  const action = orm.model(model).actions?.[method];
  if (action) return { api: 'records', params: [], run: (o, _m, ids) => action(o, ids) };
  if (model === 'res.users' && method === 'context_get') {
    return { api: 'model', params: [], run: (_o, _m, _ids, _kw, _ctx, uid) => ({ lang: 'en_US', tz: 'Europe/Brussels', uid }) };
  }
  return undefined;
}

/** Binds positional + keyword arguments like Python's `inspect.Signature.bind`; TypeError text per style. */
function bindArguments(
  spec: MethodSpec,
  method: string,
  args: unknown[],
  kwargs: Record<string, unknown>,
  style: 'json2' | 'rpc',
): Record<string, unknown> {
  const fn = style === 'rpc' ? `${method}() ` : '';
  if (args.length > spec.params.length) {
    throw odooErrors.type(style === 'rpc'
      ? `${fn}takes ${spec.params.length + 1} positional arguments but ${args.length + 1} were given`
      : 'too many positional arguments');
  }
  const bound: Record<string, unknown> = {};
  args.forEach((value, i) => {
    bound[spec.params[i]![0]] = value;
  });
  for (const [key, value] of Object.entries(kwargs)) {
    if (!spec.params.some(([name]) => name === key)) throw odooErrors.type(`${fn}got an unexpected keyword argument '${key}'`);
    if (key in bound) throw odooErrors.type(`${fn}got multiple values for argument '${key}'`);
    bound[key] = value;
  }
  const missing = spec.params.find(([name, required]) => required && !(name in bound));
  if (missing) {
    throw odooErrors.type(style === 'rpc'
      ? `${fn}missing 1 required positional argument: '${missing[0]}'`
      : `missing a required argument: '${missing[0]}'`);
  }
  return bound;
}

function toIds(value: unknown): number[] {
  if (value === undefined || value === null || value === false) return [];
  const ids = Array.isArray(value) ? value : [value];
  if (!ids.every((id) => Number.isInteger(id))) throw odooErrors.value(`Invalid ids: ${JSON.stringify(value)}`);
  return ids as number[];
}

function traceback(name: string, message: string, where: string): string {
  return [
    'Traceback (most recent call last):',
    '  File "/opt/odoo/odoo/http.py", line 2138, in _serve_db',
    '    return service_model.retrying(self._serve_ir_http, self.env)',
    '  File "/opt/odoo/odoo/service/model.py", line 156, in retrying',
    '    result = func()',
    `  File "/opt/odoo/odoo/models.py", line 5712, in ${where}`,
    '    raise exc',
    `${name}: ${message}`,
    '',
  ].join('\n');
}

/** `serialize_exception` body: `{name, message, arguments, context, debug}`. */
function serializeError(err: OdooError, where: string): Record<string, unknown> {
  return { name: err.odooName, message: err.message, arguments: err.args, context: {}, debug: traceback(err.odooName, err.message, where) };
}

function werkzeug(name: string, status: number, message: string): OdooError {
  return new OdooError(`werkzeug.exceptions.${name}`, message, status, [message, status]);
}

const NOT_FOUND_HTML =
  '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n';

/**
 * Starts an Odoo 19 simulator serving JSON-2 and JSON-RPC over a shared stateful retail
 * data set, with Odoo's exact status codes and error bodies (including a `debug`
 * traceback the gateway must strip).
 *
 * @param options `database`, `apiKeys`, `users`; `port` (default 0), `multiDb` (default false),
 *   `seed` (default {@link retailSeed}), `now` (default real clock)
 * @example
 * const odoo = await startOdooSimulator({ database: 'retail', apiKeys: ['k-123'], users: [{ uid: 2, login: 'bot@shop.example', apiKey: 'k-bot' }] });
 * const res = await fetch(`${odoo.url}/json/2/sale.order/search_read`, {
 *   method: 'POST',
 *   headers: { authorization: 'bearer k-123', 'x-odoo-database': 'retail', 'content-type': 'application/json' },
 *   body: JSON.stringify({ domain: [['state', '=', 'sale']], fields: ['name', 'amount_total'] }),
 * });
 * await odoo.close();
 */
export async function startOdooSimulator(options: OdooSimulatorOptions): Promise<OdooSimulatorHandle> {
  const seed = { ...(options.seed ?? retailSeed(options.users)) };
  seed['res.users'] ??= retailSeed(options.users)['res.users']!;
  const orm = new OdooOrm(retailModels(), seed, options.now ?? (() => new Date()));
  const defaultUid = options.users[0]?.uid ?? 2;

  const keyOwner = (key: string): number | undefined =>
    options.users.find((u) => u.apiKey === key)?.uid ?? (options.apiKeys.includes(key) ? defaultUid : undefined);

  const secretMatches = (user: OdooUser, secret: unknown): boolean =>
    typeof secret === 'string' &&
    secret !== '' &&
    (secret === user.password || secret === user.apiKey || options.apiKeys.includes(secret));

  /** Looks up and runs a method; shared by both protocols. */
  function execute(
    model: string,
    method: string,
    ids: number[] | undefined,
    args: unknown[],
    kwargs: Record<string, unknown>,
    style: 'json2' | 'rpc',
    uid: number,
  ): unknown {
    if (!orm.hasModel(model)) {
      throw style === 'json2'
        ? werkzeug('NotFound', 404, `the model '${model}' does not exist`)
        : odooErrors.user(`Object ${model} doesn't exist`);
    }
    if (method.startsWith('_')) {
      throw odooErrors.access(`Private methods (such as '${model}.${method}') cannot be called remotely.`);
    }
    const spec = findMethod(orm, model, method);
    if (spec === undefined) {
      const msg = `The method '${model}.${method}' does not exist`;
      throw style === 'json2' ? werkzeug('NotFound', 404, msg) : new OdooError('builtins.AttributeError', msg, 500);
    }
    let positional = args;
    let recordIds = ids ?? [];
    if (style === 'rpc' && spec.api === 'records') {
      if (args.length === 0) throw odooErrors.type(`${method}() missing 1 required positional argument: 'ids'`);
      recordIds = toIds(args[0]);
      positional = args.slice(1);
    }
    if (style === 'json2' && spec.api === 'model' && recordIds.length > 0) {
      throw werkzeug('UnprocessableEntity', 422, `cannot call ${model}.${method} with ids`);
    }
    const { context, ...rest } = kwargs;
    const ctx = isPlainObject(context) ? context : {};
    let bound: Record<string, unknown>;
    try {
      bound = bindArguments(spec, method, positional, rest, style);
    } catch (err) {
      if (style === 'json2' && err instanceof OdooError) throw werkzeug('UnprocessableEntity', 422, err.message);
      throw err;
    }
    const result = orm.transaction(() => spec.run(orm, model, recordIds, bound, ctx, uid));
    // Legacy `create({...})` with a single dict returns the id, not a list (call_kw_model_create).
    if (style === 'rpc' && method === 'create' && isPlainObject(bound.vals_list)) return (result as number[])[0];
    return result;
  }

  function json2Error(err: unknown, where: string): SimResponse {
    const odooErr = err instanceof OdooError ? err : new OdooError('builtins.Exception', String(err), 500);
    const headers: Record<string, string> = odooErr.status === 401 ? { 'www-authenticate': 'bearer' } : {};
    return jsonResponse(odooErr.status, serializeError(odooErr, where), headers);
  }

  function handleJson2(req: SimRequest): SimResponse {
    const match = /^\/json\/2\/([^/]+)\/([^/]+)$/.exec(req.url.pathname);
    if (req.method !== 'POST' || match === null) {
      return json2Error(werkzeug('NotFound', 404, 'Did you mean POST /json/2/<model>/<method>?'), 'web_json_2_404');
    }
    const [, model, method] = match as unknown as [string, string, string];
    if (req.body.length > 0 && mimeType(req) !== 'application/json') {
      return textResponse(415, '<!doctype html>\n<title>415 Unsupported Media Type</title>\n<h1>Unsupported Media Type</h1>\n', {}, 'text/html; charset=utf-8');
    }
    const auth = /^bearer\s+(.+)$/i.exec(header(req, 'authorization') ?? '');
    if (auth === null) {
      return json2Error(werkzeug('Unauthorized', 401, 'User not authenticated, use an API Key with a Bearer Authorization header.'), '_auth_method_bearer');
    }
    const uid = keyOwner(auth[1]!.trim());
    if (uid === undefined) return json2Error(werkzeug('Unauthorized', 401, 'Invalid apikey'), '_auth_method_bearer');
    let params: Record<string, unknown> = {};
    if (req.body.length > 0) {
      const parsed = tryParseJson(req.body);
      if (!parsed.ok) return json2Error(werkzeug('BadRequest', 400, `could not parse the body as json: ${parsed.error}`), 'dispatch');
      if (!isPlainObject(parsed.value)) return json2Error(werkzeug('BadRequest', 400, 'the body must be a JSON object'), 'dispatch');
      params = parsed.value;
    }
    const { ids, ...kwargs } = params;
    try {
      const result = execute(model, method, toIds(ids), [], kwargs, 'json2', uid);
      return jsonResponse(200, result);
    } catch (err) {
      return json2Error(err, method);
    }
  }

  function rpcCommon(method: string, args: unknown[]): unknown {
    if (method === 'version') return { server_version: '19.0', server_version_info: VERSION_INFO, server_serie: '19.0', protocol_version: 1 };
    if (method === 'login' || method === 'authenticate') {
      const [db, login, secret] = args;
      if (db !== options.database) throw new OdooError('psycopg2.OperationalError', `FATAL:  database "${String(db)}" does not exist`, 500);
      const user = options.users.find((u) => u.login === login);
      return user !== undefined && secretMatches(user, secret) ? user.uid : false;
    }
    throw new OdooError('builtins.Exception', `Method not found: ${method}`, 500);
  }

  function rpcObject(method: string, args: unknown[]): unknown {
    if (method !== 'execute_kw' && method !== 'execute') throw new OdooError('builtins.NameError', `Method not available ${method}`, 500);
    const [db, uid, secret, model, name, ...rest] = args;
    const user = options.users.find((u) => u.uid === uid);
    if (db !== options.database || user === undefined || !secretMatches(user, secret)) throw odooErrors.accessDenied();
    if (typeof model !== 'string' || typeof name !== 'string') throw odooErrors.type('execute_kw() model and method must be strings');
    const positional = method === 'execute_kw' ? rest[0] ?? [] : rest;
    const kwargs = method === 'execute_kw' ? rest[1] ?? {} : {};
    if (!Array.isArray(positional) || !isPlainObject(kwargs)) throw odooErrors.type('execute_kw() expects a list of args and a dict of kwargs');
    return execute(model, name, undefined, positional, kwargs, 'rpc', user.uid);
  }

  function handleJsonRpc(req: SimRequest): SimResponse {
    if (req.method !== 'POST') {
      return textResponse(405, '<!doctype html>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n', {}, 'text/html; charset=utf-8');
    }
    const parsed = tryParseJson(req.body);
    if (!parsed.ok || !isPlainObject(parsed.value)) return textResponse(400, 'Invalid JSON data');
    const envelope = parsed.value;
    const id = envelope.id ?? null;
    const params = isPlainObject(envelope.params) ? envelope.params : {};
    const service = params.service;
    const method = typeof params.method === 'string' ? params.method : '';
    const args = Array.isArray(params.args) ? params.args : [];
    try {
      let result: unknown;
      if (service === 'common') result = rpcCommon(method, args);
      else if (service === 'object') result = rpcObject(method, args);
      else if (service === 'db' && method === 'list') result = [options.database];
      else throw new OdooError('builtins.KeyError', `'${String(service)}'`, 500);
      return jsonResponse(200, { jsonrpc: '2.0', id, result });
    } catch (err) {
      const odooErr = err instanceof OdooError ? err : new OdooError('builtins.Exception', String(err), 500);
      const where = typeof args[4] === 'string' ? args[4] : method;
      return jsonResponse(200, {
        jsonrpc: '2.0',
        id,
        error: { code: 200, message: 'Odoo Server Error', data: serializeError(odooErr, where) },
      });
    }
  }

  function handle(req: SimRequest): SimResponse {
    const path = req.url.pathname;
    if (req.method === 'GET' && (path === '/web/version' || path === '/json/version')) {
      return jsonResponse(200, { version_info: VERSION_INFO, version: '19.0' });
    }
    if (path === '/jsonrpc') return handleJsonRpc(req);
    if (path === '/json/2' || path.startsWith('/json/2/')) {
      const db = header(req, 'x-odoo-database');
      if ((options.multiDb && db === undefined) || (db !== undefined && db !== options.database)) {
        return textResponse(404, NOT_FOUND_HTML, {}, 'text/html; charset=utf-8');
      }
      return handleJson2(req);
    }
    return textResponse(404, NOT_FOUND_HTML, {}, 'text/html; charset=utf-8');
  }

  const server = await startSimulatorServer(handle, options);
  return Object.assign(server, {
    records: (model: string) => orm.snapshot(model),
    lockRecords: (model: string, ids?: number[]) => orm.lock(model, ids),
    unlockRecords: () => orm.unlockAll(),
  });
}
