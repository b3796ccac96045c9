/**
 * @module The distributed async queue: Redis Streams with a consumer group, shared by every
 * gateway node. Ordering keys are hashed onto `partitions` streams; each partition is delivered
 * by one node at a time, the holder of its lease (`SET NX PX`, renewed every third of
 * `leaseMs`), so the requests of one key are attempted one after the other however many nodes
 * there are. Live nodes heartbeat into a sorted set and each takes its fair share of
 * partitions, releasing surplus ones when a node joins.
 *
 * Keys (`{p<n>}` is a Redis Cluster hash tag: one partition's keys share a slot):
 * `<prefix>{p<n>}:stream` (entries `t=req id=…`, and `t=wake` after an admin action),
 * `<prefix>{p<n>}:lease`, `<prefix>{p<n>}:dead` (dead letters by time),
 * `<prefix>{p<n>}:req:<id>` (hash: `record`, `body`, `status`, `state`), `<prefix>nodes`,
 * `<prefix>meta` (the partition count every node must agree on).
 *
 * Accepting is one `MULTI` (the request hash and its stream entry). The lease holder reads new
 * entries with `XREADGROUP` inside a script that first checks it still holds the lease, so a node
 * that lost it cannot take entries any more; entries stay in the group's pending list until
 * delivered (`XACK` + `XDEL`), dead letters included, so a node that takes a partition over
 * claims the previous holder's unfinished entries with `XAUTOCLAIM`, in stream order. Every state
 * change is a script that checks the lease first: a node that lost a partition can neither mark
 * an attempt (so it sends nothing) nor record an outcome (its new owner probes instead).
 * Durability is Redis's: run it with `appendonly yes` (`appendfsync always` for no loss at all).
 */
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { initialAsyncState, type AsyncEntry, type AsyncRecord, type AsyncState, type Clock, type Logger, type RedisClient } from '../../policies/index.js';
import { KeyedScheduler, type ScheduledEntry } from './scheduler.js';
import { entryOf, type AdminOutcome, type AsyncStore, type AsyncStoreDepth, type WorkItem } from './store.js';

export interface RedisAsyncStoreOptions {
  redis: RedisClient;
  logger: Logger;
  /** This node's name (`GATEWAY_NODE_ID`); a random suffix makes each process a distinct consumer. */
  nodeId: string;
  /** Default `gatehouse:async:`. */
  prefix?: string;
  /** Streams the ordering keys are spread over; every node must use the same. Default 16. */
  partitions?: number;
  /** A partition whose holder stopped renewing is taken over after this. Default 10000. */
  leaseMs?: number;
  /** How often held partitions are read for new requests (and at once after a local accept). Default 200. */
  pollMs?: number;
  /** How long delivered and discarded requests stay readable. Default 24 h. */
  retentionMs?: number;
  clock?: Clock;
}

interface RedisEntry extends ScheduledEntry, WorkItem {
  record: AsyncRecord;
  state: AsyncState;
  readonly partition: number;
  readonly epoch: number;
  readonly streamId: string;
}

/** A partition this node holds, and what it knows of it. */
interface Held {
  readonly n: number;
  readonly epoch: number;
  readonly scheduler: KeyedScheduler<RedisEntry>;
  /** Adopted: the previous holder's unfinished entries are claimed and loaded. */
  ready: boolean;
}

interface StreamMessage {
  id: string;
  message: Record<string, string>;
}

const GROUP = 'deliverers';

/** XREADGROUP for the lease holder only (-1: not the holder; nil: nothing new). KEYS: stream, lease. ARGV: holder, group, consumer, count. */
const READ_SCRIPT =
  "if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end " +
  "return redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', ARGV[4], 'STREAMS', KEYS[1], '>')";

/** A state change by the lease holder. KEYS: lease, req, stream, dead. ARGV: holder, status, state, stream id, id, retention ms, now, group. */
const SETTLE_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'status', ARGV[2], 'state', ARGV[3])
if ARGV[2] == 'delivered' then
  redis.call('XACK', KEYS[3], ARGV[8], ARGV[4])
  redis.call('XDEL', KEYS[3], ARGV[4])
  redis.call('HDEL', KEYS[2], 'body')
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
elseif ARGV[2] == 'dead' then
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[5])
end
return 1`;

/** An admin action on a dead letter (any node). KEYS: req, dead, stream. ARGV: id, status, state, retention ms. */
const ADMIN_SCRIPT = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if status ~= 'dead' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'state', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == 'discarded' then
  redis.call('HDEL', KEYS[1], 'body')
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
redis.call('XADD', KEYS[3], '*', 't', 'wake', 'id', ARGV[1])
return 1`;

const RENEW_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
const RELEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** `XREADGROUP` as a script returns it: `[[stream, [[id, [field, value, …]], …]]]` or nil. */
function parseRead(reply: unknown): StreamMessage[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const entries = (reply[0] as [string, Array<[string, string[]]>])[1] ?? [];
  return entries.map(([id, fields]) => {
    const message: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) message[fields[i]!] = fields[i + 1]!;
    return { id, message };
  });
}

/**
 * @param options.partitions defaults to 16
 * @param options.leaseMs defaults to 10 s
 * @example
 * const store = createRedisAsyncStore({ redis: connection.client, logger, nodeId: 'gw-1' });
 * const gateway = createGateway({ ..., redis: connection.client, asyncStore: store });
 */
export function createRedisAsyncStore(options: RedisAsyncStoreOptions): AsyncStore {
  const { redis, logger } = options;
  const clock = options.clock ?? { now: () => Date.now() };
  const prefix = options.prefix ?? 'gatehouse:async:';
  const partitions = options.partitions ?? 16;
  const leaseMs = options.leaseMs ?? 10_000;
  const pollMs = options.pollMs ?? 200;
  const retentionMs = options.retentionMs ?? 24 * 3600_000;
  const consumer = `${options.nodeId}:${process.pid}:${randomBytes(3).toString('hex')}`;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) throw new Error('partitions must be an integer from 1 to 1024');

  const tag = (n: number): string => `${prefix}{p${n}}`;
  const streamKey = (n: number): string => `${tag(n)}:stream`;
  const leaseKey = (n: number): string => `${tag(n)}:lease`;
  const deadKey = (n: number): string => `${tag(n)}:dead`;
  const reqKey = (n: number, id: string): string => `${tag(n)}:req:${id}`;
  const nodesKey = `${prefix}nodes`;
  const metaKey = `${prefix}meta`;

  const partitionOfKey = (key: string): number => crc32(key) % partitions;
  function partitionOfId(id: string): number | undefined {
    const dash = id.indexOf('-');
    const n = dash === -1 ? Number.NaN : Number(id.slice(0, dash));
    return Number.isInteger(n) && n >= 0 && n < partitions ? n : undefined;
  }

  const held = new Map<number, Held>();
  let epochs = 0;
  let wake: () => void = () => undefined;
  let started = false;
  let closed = false;
  let tickTimer: NodeJS.Timeout | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let pollSoon = false;
  let polling = false;
  let ticking: Promise<void> | undefined;
  let depth: AsyncStoreDepth = { queued: 0, dead: 0 };
  let lastError = -Infinity;

  function complain(what: string, error: unknown): void {
    // One line per 10 s: a Redis outage must not flood the log.
    const now = clock.now();
    if (now - lastError < 10_000) return;
    lastError = now;
    logger.error(`async queue (redis): ${what} failed`, { error: (error as Error).message });
  }

  function drop(h: Held, why: string): void {
    if (held.get(h.n) !== h) return;
    held.delete(h.n);
    logger.info('async queue: partition released', { partition: h.n, why, consumer });
  }

  async function loadStates(n: number, ids: string[]): Promise<Map<string, { record: AsyncRecord; status: string; state: AsyncState } | undefined>> {
    const out = new Map<string, { record: AsyncRecord; status: string; state: AsyncState } | undefined>();
    const unique = [...new Set(ids)];
    const replies = await Promise.all(unique.map((id) => redis.hmGet(reqKey(n, id), ['record', 'body', 'status', 'state'])));
    unique.forEach((id, i) => {
      const [record, body, status, state] = replies[i] as Array<string | null>;
      if (record === null || record === undefined || status === null || status === undefined || state === null || state === undefined) {
        out.set(id, undefined);
        return;
      }
      out.set(id, { record: { ...(JSON.parse(record) as AsyncRecord), body: body ?? null }, status, state: JSON.parse(state) as AsyncState });
    });
    return out;
  }

  async function forget(n: number, streamIds: string[]): Promise<void> {
    if (streamIds.length === 0) return;
    await redis.multi().xAck(streamKey(n), GROUP, streamIds).xDel(streamKey(n), streamIds).exec();
  }

  /** Takes stream entries into a held partition, in stream order. */
  async function ingest(h: Held, messages: StreamMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const states = await loadStates(h.n, messages.map((m) => m.message.id ?? ''));
    if (held.get(h.n) !== h) return;
    const finished: string[] = [];
    let woke = false;
    for (const { id: streamId, message } of messages) {
      const id = message.id ?? '';
      const loaded = states.get(id);
      if (message.t === 'wake') {
        // An admin replayed or discarded a dead letter: follow the state it left.
        finished.push(streamId);
        const entry = h.scheduler.get(id);
        if (entry === undefined || loaded === undefined || entry.inFlight) continue;
        entry.state = loaded.state;
        if (loaded.status === 'discarded') {
          h.scheduler.remove(id);
          finished.push(entry.streamId);
        } else if (loaded.status === 'pending' && entry.status === 'dead') {
          h.scheduler.reschedule(id, 'pending', clock.now());
        }
        woke = true;
        continue;
      }
      if (loaded === undefined || loaded.status === 'delivered' || loaded.status === 'discarded') {
        // Finished (or expired) already: nothing left to deliver.
        finished.push(streamId);
        continue;
      }
      if (h.scheduler.get(id) !== undefined) continue;
      let state = loaded.state;
      // "Attempt started" with no outcome: its node died or lost the lease in between.
      if (state.sendingSince !== null) state = { ...state, inDoubt: true };
      const status = loaded.status as RedisEntry['status'];
      h.scheduler.push({
        id,
        key: loaded.record.orderingKey,
        status,
        dueAt: status === 'dead' ? Infinity : (state.nextAttemptAt ?? 0),
        inFlight: false,
        record: loaded.record,
        state,
        partition: h.n,
        epoch: h.epoch,
        streamId,
      });
      woke = true;
    }
    await forget(h.n, finished);
    if (woke) wake();
  }

  /** A partition just leased: claims the unfinished entries of whoever held it, in order. */
  async function adopt(n: number): Promise<void> {
    const h: Held = { n, epoch: ++epochs, scheduler: new KeyedScheduler<RedisEntry>(), ready: false };
    held.set(n, h);
    try {
      const claimed: StreamMessage[] = [];
      let cursor = '0-0';
      do {
        const reply = await redis.xAutoClaim(streamKey(n), GROUP, consumer, 0, cursor, { COUNT: 500 });
        for (const message of reply.messages) if (message !== null) claimed.push({ id: message.id, message: message.message as Record<string, string> });
        cursor = reply.nextId;
      } while (cursor !== '0-0' && held.get(n) === h);
      await ingest(h, claimed);
      if (held.get(n) !== h) return;
      h.ready = true;
      logger.info('async queue: partition taken', { partition: n, consumer, claimed: claimed.length });
      // Consumers left by earlier processes own nothing now.
      const consumers = await redis.xInfoConsumers(streamKey(n), GROUP);
      for (const other of consumers as Array<{ name: string; pending: number; idle: number }>) {
        if (other.name !== consumer && other.pending === 0 && other.idle > leaseMs) await redis.xGroupDelConsumer(streamKey(n), GROUP, other.name);
      }
    } catch (error) {
      complain(`taking partition ${n}`, error);
      drop(h, 'adoption failed');
      await redis.eval(RELEASE_SCRIPT, { keys: [leaseKey(n)], arguments: [consumer] }).catch(() => undefined);
    }
  }

  async function ensureGroups(): Promise<void> {
    const agreed = await redis.hSetNX(metaKey, 'partitions', String(partitions));
    if (!agreed) {
      const stored = Number(await redis.hGet(metaKey, 'partitions'));
      if (stored !== partitions) {
        misconfigured = `this node is configured with ${partitions} partitions, the queue in Redis has ${stored}: keys would be spread differently`;
        throw new Error(misconfigured);
      }
    }
    for (let n = 0; n < partitions; n++) {
      try {
        await redis.xGroupCreate(streamKey(n), GROUP, '0', { MKSTREAM: true });
      } catch (error) {
        if (!/BUSYGROUP/.test((error as Error).message)) throw error;
      }
    }
  }

  let groupsReady = false;
  /** Set when this node disagrees with the queue in Redis: it then accepts nothing (order would break). */
  let misconfigured: string | undefined;
  /** Heartbeat, lease renewal, fair share, take-over; also the depth figures for /metrics. */
  async function tick(): Promise<void> {
    // Not connected (yet, or any more): the connection logs that; leases lapse and others take over.
    if (!redis.isReady) return;
    if (!groupsReady) {
      await ensureGroups();
      groupsReady = true;
    }
    const now = clock.now();
    await redis.zAdd(nodesKey, { score: now + leaseMs, value: consumer });
    await redis.zRemRangeByScore(nodesKey, '-inf', now);
    const live = Math.max(1, await redis.zCard(nodesKey));
    const share = Math.ceil(partitions / live);
    for (const h of [...held.values()]) {
      const renewed = await redis.eval(RENEW_SCRIPT, { keys: [leaseKey(h.n)], arguments: [consumer, String(leaseMs)] });
      if (renewed !== 1) drop(h, 'lease lost');
    }
    // Give back surplus partitions with nothing in flight, so a joining node gets its share.
    for (const h of [...held.values()]) {
      if (held.size <= share) break;
      if ([...h.scheduler.entries()].some((e) => e.inFlight)) continue;
      drop(h, 'rebalanced');
      await redis.eval(RELEASE_SCRIPT, { keys: [leaseKey(h.n)], arguments: [consumer] });
    }
    if (held.size < share) {
      const free = Array.from({ length: partitions }, (_, n) => n).filter((n) => !held.has(n));
      // Random order, so nodes starting together do not race for the same partitions.
      for (let i = free.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [free[i], free[j]] = [free[j]!, free[i]!];
      }
      for (const n of free) {
        if (held.size >= share || closed) break;
        const taken = await redis.set(leaseKey(n), consumer, { condition: 'NX', expiration: { type: 'PX', value: leaseMs } });
        if (taken === 'OK') await adopt(n);
      }
    }
    const counts = await Promise.all(Array.from({ length: partitions }, (_, n) => Promise.all([redis.xLen(streamKey(n)), redis.zCard(deadKey(n))])));
    const dead = counts.reduce((sum, [, d]) => sum + d, 0);
    depth = { queued: Math.max(0, counts.reduce((sum, [length]) => sum + length, 0) - dead), dead };
  }

  /** One lease round now, then the next one a third of a lease later, polling after each. */
  function runTick(): void {
    ticking = tick()
      .catch((error: unknown) => complain('lease round', error))
      .finally(() => {
        ticking = undefined;
        scheduleTick();
        requestPoll();
      });
  }

  function scheduleTick(): void {
    if (closed) return;
    tickTimer = setTimeout(runTick, Math.max(50, Math.floor(leaseMs / 3)));
    tickTimer.unref();
  }

  /** Reads new entries of every held partition. */
  async function poll(): Promise<void> {
    const ready = [...held.values()].filter((h) => h.ready);
    await Promise.all(
      ready.map(async (h) => {
        try {
          const reply = await redis.eval(READ_SCRIPT, { keys: [streamKey(h.n), leaseKey(h.n)], arguments: [consumer, GROUP, consumer, '500'] });
          if (reply === -1) {
            drop(h, 'lease lost');
            return;
          }
          await ingest(h, parseRead(reply));
        } catch (error) {
          // Entries may now sit in this node's pending list unseen: give the partition up, so
          // whoever takes it next (maybe this node) claims them in order.
          drop(h, 'read failed');
          await redis.eval(RELEASE_SCRIPT, { keys: [leaseKey(h.n)], arguments: [consumer] }).catch(() => undefined);
          throw error;
        }
      }),
    );
  }

  function requestPoll(): void {
    if (closed || !started) return;
    if (polling) {
      pollSoon = true;
      return;
    }
    if (pollTimer !== undefined) clearTimeout(pollTimer);
    pollTimer = undefined;
    polling = true;
    poll()
      .catch((error: unknown) => complain('reading new requests', error))
      .finally(() => {
        polling = false;
        if (closed) return;
        if (pollSoon) {
          pollSoon = false;
          setImmediate(requestPoll);
          return;
        }
        pollTimer = setTimeout(requestPoll, pollMs);
        pollTimer.unref();
      });
  }

  function entryFor(item: WorkItem): { h: Held; entry: RedisEntry } | undefined {
    const entry = item as RedisEntry;
    const h = held.get(entry.partition);
    return h !== undefined && h.epoch === entry.epoch && h.scheduler.get(entry.id) === entry ? { h, entry } : undefined;
  }

  async function write(item: WorkItem, state: AsyncState): Promise<boolean> {
    const entry = item as RedisEntry;
    const n = entry.partition;
    const reply = await redis.eval(SETTLE_SCRIPT, {
      keys: [leaseKey(n), reqKey(n, entry.id), streamKey(n), deadKey(n)],
      arguments: [consumer, state.status, JSON.stringify(state), entry.streamId, entry.id, String(retentionMs), String(clock.now()), GROUP],
    });
    return reply === 1;
  }

  async function get(id: string): Promise<AsyncEntry | undefined> {
    const n = partitionOfId(id);
    if (n === undefined) return undefined;
    const loaded = (await loadStates(n, [id])).get(id);
    return loaded === undefined ? undefined : entryOf(loaded.record, { ...loaded.state, status: loaded.status as AsyncState['status'] });
  }

  /** Where `take` starts, moved on each call so no held partition waits behind the others. */
  let takeFrom = 0;

  async function adminChange(id: string, actor: string, status: 'pending' | 'discarded'): Promise<AdminOutcome> {
    const n = partitionOfId(id);
    if (n === undefined) return { kind: 'not_found' };
    const loaded = (await loadStates(n, [id])).get(id);
    if (loaded === undefined) return { kind: 'not_found' };
    if (loaded.status !== 'dead') return { kind: 'not_dead', entry: entryOf(loaded.record, { ...loaded.state, status: loaded.status as AsyncState['status'] }) };
    const now = clock.now();
    const state: AsyncState =
      status === 'pending' ? { ...loaded.state, status, attempts: 0, nextAttemptAt: null, updatedAt: now, actor } : { ...loaded.state, status, nextAttemptAt: null, updatedAt: now, actor };
    const reply = await redis.eval(ADMIN_SCRIPT, { keys: [reqKey(n, id), deadKey(n), streamKey(n)], arguments: [id, status, JSON.stringify(state), String(retentionMs)] });
    if (reply === -1) return { kind: 'not_found' };
    if (reply === 0) {
      const again = (await loadStates(n, [id])).get(id);
      return again === undefined ? { kind: 'not_found' } : { kind: 'not_dead', entry: entryOf(again.record, again.state) };
    }
    requestPoll();
    return { kind: 'done', entry: entryOf(loaded.record, state) };
  }

  return {
    backend: 'redis',
    mintId: (orderingKey) => `${partitionOfKey(orderingKey)}-${randomBytes(16).toString('hex')}`,
    async enqueue(record) {
      if (misconfigured !== undefined) throw new Error(misconfigured);
      const n = partitionOfId(record.id);
      if (n === undefined || n !== partitionOfKey(record.orderingKey)) throw new Error(`request id ${record.id} was not minted by this queue`);
      const { body, ...rest } = record;
      const state = initialAsyncState(record.receivedAt);
      const fields: Record<string, string> = { record: JSON.stringify({ ...rest, body: null }), status: state.status, state: JSON.stringify(state) };
      if (body !== null) fields.body = body;
      await redis.multi().hSet(reqKey(n, record.id), fields).xAdd(streamKey(n), '*', { t: 'req', id: record.id }).exec();
      if (held.get(n)?.ready === true) requestPoll();
    },
    get,
    async listDead(limit, after) {
      const scored = (await Promise.all(Array.from({ length: partitions }, (_, n) => redis.zRangeWithScores(deadKey(n), 0, -1)))).flat();
      scored.sort((a, b) => a.score - b.score || (a.value < b.value ? -1 : 1));
      const from = after === undefined ? 0 : scored.findIndex((s) => s.value === after) + 1;
      const page = scored.slice(from, from + limit);
      const entries: AsyncEntry[] = [];
      for (const { value } of page) {
        const entry = await get(value);
        if (entry !== undefined) entries.push(entry);
      }
      return entries;
    },
    revive: (id, actor) => adminChange(id, actor, 'pending'),
    discard: (id, actor) => adminChange(id, actor, 'discarded'),
    start(onWake) {
      if (started) return;
      started = true;
      wake = onWake;
      runTick();
    },
    take(now, limit) {
      const out: WorkItem[] = [];
      const ready = [...held.values()].filter((h) => h.ready);
      takeFrom = (takeFrom + 1) % Math.max(1, ready.length);
      for (let i = 0; i < ready.length && out.length < limit; i++) out.push(...ready[(takeFrom + i) % ready.length]!.scheduler.take(now, limit - out.length));
      return out;
    },
    nextDueAt() {
      let next: number | undefined;
      for (const h of held.values()) {
        const at = h.scheduler.nextDueAt();
        if (at !== undefined && (next === undefined || at < next)) next = at;
      }
      return next;
    },
    async begin(item, state) {
      const owned = entryFor(item);
      if (owned === undefined) return false;
      const ok = await write(item, state);
      if (ok && entryFor(item) !== undefined) owned.entry.state = state;
      return ok;
    },
    async settle(item, state) {
      const owned = entryFor(item);
      if (owned === undefined) return false;
      const ok = await write(item, state);
      const now = entryFor(item);
      if (!ok || now === undefined) return ok;
      now.entry.state = state;
      if (state.status === 'delivered' || state.status === 'discarded') now.h.scheduler.remove(now.entry.id);
      else now.h.scheduler.reschedule(now.entry.id, state.status, state.status === 'dead' ? Infinity : (state.nextAttemptAt ?? clock.now()));
      return true;
    },
    release(item, at) {
      const owned = entryFor(item);
      if (owned === undefined) return;
      // Started but its outcome could not be recorded: the upstream may have it.
      if (owned.entry.state.sendingSince !== null) owned.entry.state = { ...owned.entry.state, inDoubt: true };
      owned.h.scheduler.reschedule(owned.entry.id, owned.entry.status, at);
    },
    depth: () => {
      let queued = 0;
      let dead = 0;
      for (const h of held.values()) {
        queued += h.scheduler.size - h.scheduler.deadCount;
        dead += h.scheduler.deadCount;
      }
      // The cluster-wide figures (read each lease round) when this node holds fewer.
      return { queued: Math.max(queued, depth.queued), dead: Math.max(dead, depth.dead) };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (tickTimer !== undefined) clearTimeout(tickTimer);
      if (pollTimer !== undefined) clearTimeout(pollTimer);
      await ticking;
      // Hand the partitions over now rather than after the lease runs out.
      const mine = [...held.keys()];
      held.clear();
      if (!redis.isReady) return;
      await Promise.all(mine.map((n) => redis.eval(RELEASE_SCRIPT, { keys: [leaseKey(n)], arguments: [consumer] }).catch(() => undefined)));
      await redis.zRem(nodesKey, consumer).catch(() => undefined);
    },
  };
}
