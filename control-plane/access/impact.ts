/**
 * @module Traffic impact: which consumers actually called given operations of an API major in
 * the last N days, from the access records the gateways shipped, with call counts and
 * last-seen times. Reviewers see it beside a breaking change or a deprecation; notifications
 * mark those consumers as impacted.
 */
import type { Kysely } from 'kysely';
import type { ContractChange, OperationSpec } from '../../contracts/index.js';
import type { Database } from '../store/schema.js';

export interface OperationUsage {
  operationId: string;
  calls: number;
  lastSeen: string;
}

export interface ConsumerImpact {
  consumer: string;
  /** The consumer's name, or null when it is no longer registered. */
  name: string | null;
  calls: number;
  lastSeen: string;
  operations: OperationUsage[];
}

/** A breaking change report with, per change, the operations it touches and who called them. */
export interface BreakingImpact {
  against: string;
  changes: (ContractChange & { operations: string[]; consumers: Omit<ConsumerImpact, 'operations'>[] })[];
  /** Everyone who called an operation a breaking change touches. */
  consumers: ConsumerImpact[];
}

/** `GET …/versions/{v}/impact` (routes/versions.ts `impactOf`); notifications mark impacted consumers from it. */
export interface ImpactReport {
  api: string;
  version: string;
  days: number;
  since: string;
  /** Who calls this version's major: whom deprecating or retiring it affects. */
  usage: { versions: string[]; consumers: ConsumerImpact[] };
  /** Against an older version (by default the comparison base): who calls what breaks. Null when nothing older is published. */
  breaking: BreakingImpact | null;
}

/**
 * The versions of one major of an API: traffic is recorded per version, consumers call the major.
 *
 * @example
 * const versions = await majorVersions(store.db, 'erp-orders', 1); // ['1.0.0', '1.1.0']
 */
export async function majorVersions(db: Kysely<Database>, api: string, major: number): Promise<string[]> {
  return (await db.selectFrom('api_versions').select('version').where('api_slug', '=', api).where('major', '=', major).execute()).map((row) => row.version);
}

export interface ImpactQuery {
  api: string;
  /** The versions whose traffic counts (every version of the affected major). */
  versions: readonly string[];
  /** Only these operations; undefined means all of them. An empty list matches nothing. */
  operations?: readonly string[];
  /** ISO date-time: records from then on. */
  since: string;
}

/**
 * Callers of the operations, busiest first.
 *
 * @example
 * const consumers = await trafficImpact(store.db, { api: 'erp-orders', versions: ['1.0.0', '1.1.0'], operations: ['getOrder'], since });
 */
export async function trafficImpact(db: Kysely<Database>, query: ImpactQuery): Promise<ConsumerImpact[]> {
  if (query.versions.length === 0 || query.operations?.length === 0) return [];
  let select = db
    .selectFrom('access_records')
    .select((eb) => ['consumer', 'operation', eb.fn.countAll<string | number>().as('calls'), eb.fn.max('at').as('last_seen')])
    .where('api', '=', query.api)
    .where('version', 'in', [...query.versions])
    .where('at', '>=', query.since)
    .where('consumer', 'is not', null)
    .where('operation', 'is not', null)
    .groupBy(['consumer', 'operation']);
  if (query.operations !== undefined) select = select.where('operation', 'in', [...query.operations]);
  const rows = await select.execute();
  const byConsumer = new Map<string, ConsumerImpact>();
  for (const row of rows) {
    const id = row.consumer!;
    const usage: OperationUsage = { operationId: row.operation!, calls: Number(row.calls), lastSeen: String(row.last_seen) };
    const entry = byConsumer.get(id) ?? { consumer: id, name: null, calls: 0, lastSeen: usage.lastSeen, operations: [] };
    entry.calls += usage.calls;
    if (usage.lastSeen > entry.lastSeen) entry.lastSeen = usage.lastSeen;
    entry.operations.push(usage);
    byConsumer.set(id, entry);
  }
  if (byConsumer.size > 0) {
    const names = await db.selectFrom('consumers').select(['id', 'name']).where('id', 'in', [...byConsumer.keys()]).execute();
    for (const { id, name } of names) byConsumer.get(id)!.name = name;
  }
  const result = [...byConsumer.values()];
  for (const entry of result) entry.operations.sort((a, b) => b.calls - a.calls || a.operationId.localeCompare(b.operationId));
  return result.sort((a, b) => b.calls - a.calls || a.consumer.localeCompare(b.consumer));
}

/** `/` and `~` escaped as in a JSON Pointer segment. */
const pointerSegment = (text: string): string => text.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The operations of the old contract a change touches: its operationId, or every operation of
 * the path it names (a removed path), or every operation when it is not located in one.
 *
 * @example
 * affectedOperations(change, JSON.parse(base.operations));
 */
export function affectedOperations(change: ContractChange, operations: readonly OperationSpec[]): string[] {
  if (change.operationId !== undefined) return [change.operationId];
  const match = /^#?\/paths\/([^/]+)/.exec(change.location);
  if (match !== null) return operations.filter((op) => pointerSegment(op.path) === match[1]).map((op) => op.id);
  return operations.map((op) => op.id);
}
