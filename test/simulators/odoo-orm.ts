/** @module In-memory Odoo ORM for the simulator: model schemas, domain evaluation, read encoding (§1.7) and x2many commands. */
import { clone, isPlainObject } from './http-util.js';

export type OdooFieldType =
  | 'char' | 'text' | 'integer' | 'float' | 'monetary' | 'boolean' | 'date' | 'datetime'
  | 'selection' | 'many2one' | 'one2many' | 'many2many';

/** One record as stored: many2one as id or `false`, many2many as id list, one2many not stored. */
export type OdooRecord = { id: number } & Record<string, unknown>;

/** Seed data: records per model name, raw (stored) values. */
export type OdooSeed = Record<string, OdooRecord[]>;

export interface OdooField {
  type: OdooFieldType;
  string: string;
  relation?: string;
  /** one2many: the many2one field on `relation` pointing back. */
  inverse?: string;
  required?: boolean;
  readonly?: boolean;
  selection?: Array<[string, string]>;
  /** many2one: what unlinking the target does (default: `restrict` if required, else `set null`). */
  ondelete?: 'cascade' | 'restrict' | 'set null';
  /** Non-stored computed value; writes to such fields are ignored, as Odoo does without an inverse. */
  compute?: (rec: OdooRecord, orm: OdooOrm) => unknown;
  default?: (orm: OdooOrm, vals: Record<string, unknown>) => unknown;
}

export interface OdooModel {
  name: string;
  description: string;
  fields: Record<string, OdooField>;
  /** Default `_order`. */
  order: string;
  displayName?: (rec: OdooRecord, orm: OdooOrm) => string;
  /** Model-specific public methods (all record methods without parameters, e.g. `action_confirm`). */
  actions?: Record<string, (orm: OdooOrm, ids: number[]) => unknown>;
  /** Hooks for business rules. */
  beforeUnlink?: (orm: OdooOrm, rec: OdooRecord) => void;
  onCreate?: (orm: OdooOrm, vals: Record<string, unknown>) => void;
}

/** An Odoo exception as serialised by `serialize_exception`; `status` is the JSON-2 HTTP status. */
export class OdooError extends Error {
  constructor(
    readonly odooName: string,
    message: string,
    readonly status: number,
    readonly args: unknown[] = [message],
  ) {
    super(message);
    this.name = 'OdooError';
  }
}

export const odooErrors = {
  validation: (msg: string) => new OdooError('odoo.exceptions.ValidationError', msg, 422),
  user: (msg: string) => new OdooError('odoo.exceptions.UserError', msg, 422),
  access: (msg: string) => new OdooError('odoo.exceptions.AccessError', msg, 403),
  accessDenied: () => new OdooError('odoo.exceptions.AccessDenied', 'Access Denied', 403),
  missing: (msg: string) => new OdooError('odoo.exceptions.MissingError', msg, 404),
  lock: (msg: string) => new OdooError('odoo.exceptions.LockError', msg, 409),
  value: (msg: string) => new OdooError('builtins.ValueError', msg, 500),
  type: (msg: string) => new OdooError('builtins.TypeError', msg, 500),
};

const SYSTEM_FIELDS: Record<string, OdooField> = {
  id: { type: 'integer', string: 'ID', readonly: true },
  display_name: { type: 'char', string: 'Display Name', readonly: true },
  create_date: { type: 'datetime', string: 'Created on', readonly: true },
  write_date: { type: 'datetime', string: 'Last Updated on', readonly: true },
};

/** Rounds a monetary amount to cents. */
export function round2(value: number): number {
  return Math.round((value + Number.EPSILON) * 100) / 100;
}

/** `YYYY-MM-DD HH:MM:SS` in UTC, Odoo's datetime wire format. */
export function odooDatetime(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

type Leaf = [string, string, unknown];
const OPERATORS = new Set([
  '=', '!=', '<>', '>', '>=', '<', '<=', 'in', 'not in', 'like', 'ilike', 'not like', 'not ilike',
  '=like', '=ilike', '=?', 'child_of',
]);

function likeToRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  const source = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.');
  return new RegExp(`^${source}$`, caseInsensitive ? 'is' : 's');
}

const isEmpty = (v: unknown): boolean => v === false || v === null || v === undefined || v === '';

function looseEquals(a: unknown, b: unknown): boolean {
  if (isEmpty(a) && isEmpty(b)) return true;
  return a === b;
}

function compareScalars(a: unknown, op: string, b: unknown): boolean {
  switch (op) {
    case '=': return looseEquals(a, b);
    case '!=': case '<>': return !looseEquals(a, b);
    case '=?': return isEmpty(b) || looseEquals(a, b);
    case 'in': return Array.isArray(b) && b.some((x) => looseEquals(a, x));
    case 'not in': return !(Array.isArray(b) && b.some((x) => looseEquals(a, x)));
    case 'like': case 'ilike': case '=like': case '=ilike': {
      if (typeof a !== 'string' && typeof a !== 'number') return false;
      const pattern = op.startsWith('=') ? String(b) : `%${String(b)}%`;
      return likeToRegExp(pattern, op.endsWith('ilike')).test(String(a));
    }
    case 'not like': case 'not ilike':
      return isEmpty(a) || !compareScalars(a, op.slice(4), b);
    default: {
      // SQL semantics: comparisons with NULL are false.
      if (isEmpty(a) || b === null || b === false) return false;
      const x = a as number | string;
      const y = b as number | string;
      if (op === '<') return x < y;
      if (op === '<=') return x <= y;
      if (op === '>') return x > y;
      return x >= y;
    }
  }
}

/**
 * The record store and ORM semantics shared by JSON-2 and JSON-RPC. One instance per
 * simulator; nothing is module-global.
 */
export class OdooOrm {
  private readonly tables = new Map<string, Map<number, OdooRecord>>();
  private readonly nextIds = new Map<string, number>();
  private readonly locked = new Map<string, Set<number> | 'all'>();

  constructor(
    readonly models: Record<string, OdooModel>,
    seed: OdooSeed,
    readonly now: () => Date,
  ) {
    for (const name of Object.keys(models)) {
      const table = new Map<number, OdooRecord>();
      for (const rec of seed[name] ?? []) table.set(rec.id, clone(rec));
      this.tables.set(name, table);
      this.nextIds.set(name, Math.max(0, ...table.keys()) + 1);
    }
  }

  model(name: string): OdooModel {
    const model = this.models[name];
    if (model === undefined) throw new OdooError('builtins.KeyError', `'${name}'`, 500);
    return model;
  }

  hasModel(name: string): boolean {
    return Object.hasOwn(this.models, name);
  }

  field(model: string, name: string): OdooField | undefined {
    return SYSTEM_FIELDS[name] ?? this.model(model).fields[name];
  }

  fieldNames(model: string): string[] {
    return [...Object.keys(SYSTEM_FIELDS), ...Object.keys(this.model(model).fields)];
  }

  /** Raw stored records (live objects: internal use). */
  all(model: string): OdooRecord[] {
    return [...this.tables.get(model)!.values()];
  }

  get(model: string, id: number): OdooRecord | undefined {
    return this.tables.get(model)!.get(id);
  }

  /** Marks records (or a whole model) as locked: writes fail with LockError (409). */
  lock(model: string, ids?: number[]): void {
    this.locked.set(model, ids === undefined ? 'all' : new Set(ids));
  }

  unlockAll(): void {
    this.locked.clear();
  }

  assertUnlocked(model: string, ids: number[]): void {
    const entry = this.locked.get(model);
    if (entry === undefined) return;
    const hit = entry === 'all' ? ids : ids.filter((id) => entry.has(id));
    if (hit.length === 0) return;
    throw odooErrors.lock(
      `Cannot lock ${model}(${hit.join(', ')},): the record is being modified by another transaction. Please try again.`,
    );
  }

  /** Ids that exist, or MissingError like Odoo's `_check_access`/`exists()` path. */
  browse(model: string, ids: number[]): OdooRecord[] {
    const missing = ids.filter((id) => !this.tables.get(model)!.has(id));
    if (missing.length > 0) {
      throw odooErrors.missing(
        `Record does not exist or has been deleted.\n(Record: ${model}(${missing.join(', ')},), User: 2)`,
      );
    }
    return ids.map((id) => this.get(model, id)!);
  }

  displayName(model: string, rec: OdooRecord): string {
    const m = this.model(model);
    if (m.displayName) return m.displayName(rec, this);
    const name = rec.name;
    return typeof name === 'string' && name !== '' ? name : `${model},${rec.id}`;
  }

  /** Current value of a field in cache form: m2o id|false, x2many ids, computed fields evaluated. */
  rawValue(model: string, rec: OdooRecord, name: string): unknown {
    if (name === 'id') return rec.id;
    if (name === 'display_name') return this.displayName(model, rec);
    const field = this.field(model, name)!;
    if (field.compute) return field.compute(rec, this);
    if (field.type === 'one2many') {
      return this.all(field.relation!)
        .filter((r) => r[field.inverse!] === rec.id)
        .map((r) => r.id)
        .sort((a, b) => a - b);
    }
    const value = rec[name];
    if (field.type === 'many2many') return Array.isArray(value) ? value : [];
    if (field.type === 'integer' || field.type === 'float' || field.type === 'monetary') return value ?? 0;
    return value === undefined || value === null || value === '' ? false : value;
  }

  /** Value as `read` returns it (§1.7): empty → false, many2one → [id, name]. */
  readValue(model: string, rec: OdooRecord, name: string): unknown {
    const field = this.field(model, name)!;
    const value = this.rawValue(model, rec, name);
    if (field.type === 'many2one') {
      if (value === false) return false;
      const target = this.get(field.relation!, value as number);
      return target ? [target.id, this.displayName(field.relation!, target)] : false;
    }
    return value;
  }

  checkFields(model: string, fields: unknown): string[] {
    if (fields === undefined || fields === null || fields === false) {
      return this.fieldNames(model);
    }
    if (!Array.isArray(fields)) throw odooErrors.value(`Invalid fields specification: ${JSON.stringify(fields)}`);
    for (const f of fields) {
      if (typeof f !== 'string' || this.field(model, f) === undefined) {
        throw odooErrors.value(`Invalid field ${JSON.stringify(f)} on model '${model}'`);
      }
    }
    return fields.length === 0 ? this.fieldNames(model) : ['id', ...fields.filter((f) => f !== 'id')] as string[];
  }

  read(model: string, ids: number[], fields?: unknown): Array<Record<string, unknown>> {
    const names = this.checkFields(model, fields);
    return this.browse(model, ids).map((rec) => {
      const out: Record<string, unknown> = {};
      for (const name of names) out[name] = this.readValue(model, rec, name);
      return out;
    });
  }

  // ---- domains --------------------------------------------------------------------

  private leafMatches(model: string, rec: OdooRecord, leaf: Leaf): boolean {
    const [path, op, value] = leaf;
    const [name, ...rest] = path.split('.');
    const field = this.field(model, name!);
    if (field === undefined) {
      throw odooErrors.value(`Invalid field ${model}.${name} in leaf ${JSON.stringify(leaf)}`);
    }
    const raw = this.rawValue(model, rec, name!);
    if (rest.length > 0) {
      if (field.relation === undefined) throw odooErrors.value(`Invalid path ${path} in leaf ${JSON.stringify(leaf)}`);
      const ids = field.type === 'many2one' ? (raw === false ? [] : [raw as number]) : (raw as number[]);
      const matches = ids.some((id) => {
        const target = this.get(field.relation!, id);
        return target !== undefined && this.leafMatches(field.relation!, target, [rest.join('.'), op, value]);
      });
      return ids.length === 0 ? compareScalars(false, op, value) : matches;
    }
    if (op === 'child_of') {
      const wanted = new Set((Array.isArray(value) ? value : [value]) as number[]);
      const parentField = this.field(model, 'parent_id') ? 'parent_id' : undefined;
      for (let cur: OdooRecord | undefined = rec; cur; ) {
        if (wanted.has(cur.id)) return true;
        const parent: unknown = parentField ? cur[parentField] : false;
        cur = typeof parent === 'number' ? this.get(model, parent) : undefined;
      }
      return false;
    }
    if (field.type === 'many2one' || field.type === 'one2many' || field.type === 'many2many') {
      const ids = field.type === 'many2one' ? (raw === false ? [] : [raw as number]) : (raw as number[]);
      const byName =
        typeof value === 'string' || (Array.isArray(value) && value.some((v) => typeof v === 'string'));
      const candidates: unknown[] = byName
        ? ids.map((id) => {
            const target = this.get(field.relation!, id);
            return target ? this.displayName(field.relation!, target) : false;
          })
        : ids;
      const negative = op === '!=' || op === '<>' || op === 'not in' || op.startsWith('not ');
      if (candidates.length === 0) return compareScalars(false, op, value);
      if (negative) {
        const positive = op === 'not in' ? 'in' : op.startsWith('not ') ? op.slice(4) : '=';
        return !candidates.some((c) => compareScalars(c, positive, value));
      }
      return candidates.some((c) => compareScalars(c, op, value));
    }
    return compareScalars(raw, op, value);
  }

  /** Evaluates a prefix-notation domain (implicit AND between top-level terms). */
  matches(model: string, rec: OdooRecord, domain: unknown[]): boolean {
    const stack: boolean[] = [];
    for (let i = domain.length - 1; i >= 0; i -= 1) {
      const term = domain[i];
      if (term === '!') {
        stack.push(!this.pop(stack));
      } else if (term === '&' || term === '|') {
        const a = this.pop(stack);
        const b = this.pop(stack);
        stack.push(term === '&' ? a && b : a || b);
      } else {
        stack.push(this.evalLeaf(model, rec, term));
      }
    }
    return stack.every(Boolean);
  }

  private pop(stack: boolean[]): boolean {
    const value = stack.pop();
    if (value === undefined) throw odooErrors.value('Invalid domain: an operator is missing operands');
    return value;
  }

  private evalLeaf(model: string, rec: OdooRecord, term: unknown): boolean {
    if (!Array.isArray(term) || term.length !== 3) {
      throw odooErrors.value(`Invalid domain term ${JSON.stringify(term)}`);
    }
    const [left, op, right] = term as [unknown, unknown, unknown];
    if (typeof left === 'number') return left === 1; // TRUE_LEAF (1,'=',1) / FALSE_LEAF (0,'=',1)
    const operator = typeof op === 'string' ? op.toLowerCase() : op;
    if (typeof left !== 'string' || typeof operator !== 'string' || !OPERATORS.has(operator)) {
      throw odooErrors.value(`Invalid leaf ${JSON.stringify(term)}`);
    }
    return this.leafMatches(model, rec, [left, operator, right]);
  }

  /** `search`: ids of matching records, ordered, paged. `active_test` applies unless disabled in context. */
  search(
    model: string,
    domain: unknown,
    opts: { offset?: unknown; limit?: unknown; order?: unknown; context?: Record<string, unknown> } = {},
  ): number[] {
    const terms = domain === undefined || domain === null || domain === false ? [] : domain;
    if (!Array.isArray(terms)) throw odooErrors.value(`Invalid domain: ${JSON.stringify(domain)}`);
    const activeField = this.model(model).fields.active;
    const mentionsActive = terms.some((t) => Array.isArray(t) && t[0] === 'active');
    const activeTest = activeField !== undefined && !mentionsActive && opts.context?.active_test !== false;
    let records = this.all(model).filter(
      (rec) => (!activeTest || rec.active !== false) && this.matches(model, rec, terms),
    );
    records = this.sort(model, records, typeof opts.order === 'string' && opts.order !== '' ? opts.order : this.model(model).order);
    const offset = typeof opts.offset === 'number' ? opts.offset : 0;
    const limit = typeof opts.limit === 'number' ? opts.limit : undefined;
    return records.slice(offset, limit === undefined ? undefined : offset + limit).map((r) => r.id);
  }

  private sort(model: string, records: OdooRecord[], order: string): OdooRecord[] {
    const keys = order.split(',').map((part) => {
      const [name, dir = 'asc', ...extra] = part.trim().split(/\s+/);
      const field = name === undefined ? undefined : this.field(model, name);
      if (!field || extra.length > 0 || !['asc', 'desc'].includes(dir.toLowerCase()) || field.type.endsWith('2many')) {
        throw odooErrors.value(`Invalid "order" specified (${order}). A valid "order" specification is a comma-separated list of valid field names (optionally followed by asc/desc for the direction)`);
      }
      return { name: name!, field, desc: dir.toLowerCase() === 'desc' };
    });
    const keyOf = (rec: OdooRecord, name: string, field: OdooField): unknown => {
      const raw = this.rawValue(model, rec, name);
      if (field.type === 'many2one' && raw !== false) {
        const target = this.get(field.relation!, raw as number);
        return target ? this.displayName(field.relation!, target) : false;
      }
      return raw;
    };
    return [...records].sort((a, b) => {
      for (const { name, field, desc } of keys) {
        const x = keyOf(a, name, field);
        const y = keyOf(b, name, field);
        if (looseEquals(x, y)) continue;
        // PostgreSQL: NULLS LAST for ASC, NULLS FIRST for DESC.
        if (isEmpty(x)) return desc ? -1 : 1;
        if (isEmpty(y)) return desc ? 1 : -1;
        const cmp = (x as number | string) < (y as number | string) ? -1 : 1;
        return desc ? -cmp : cmp;
      }
      return a.id - b.id;
    });
  }

  // ---- writes ---------------------------------------------------------------------

  private checkValue(model: string, name: string, field: OdooField, value: unknown): unknown {
    if (value === null) value = false;
    const bad = (): never => {
      throw odooErrors.value(`Wrong value for ${model}.${name}: ${JSON.stringify(value)}`);
    };
    switch (field.type) {
      case 'char': case 'text':
        return value === false || typeof value === 'string' ? value : bad();
      case 'integer':
        return value === false ? 0 : Number.isInteger(value) ? value : bad();
      case 'float': case 'monetary':
        return value === false ? 0 : typeof value === 'number' ? value : bad();
      case 'boolean':
        return Boolean(value);
      case 'date':
        return value === false || (typeof value === 'string' && DATE_RE.test(value))
          ? value
          : bad();
      case 'datetime':
        if (value === false) return false;
        if (typeof value === 'string' && DATE_RE.test(value)) return `${value} 00:00:00`;
        return typeof value === 'string' && DATETIME_RE.test(value) ? value : bad();
      case 'selection':
        return value === false || field.selection!.some(([key]) => key === value) ? value : bad();
      case 'many2one': {
        if (value === false) return false;
        if (!Number.isInteger(value)) return bad();
        if (!this.get(field.relation!, value as number)) {
          throw odooErrors.validation(
            `The operation cannot be completed: the record ${field.relation}(${String(value)},) referenced by '${name}' does not exist.`,
          );
        }
        return value;
      }
      default:
        return value;
    }
  }

  private applyM2m(field: OdooField, current: number[], commands: unknown): number[] {
    if (!Array.isArray(commands)) throw odooErrors.value(`Invalid x2many value ${JSON.stringify(commands)}`);
    let ids = [...current];
    for (const cmd of commands) {
      if (typeof cmd === 'number') {
        ids.push(cmd);
        continue;
      }
      if (!Array.isArray(cmd)) throw odooErrors.value(`Invalid x2many command ${JSON.stringify(cmd)}`);
      const [code, id, arg] = cmd as [number, number, unknown];
      if (code === 0) ids.push(this.create(field.relation!, [arg as Record<string, unknown>])[0]!);
      else if (code === 1) this.write(field.relation!, [id], arg as Record<string, unknown>);
      else if (code === 2) { this.unlink(field.relation!, [id]); ids = ids.filter((x) => x !== id); }
      else if (code === 3) ids = ids.filter((x) => x !== id);
      else if (code === 4) ids.push(id);
      else if (code === 5) ids = [];
      else if (code === 6) ids = [...(arg as number[])];
      else throw odooErrors.value(`Invalid x2many command ${JSON.stringify(cmd)}`);
    }
    return [...new Set(ids)];
  }

  private applyO2m(model: string, rec: OdooRecord, name: string, field: OdooField, commands: unknown): void {
    if (!Array.isArray(commands)) throw odooErrors.value(`Invalid x2many value ${JSON.stringify(commands)}`);
    const rel = field.relation!;
    const inv = field.inverse!;
    for (const cmd of commands) {
      if (!Array.isArray(cmd)) throw odooErrors.value(`Invalid x2many command ${JSON.stringify(cmd)}`);
      const [code, id, arg] = cmd as [number, number, unknown];
      const current = (): number[] => this.rawValue(model, rec, name) as number[];
      if (code === 0) {
        if (!isPlainObject(arg)) throw odooErrors.value(`Invalid x2many command ${JSON.stringify(cmd)}`);
        this.create(rel, [{ ...arg, [inv]: rec.id }]);
      } else if (code === 1) this.write(rel, [id], arg as Record<string, unknown>);
      else if (code === 2 || code === 3) this.unlink(rel, [id]);
      else if (code === 4) this.write(rel, [id], { [inv]: rec.id });
      else if (code === 5) this.unlink(rel, current());
      else if (code === 6) {
        const keep = new Set(arg as number[]);
        this.unlink(rel, current().filter((x) => !keep.has(x)));
        for (const x of keep) this.write(rel, [x], { [inv]: rec.id });
      } else throw odooErrors.value(`Invalid x2many command ${JSON.stringify(cmd)}`);
    }
  }

  private assign(model: string, rec: OdooRecord, vals: Record<string, unknown>): Array<[string, OdooField, unknown]> {
    const deferred: Array<[string, OdooField, unknown]> = [];
    for (const [name, value] of Object.entries(vals)) {
      const field = this.field(model, name);
      if (field === undefined) throw odooErrors.validation(`Invalid field '${name}' on model '${model}'`);
      if (field.compute || name in SYSTEM_FIELDS) continue; // ignored, as Odoo does for non-inverse computed fields
      if (field.type === 'one2many') deferred.push([name, field, value]);
      else if (field.type === 'many2many') rec[name] = this.applyM2m(field, (rec[name] as number[] | undefined) ?? [], value);
      else rec[name] = this.checkValue(model, name, field, value);
    }
    return deferred;
  }

  private checkRequired(model: string, rec: OdooRecord): void {
    for (const [name, field] of Object.entries(this.model(model).fields)) {
      if (field.required && !field.compute && isEmpty(rec[name])) {
        throw odooErrors.validation(
          `The operation cannot be completed: a mandatory field is not set.\nModel: ${this.model(model).description} (${model})\nField: ${field.string} (${name})`,
        );
      }
    }
  }

  create(model: string, valsList: unknown[]): number[] {
    const m = this.model(model);
    const ids: number[] = [];
    for (const raw of valsList) {
      if (!isPlainObject(raw)) throw odooErrors.value(`Invalid values for ${model}.create: ${JSON.stringify(raw)}`);
      const vals: Record<string, unknown> = { ...raw };
      m.onCreate?.(this, vals);
      const id = this.nextIds.get(model)!;
      const stamp = odooDatetime(this.now());
      const rec: OdooRecord = { id, create_date: stamp, write_date: stamp };
      for (const [name, field] of Object.entries(m.fields)) {
        if (!(name in vals) && field.default) vals[name] = field.default(this, vals);
      }
      const deferred = this.assign(model, rec, vals);
      this.checkRequired(model, rec);
      this.nextIds.set(model, id + 1);
      this.tables.get(model)!.set(id, rec);
      for (const [name, field, value] of deferred) this.applyO2m(model, rec, name, field, value);
      ids.push(id);
    }
    return ids;
  }

  write(model: string, ids: number[], vals: unknown): true {
    if (!isPlainObject(vals)) throw odooErrors.value(`Invalid values for ${model}.write: ${JSON.stringify(vals)}`);
    this.assertUnlocked(model, ids);
    for (const rec of this.browse(model, ids)) {
      const draft = { ...rec };
      const deferred = this.assign(model, draft, vals);
      this.checkRequired(model, draft);
      Object.assign(rec, draft, { write_date: odooDatetime(this.now()) });
      for (const [name, field, value] of deferred) this.applyO2m(model, rec, name, field, value);
    }
    return true;
  }

  unlink(model: string, ids: number[]): true {
    this.assertUnlocked(model, ids);
    const m = this.model(model);
    for (const rec of this.browse(model, ids)) {
      m.beforeUnlink?.(this, rec);
      for (const [otherName, other] of Object.entries(this.models)) {
        for (const [fname, f] of Object.entries(other.fields)) {
          if (f.type !== 'many2one' || f.relation !== model || f.compute) continue;
          const refs = this.all(otherName).filter((r) => r[fname] === rec.id);
          if (refs.length === 0) continue;
          const mode = f.ondelete ?? (f.required ? 'restrict' : 'set null');
          if (mode === 'restrict') {
            throw odooErrors.validation(
              'The operation cannot be completed: another model requires the record being deleted. If possible, archive it instead.\n\n' +
                `Model: ${other.description} (${otherName}), Constraint: ${otherName.replace(/\./g, '_')}_${fname}_fkey`,
            );
          }
          if (mode === 'cascade') this.unlink(otherName, refs.map((r) => r.id));
          else for (const r of refs) r[fname] = false;
        }
      }
      this.tables.get(model)!.delete(rec.id);
    }
    return true;
  }

  fieldsGet(model: string, allfields?: unknown, attributes?: unknown): Record<string, Record<string, unknown>> {
    const names = Array.isArray(allfields) && allfields.length > 0 ? (allfields as string[]) : this.fieldNames(model);
    const out: Record<string, Record<string, unknown>> = {};
    for (const name of names) {
      const field = this.field(model, name);
      if (field === undefined) continue;
      const desc: Record<string, unknown> = {
        type: field.type,
        string: field.string,
        required: Boolean(field.required),
        readonly: Boolean(field.readonly || field.compute),
        store: !field.compute && field.type !== 'one2many' && name !== 'display_name',
        sortable: !field.type.endsWith('2many'),
      };
      if (field.relation) desc.relation = field.relation;
      if (field.inverse) desc.relation_field = field.inverse;
      if (field.selection) desc.selection = field.selection;
      if (Array.isArray(attributes) && attributes.length > 0) {
        for (const key of Object.keys(desc)) if (!attributes.includes(key)) delete desc[key];
      }
      out[name] = desc;
    }
    return out;
  }

  /** Runs `fn` as one transaction: on any exception every table is restored (Odoo commits per call). */
  transaction<T>(fn: () => T): T {
    const tables = new Map([...this.tables].map(([name, table]) => [name, clone(table)]));
    const nextIds = new Map(this.nextIds);
    try {
      return fn();
    } catch (err) {
      for (const [name, table] of tables) this.tables.set(name, table);
      for (const [name, id] of nextIds) this.nextIds.set(name, id);
      throw err;
    }
  }

  /** Raw copy of every record of a model (for tests and demos). */
  snapshot(model: string): OdooRecord[] {
    return clone(this.all(model));
  }
}
