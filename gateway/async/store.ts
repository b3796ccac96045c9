/**
 * @module The gateway's durable queue of async requests, behind one interface with two backends:
 * an append-only fsynced log (embedded, `file-store.ts`) and Redis Streams with consumer groups
 * (distributed, `redis-store.ts`). The policy enqueues; the status resource and the admin routes
 * read, replay and discard; the deliverer takes due work, marks each attempt before sending and
 * records its outcome.
 */
import type { AsyncEntry, AsyncQueue, AsyncRecord, AsyncState } from '../../policies/index.js';

/** A request the deliverer took: its record and state as of the take. */
export interface WorkItem {
  readonly record: AsyncRecord;
  readonly state: AsyncState;
}

/** What an admin action did. */
export type AdminOutcome = { kind: 'done'; entry: AsyncEntry } | { kind: 'not_found' } | { kind: 'not_dead'; entry: AsyncEntry };

export interface AsyncStoreDepth {
  /** Requests not yet delivered, dead letters excluded. */
  queued: number;
  dead: number;
}

export interface AsyncStore extends AsyncQueue {
  readonly backend: 'file' | 'redis';
  /** A request by id (delivered ones while retained), or undefined. */
  get(id: string): Promise<AsyncEntry | undefined>;
  /** Dead letters, oldest first; `after` is the last id of the previous page. */
  listDead(limit: number, after?: string): Promise<AsyncEntry[]>;
  /** A dead letter back to `pending` with a fresh attempt budget, at the head of its key. */
  revive(id: string, actor: string): Promise<AdminOutcome>;
  /** A dead letter dropped for good; the requests its key held up go on. */
  discard(id: string, actor: string): Promise<AdminOutcome>;

  /** Starts the delivery side (leases, reads); `wake` is called when new work may be due. */
  start(wake: () => void): void;
  /** Due work, at most `limit` items, each in flight until settled or released. */
  take(now: number, limit: number): WorkItem[];
  /** When the next item falls due (undefined: none waits for a time). */
  nextDueAt(): number | undefined;
  /**
   * Records, durably, that an attempt starts (`state.sendingSince`); false when this node no
   * longer owns the item (a lost lease): then nothing must be sent.
   */
  begin(item: WorkItem, state: AsyncState): Promise<boolean>;
  /** Records, durably, the attempt's outcome (`delivered`, `failed` with `nextAttemptAt`, `dead`); false when ownership was lost. */
  settle(item: WorkItem, state: AsyncState): Promise<boolean>;
  /** Puts an item back unchanged, due at `at` (nothing was attempted). */
  release(item: WorkItem, at: number): void;
  depth(): AsyncStoreDepth;
  /** Stops the delivery side and releases what this node holds (file lock, Redis leases). */
  close(): Promise<void>;
}

/** `<partition>-<hex>` or `<hex>`: what an id may look like on the wire. */
export const ASYNC_ID_PATTERN = /^(?:[0-9]{1,4}-)?[0-9a-f]{32}$/;

/** A copy callers may keep: records and states are replaced, never mutated, but copies keep it that way. */
export function entryOf(record: AsyncRecord, state: AsyncState): AsyncEntry {
  return { record: { ...record }, state: { ...state } };
}
