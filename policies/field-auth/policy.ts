/**
 * @module `field-auth`: field-level authorization (OWASP API3:2023, broken object property level
 * authorization). Per plan, consumer and upstream model: fields removed from every JSON answer
 * (`hide`) — Odoo `search_read` / `read` arrays, JSON-RPC `{result}`, Salesforce records, query
 * results and composite sub-responses, Zendesk `{ticket}` / `{tickets}` alike, since the named
 * keys go from every object of the document — and fields a request may not set (`denyWrite`,
 * mass assignment: 403 `access.field_denied`). A read naming a hidden field (to select, filter,
 * sort or group by it) is refused too, so a filter is no oracle for a hidden value. Masking is a
 * fail-closed response transform: an answer it cannot read is withheld, never sent unfiltered,
 * and kept copies (cache, idempotency) are masked again for each receiver.
 */
import type { BusinessOperation, RequestContext, ResponseTransform } from '../../contracts/index.js';
import { definePolicy, outcomeCounter } from '../define-policy.js';
import { GatewayError } from '../errors.js';
import { fieldAuthSchema, type FieldAuthConfig } from './schema.js';

/** A rule with its filters and field lists folded to lower case. */
interface CompiledRule {
  readonly plans: ReadonlySet<string> | undefined;
  readonly consumers: ReadonlySet<string> | undefined;
  readonly models: ReadonlySet<string> | undefined;
  /** Folded name → the name as configured. */
  readonly hide: ReadonlyMap<string, string>;
  readonly denyWrite: ReadonlySet<string>;
}

/** What applies to one caller and model: resolved on first sight, then reused. */
interface Resolved {
  /** Folded name → the name as configured. */
  readonly hide: ReadonlyMap<string, string>;
  readonly denyWrite: ReadonlySet<string>;
  /** The masking transform for `hide` (one object per caller and model, not per request). */
  readonly transform: ResponseTransform | undefined;
}

const NOTHING: Resolved = { hide: new Map(), denyWrite: new Set(), transform: undefined };

/** Deeper documents than this are not walked: masking could not be complete, so it fails. */
const MAX_DEPTH = 64;
/** Distinct caller × model combinations remembered; the memo starts over past it. */
const MEMO_LIMIT = 10_000;

// Names compare case-insensitively (Salesforce field names are; Odoo's are lower case anyway).
const fold = (name: string): string => name.toLowerCase();
const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*/g;

/** Removes the hidden keys from every object of the document, in place. */
function mask(value: unknown, hidden: ReadonlyMap<string, string>, depth: number): void {
  if (typeof value !== 'object' || value === null) return;
  if (depth > MAX_DEPTH) throw new Error('document too deep to mask');
  if (Array.isArray(value)) {
    for (const item of value) mask(item, hidden, depth + 1);
    return;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (hidden.has(fold(key))) delete record[key];
    else mask(record[key], hidden, depth + 1);
  }
}

/** Every identifier in the strings of a request (query text, JSON string values), folded. */
function namedIdentifiers(ctx: RequestContext): Set<string> {
  const found = new Set<string>();
  const add = (text: string): void => {
    for (const token of text.match(IDENTIFIER) ?? []) found.add(fold(token));
  };
  const path = ctx.upstreamPath;
  try {
    add(decodeURIComponent(path.replace(/\+/g, ' ')));
  } catch {
    add(path);
  }
  const walk = (value: unknown, depth: number): void => {
    if (typeof value === 'string') add(value);
    else if (typeof value === 'object' && value !== null && depth <= MAX_DEPTH) {
      for (const item of Array.isArray(value) ? value : Object.values(value)) walk(item, depth + 1);
    }
  };
  walk(ctx.json, 0);
  return found;
}

/** Models an operation touches: its own and its parts'. */
function modelsOf(operation: BusinessOperation): string[] {
  return operation.parts === undefined ? [operation.entity] : [operation.entity, ...operation.parts.flatMap(modelsOf)];
}

function writesOf(operation: BusinessOperation): BusinessOperation[] {
  if (operation.parts !== undefined) return operation.parts.flatMap(writesOf);
  return operation.action === 'read' ? [] : [operation];
}

function readsAnything(operation: BusinessOperation): boolean {
  return operation.parts === undefined ? operation.action === 'read' : operation.parts.some(readsAnything);
}

/**
 * @param config.rules defaults to none
 * @param config.refuseReadsNamingHidden defaults to true
 * @param config.maxResponseBytes defaults to 8 MiB
 * @example
 * // the service desk sees an invoice's payment_state but not the bank account, and may not set it
 * { policy: 'field-auth', config: { rules: [
 *   { consumers: ['service-desk'], models: ['account.move', 'Invoice__c'], hide: ['partner_bank_id', 'Bank_Account__c'], denyWrite: ['partner_bank_id', 'Bank_Account__c'] },
 * ] } }
 */
export const fieldAuthPolicy = definePolicy<FieldAuthConfig>({
  name: 'field-auth',
  // After ownership (930), before rate limiting (910) and idempotency (600): a refused write
  // spends no rate and claims no key; registered before the cache (500) answers, so its
  // masking applies to cache hits and idempotent replays too.
  priority: 920,
  schema: fieldAuthSchema,
  needsBody: true,
  create(config, deps) {
    const version = deps.version;
    if (version === undefined) throw new Error('field-auth is bound per API version');
    const set = (list: readonly string[] | undefined): ReadonlySet<string> | undefined => (list === undefined ? undefined : new Set(list.map(fold)));
    const rules: CompiledRule[] = config.rules.map((rule) => ({
      plans: rule.plans === undefined ? undefined : new Set(rule.plans),
      consumers: rule.consumers === undefined ? undefined : new Set(rule.consumers),
      models: set(rule.models),
      hide: new Map(rule.hide.map((name) => [fold(name), name])),
      denyWrite: new Set(rule.denyWrite.map(fold)),
    }));
    for (const rule of config.rules) {
      for (const plan of rule.plans ?? []) {
        if (!deps.directory.plans.has(plan)) throw new Error(`rules: plan "${plan}" is not in the snapshot`);
      }
    }
    const counted = outcomeCounter(deps.metrics, 'field_auth_requests_total', 'Requests field-auth acted on, by outcome (masked, write_denied, read_denied).', version.api, version.spec.version);
    const { maxResponseBytes } = config;

    const memo = new Map<string, Resolved>();
    /**
     * The rules that apply to a caller on one model, merged. A model the adapter could not
     * read (`''`) matches every rule: what it touches is unknown, so every rule of the caller holds.
     */
    function resolve(consumer: string | undefined, plan: string | undefined, model: string): Resolved {
      const key = `${consumer ?? ''}\n${plan ?? ''}\n${fold(model)}`;
      let found = memo.get(key);
      if (found !== undefined) return found;
      const hide = new Map<string, string>();
      const denyWrite = new Set<string>();
      for (const rule of rules) {
        if (rule.plans !== undefined && (plan === undefined || !rule.plans.has(plan))) continue;
        if (rule.consumers !== undefined && (consumer === undefined || !rule.consumers.has(consumer))) continue;
        if (rule.models !== undefined && model !== '' && !rule.models.has(fold(model))) continue;
        for (const [folded, name] of rule.hide) hide.set(folded, name);
        for (const field of rule.denyWrite) denyWrite.add(field);
      }
      found =
        hide.size === 0 && denyWrite.size === 0
          ? NOTHING
          : {
              hide,
              denyWrite,
              transform:
                hide.size === 0
                  ? undefined
                  : {
                      name: 'field-auth',
                      failClosed: true,
                      maxBytes: maxResponseBytes,
                      apply(json) {
                        mask(json, hide, 0);
                        return json;
                      },
                    },
            };
      if (memo.size >= MEMO_LIMIT) memo.clear();
      memo.set(key, found);
      return found;
    }

    function refuseWrite(ctx: RequestContext, write: BusinessOperation, fields: string[]): never {
      counted('write_denied');
      const what = fields.length === 0 ? 'fields the gateway could not read' : fields.join(', ');
      const where = write.entity === '' ? `this ${write.system} call` : `${write.system} ${write.entity}`;
      throw new GatewayError('access.field_denied', `Consumer "${ctx.consumer?.id ?? 'anonymous'}" may not set ${what} on ${where}.`, {
        extensions: { fields, model: write.entity },
      });
    }

    return function fieldAuth(_req, _res, ctx) {
      const operation = ctx.operation;
      if (operation === undefined || rules.length === 0) return;
      const consumer = ctx.consumer?.id;
      const plan = ctx.consumer?.plan;

      const unread = ctx.body !== undefined && ctx.body.length > 0 && ctx.json === undefined;
      for (const write of writesOf(operation)) {
        // A write whose model or fields the gateway could not read (a body not sent as JSON, a
        // path the adapter does not parse) cannot be checked: refused to a caller denied any field.
        if ((write.entity === '' || (unread && write.fields.length === 0)) && resolve(consumer, plan, '').denyWrite.size > 0) refuseWrite(ctx, write, []);
        const { denyWrite } = resolve(consumer, plan, write.entity);
        if (denyWrite.size === 0) continue;
        const denied = write.fields.filter((field) => denyWrite.has(fold(field)));
        if (denied.length > 0) refuseWrite(ctx, write, denied);
      }

      const hidden = new Map<string, string>();
      const transforms: ResponseTransform[] = [];
      for (const model of new Set(modelsOf(operation))) {
        const resolved = resolve(consumer, plan, model);
        if (resolved.transform === undefined) continue;
        transforms.push(resolved.transform);
        for (const [folded, name] of resolved.hide) hidden.set(folded, name);
      }
      if (transforms.length === 0) return;
      if (config.refuseReadsNamingHidden && readsAnything(operation)) {
        const named = namedIdentifiers(ctx);
        const asked = [...hidden].filter(([folded]) => named.has(folded)).map(([, name]) => name);
        if (asked.length > 0) {
          counted('read_denied');
          throw new GatewayError('access.field_denied', `Consumer "${consumer ?? 'anonymous'}" may not read, filter, sort or group by ${asked.join(', ')}.`, {
            extensions: { fields: asked, model: operation.entity },
          });
        }
      }
      counted('masked');
      (ctx.responseTransforms ??= []).push(...transforms);
    };
  },
});
