/**
 * @module `ownership`: system-of-record write ownership (DESIGN §6). Each write the upstream
 * adapter extracts — Odoo `create` / `write` / `unlink` and any method not known to be a read
 * (`action_post`, `button_*`, unknown ones), Salesforce sObject POST / PATCH / DELETE and every
 * composite part, Zendesk ticket writes — is looked up in the snapshot's ownership registry by
 * (adapter system, model). Each written upstream field maps to its canonical field, whose owner
 * is the entity's per-field owner or else the entity's owner; the write passes when the consumer
 * speaks for that owner or holds an enrichment grant for the field. Deletes, method calls and
 * writes naming no field need the entity's owner. Otherwise 403 `ownership.write_denied`
 * naming entity, fields and owners, before any upstream call. Reads pass untouched.
 */
import type { BusinessOperation, OwnershipSpec, RequestContext } from '../../contracts/index.js';
import { definePolicy, outcomeCounter, type ConsumerDirectory } from '../define-policy.js';
import { GatewayError } from '../errors.js';
import { ownershipPolicySchema, type OwnershipConfig } from './schema.js';

/** A registry entity as the policy looks it up; field names lower-cased. */
interface CompiledEntity {
  readonly name: string;
  readonly owner: string;
  /** Canonical field (lower case) → owning system, where it is not the entity's owner. */
  readonly fieldOwners: ReadonlyMap<string, string>;
  /** Consumer id → canonical fields (lower case) it may write as enrichment. */
  readonly grants: ReadonlyMap<string, ReadonlySet<string>>;
}

/** One (upstream, model) and the entity it is. */
interface CompiledMapping {
  readonly entity: CompiledEntity;
  readonly upstream: string;
  readonly model: string;
  /** Upstream field (lower case) → canonical field as the registry spells it. */
  readonly fields: ReadonlyMap<string, string>;
}

interface CompiledRegistry {
  /** `<upstream> <model>`, lower case → mapping. */
  readonly byModel: ReadonlyMap<string, CompiledMapping>;
  readonly systemNames: ReadonlyMap<string, string>;
}

/** One refused write, as the problem reports it. */
interface RefusedWrite {
  entity: string | null;
  upstream: string;
  model: string;
  action: BusinessOperation['action'];
  method?: string;
  /** Canonical fields refused (empty: the write as a whole needs the entity's owner). */
  fields: string[];
  /** The same fields as the caller named them upstream. */
  upstreamFields: string[];
  owners: string[];
}

/**
 * Keys of body objects that are not fields. Salesforce sObject bodies may carry `attributes`
 * (`{type, url}`), which Salesforce reads as metadata and never stores.
 */
const NOT_FIELDS: Readonly<Record<string, ReadonlySet<string>>> = { salesforce: new Set(['attributes']) };

// Names compare case-insensitively: Salesforce treats sObject and field names so, and a
// spelling the registry did not foresee must not slip past an owner.
const fold = (name: string): string => name.toLowerCase();
const modelKey = (upstream: string, model: string): string => `${fold(upstream)} ${fold(model)}`;

/** Indexes the registry; a dangling or ambiguous reference is a configuration mistake. */
function compileRegistry(spec: OwnershipSpec): CompiledRegistry {
  const problems: string[] = [];
  const systemNames = new Map<string, string>();
  for (const system of spec.systems) {
    if (systemNames.has(system.id)) problems.push(`ownership.systems[${system.id}]: duplicate id`);
    systemNames.set(system.id, system.name);
  }
  const known = (id: string, where: string): void => {
    if (!systemNames.has(id)) problems.push(`${where}: unknown system "${id}"`);
  };
  const grantsByEntity = new Map<string, Map<string, Set<string>>>();
  for (const grant of spec.grants) {
    let byConsumer = grantsByEntity.get(grant.entity);
    if (byConsumer === undefined) grantsByEntity.set(grant.entity, (byConsumer = new Map()));
    let fields = byConsumer.get(grant.consumer);
    if (fields === undefined) byConsumer.set(grant.consumer, (fields = new Set()));
    for (const field of grant.fields) fields.add(fold(field));
  }
  const entityNames = new Set<string>();
  const byModel = new Map<string, CompiledMapping>();
  for (const entitySpec of spec.entities) {
    const where = `ownership.entities[${entitySpec.name}]`;
    if (entityNames.has(entitySpec.name)) problems.push(`${where}: duplicate entity`);
    entityNames.add(entitySpec.name);
    known(entitySpec.owner, `${where}.owner`);
    const fieldOwners = new Map<string, string>();
    for (const [field, owner] of Object.entries(entitySpec.fieldOwners)) {
      known(owner, `${where}.fieldOwners.${field}`);
      fieldOwners.set(fold(field), owner);
    }
    const entity: CompiledEntity = { name: entitySpec.name, owner: entitySpec.owner, fieldOwners, grants: grantsByEntity.get(entitySpec.name) ?? new Map() };
    for (const mapping of entitySpec.mappings) {
      const key = modelKey(mapping.upstream, mapping.model);
      const other = byModel.get(key);
      if (other !== undefined) {
        problems.push(`${where}: ${mapping.upstream} model "${mapping.model}" is already mapped to entity "${other.entity.name}"`);
        continue;
      }
      const fields = new Map<string, string>();
      for (const [upstreamField, canonical] of Object.entries(mapping.fields)) fields.set(fold(upstreamField), canonical);
      byModel.set(key, { entity, upstream: mapping.upstream, model: mapping.model, fields });
    }
  }
  for (const entity of grantsByEntity.keys()) {
    if (!entityNames.has(entity)) problems.push(`ownership.grants: unknown entity "${entity}"`);
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
  return { byModel, systemNames };
}

/** The writes of an operation: the operation itself, or the non-read parts of a batch. */
function writesOf(operation: BusinessOperation): BusinessOperation[] {
  if (operation.parts !== undefined) return operation.parts.flatMap(writesOf);
  return operation.action === 'read' ? [] : [operation];
}

/** What needs judging in one write: the entity's owner for the write as a whole, and each field. */
function judge(write: BusinessOperation, mapping: CompiledMapping, consumer: string | undefined, speaksFor: string | undefined): RefusedWrite | undefined {
  const { entity } = mapping;
  const granted = consumer === undefined ? undefined : entity.grants.get(consumer);
  const ignored = NOT_FIELDS[fold(write.system)];
  const written = ignored === undefined ? write.fields : write.fields.filter((f) => !ignored.has(fold(f)));
  const refused: RefusedWrite = {
    entity: entity.name,
    upstream: write.system,
    model: write.entity,
    action: write.action,
    ...(write.method === undefined ? {} : { method: write.method }),
    fields: [],
    upstreamFields: [],
    owners: [],
  };
  // A delete or a method call changes the record as a whole; a write naming no field is one
  // whose fields the gateway could not read (fail closed).
  if (write.action === 'delete' || write.action === 'call' || written.length === 0) {
    if (speaksFor !== entity.owner) refused.owners.push(entity.owner);
  }
  for (const field of written) {
    const canonical = mapping.fields.get(fold(field)) ?? field;
    const owner = entity.fieldOwners.get(fold(canonical)) ?? entity.owner;
    if (owner === speaksFor || granted?.has(fold(canonical)) === true) continue;
    if (!refused.fields.includes(canonical)) {
      refused.fields.push(canonical);
      refused.upstreamFields.push(field);
    }
    if (!refused.owners.includes(owner)) refused.owners.push(owner);
  }
  return refused.owners.length === 0 ? undefined : refused;
}

function describeWrite(write: RefusedWrite, systemNames: ReadonlyMap<string, string>): string {
  const owners = write.owners.map((id) => (systemNames.has(id) ? `${id} (${systemNames.get(id)})` : id)).join(', ');
  if (write.entity === null && write.model === '') return `the gateway cannot tell which ${write.upstream} model this call writes`;
  if (write.entity === null) {
    const writing = write.upstreamFields.length === 0 ? '' : ` (writing ${write.upstreamFields.join(', ')})`;
    return `no system of record is registered for ${write.upstream} model "${write.model}"${writing}`;
  }
  const where = `${write.upstream} ${write.model}`;
  if (write.fields.length === 0) {
    const what = write.action === 'delete' ? 'deleting' : write.action === 'call' ? `calling ${write.method ?? 'a method'} on` : `${write.action === 'create' ? 'creating' : 'updating'} (no readable fields)`;
    return `${what} ${write.entity} records (${where}) needs its owner ${owners}`;
  }
  const fields = write.fields.map((f, i) => (fold(f) === fold(write.upstreamFields[i]!) ? f : `${f} (${write.upstreamFields[i]})`)).join(', ');
  return `${write.entity}.${write.fields.length > 1 ? `{${fields}}` : fields} (${where}) is owned by ${owners}`;
}

/**
 * @param config.unmappedWrites defaults to `deny`
 * @example
 * // a version's policies in a snapshot carrying an `ownership` registry; consumers carry `speaksFor`
 * { policy: 'ownership', config: {} }
 * // service-desk writing account.move payment_state → 403 ownership.write_denied
 * //   { entity: 'invoice', fields: ['payment_state'], owners: ['erp'], refused: [...] }
 */
export const ownershipPolicy = definePolicy<OwnershipConfig>({
  name: 'ownership',
  // After identity (1450), subscription (1200) and RBAC (950); before rate limiting (910), so a
  // refused write spends no rate, and before idempotency (600), so it claims no key.
  priority: 930,
  schema: ownershipPolicySchema,
  // The written fields come from the body: the operation must be extracted from it.
  needsBody: true,
  create(config, deps) {
    const version = deps.version;
    if (version === undefined) throw new Error('ownership is bound per API version');
    const spec = deps.ownership;
    // Compiled once per snapshot, shared by every version that binds the policy.
    const compiled = spec === undefined ? undefined : deps.scope.memo('ownership:registry', () => {
      try {
        return { registry: compileRegistry(spec) };
      } catch (error) {
        return { error: error as Error };
      }
    });
    if (compiled !== undefined && 'error' in compiled) throw compiled.error;
    const registry = compiled?.registry;
    const directory: ConsumerDirectory = deps.directory;
    const counted = outcomeCounter(deps.metrics, 'ownership_writes_total', 'Writes judged by the ownership policy, by outcome (allowed, refused).', version.api, version.spec.version);

    function refuse(ctx: RequestContext, consumer: string | undefined, refusals: RefusedWrite[], detail: string): never {
      counted('refused');
      const first = refusals[0];
      throw new GatewayError('ownership.write_denied', `Consumer "${consumer ?? 'anonymous'}" may not write: ${detail}.`, {
        extensions: {
          entity: first?.entity ?? null,
          fields: first?.fields ?? [],
          owners: first?.owners ?? [],
          refused: refusals,
          ...(ctx.operationId === undefined ? {} : { operation: ctx.operationId }),
        },
      });
    }

    return function ownership(req, _res, ctx) {
      const operation = ctx.operation;
      const consumer = ctx.consumer?.id;
      if (operation === undefined) {
        // Nothing says what this call does: only a safe method may pass.
        const method = req.method ?? 'GET';
        if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return;
        refuse(ctx, consumer, [], 'the gateway could not tell what this call writes');
      }
      const writes = writesOf(operation);
      if (writes.length === 0) return;
      if (registry === undefined) refuse(ctx, consumer, [], 'the snapshot carries no system-of-record registry, so every write is refused');
      const speaksFor = consumer === undefined ? undefined : directory.byId.get(consumer)?.speaksFor;
      const refusals: RefusedWrite[] = [];
      for (const write of writes) {
        const mapping = registry.byModel.get(modelKey(write.system, write.entity));
        if (mapping === undefined) {
          // `allow` opens models the registry does not know, never a call whose model the
          // adapter could not tell (a body it could not read, a path it does not parse).
          if (config.unmappedWrites === 'allow' && write.entity !== '') continue;
          refusals.push({ entity: null, upstream: write.system, model: write.entity, action: write.action, ...(write.method === undefined ? {} : { method: write.method }), fields: [...write.fields], upstreamFields: [...write.fields], owners: [] });
          continue;
        }
        const refused = judge(write, mapping, consumer, speaksFor);
        if (refused !== undefined) refusals.push(refused);
      }
      if (refusals.length > 0) refuse(ctx, consumer, refusals, refusals.map((r) => describeWrite(r, registry.systemNames)).join('; '));
      counted('allowed');
    };
  },
});
