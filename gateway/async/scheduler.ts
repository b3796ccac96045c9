/**
 * @module Per-ordering-key FIFO queues of undelivered requests, held in memory by whichever
 * node delivers them (the embedded store's one queue, or each Redis partition this node leases).
 * Only the head of a key is ever attempted; the next becomes due when the head is delivered or
 * discarded. A dead head holds its key until an admin replays or discards it, so a later step
 * (confirm) never overtakes an earlier one (create) that failed. Heads waiting for a time sit
 * in a min-heap, so finding due work costs O(log n), not a scan.
 */
import type { AsyncStatus } from '../../policies/index.js';

/** What the scheduler needs of a queued request; stores extend it with the record and state. */
export interface ScheduledEntry {
  readonly id: string;
  readonly key: string;
  /** `pending`, `failed` or `dead` while queued. */
  status: AsyncStatus;
  /** Earliest time of the next attempt. */
  dueAt: number;
  inFlight: boolean;
}

interface Timed<E> {
  at: number;
  entry: E;
}

/** A binary min-heap by time. */
class TimeHeap<E> {
  readonly #items: Array<Timed<E>> = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): Timed<E> | undefined {
    return this.#items[0];
  }

  push(item: Timed<E>): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.at <= item.at) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  pop(): Timed<E> | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && items[right]!.at < items[left]!.at ? right : left;
      if (items[child]!.at >= last.at) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

/**
 * @example
 * const scheduler = new KeyedScheduler<ScheduledEntry>();
 * scheduler.push({ id: 'a', key: 'R-1', status: 'pending', dueAt: 0, inFlight: false });
 * scheduler.push({ id: 'b', key: 'R-1', status: 'pending', dueAt: 0, inFlight: false });
 * scheduler.take(Date.now(), 10); // [a] — b waits until a is delivered
 */
export class KeyedScheduler<E extends ScheduledEntry> {
  readonly #keys = new Map<string, E[]>();
  readonly #byId = new Map<string, E>();
  readonly #due = new TimeHeap<E>();
  #dead = 0;

  /** Requests queued (dead ones included). */
  get size(): number {
    return this.#byId.size;
  }

  /** Dead heads holding their keys. */
  get deadCount(): number {
    return this.#dead;
  }

  get(id: string): E | undefined {
    return this.#byId.get(id);
  }

  /** Queued requests in no particular order. */
  entries(): IterableIterator<E> {
    return this.#byId.values();
  }

  /** Appends a request to its key's queue (a known id is ignored). */
  push(entry: E): void {
    if (this.#byId.has(entry.id)) return;
    this.#byId.set(entry.id, entry);
    if (entry.status === 'dead') this.#dead++;
    let queue = this.#keys.get(entry.key);
    if (queue === undefined) this.#keys.set(entry.key, (queue = []));
    queue.push(entry);
    if (queue.length === 1) this.#arm(entry);
  }

  /** Due heads (up to `limit`), marked in flight. */
  take(now: number, limit: number): E[] {
    const out: E[] = [];
    while (out.length < limit) {
      const top = this.#due.peek();
      if (top === undefined || top.at > now) break;
      this.#due.pop();
      if (!this.#current(top)) continue;
      top.entry.inFlight = true;
      out.push(top.entry);
    }
    return out;
  }

  /** When the next head falls due (undefined: nothing is waiting for a time). */
  nextDueAt(): number | undefined {
    for (let top = this.#due.peek(); top !== undefined; top = this.#due.peek()) {
      if (this.#current(top)) return top.at;
      this.#due.pop();
    }
    return undefined;
  }

  /** Delivered or discarded: gone, and the next request of its key becomes due. */
  remove(id: string): void {
    const entry = this.#byId.get(id);
    if (entry === undefined) return;
    this.#byId.delete(id);
    if (entry.status === 'dead') this.#dead--;
    entry.inFlight = false;
    const queue = this.#keys.get(entry.key)!;
    const at = queue.indexOf(entry);
    queue.splice(at, 1);
    if (queue.length === 0) this.#keys.delete(entry.key);
    else if (at === 0) this.#arm(queue[0]!);
  }

  /**
   * Back to waiting: `failed` / `pending` due at `at`, or `dead` (holds its key until revived or
   * removed). Also how an attempt that could not start is put back.
   */
  reschedule(id: string, status: AsyncStatus, at: number): void {
    const entry = this.#byId.get(id);
    if (entry === undefined) return;
    if (entry.status === 'dead') this.#dead--;
    if (status === 'dead') this.#dead++;
    entry.status = status;
    entry.dueAt = at;
    entry.inFlight = false;
    if (this.#keys.get(entry.key)![0] === entry) this.#arm(entry);
  }

  #arm(entry: E): void {
    if (entry.status === 'dead' || entry.inFlight) return;
    this.#due.push({ at: entry.dueAt, entry });
  }

  /** A heap item still stands for its entry: still the head, waiting, due at that time. */
  #current(item: Timed<E>): boolean {
    const { entry } = item;
    return !entry.inFlight && entry.status !== 'dead' && entry.dueAt === item.at && this.#byId.get(entry.id) === entry && this.#keys.get(entry.key)?.[0] === entry;
  }
}
