/**
 * @module The embedded async queue: one append-only log `queue.log` in `GATEWAY_ASYNC_DIR`.
 * Each line is `<crc32 hex> <json>`: a request as accepted (`enq`, with its state) or a new state
 * of one (`st`). Appends are group-committed: whatever arrives while a write is in progress goes
 * out in the next single `write` + `fdatasync`, and nothing is acknowledged (no 202, no "attempt
 * started") before its fdatasync returned. On start the log is replayed; a torn last line (a
 * crash mid-append) is cut off, a damaged line elsewhere skipped and logged. Past `compactBytes`
 * the log is rewritten from memory (write, fdatasync, rename, fsync the directory), keeping
 * undelivered requests, dead letters, and finished ones within the retention. One process per
 * directory (a lock file holds the owner's pid).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fdatasync, mkdirSync, openSync, readFileSync, rmSync, fsyncSync, truncateSync, write, writeFileSync, existsSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { initialAsyncState, type AsyncRecord, type AsyncState, type Clock, type Logger } from '../../policies/index.js';
import { KeyedScheduler, type ScheduledEntry } from './scheduler.js';
import { entryOf, type AdminOutcome, type AsyncStore, type WorkItem } from './store.js';

const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);

export interface FileAsyncStoreOptions {
  /** Directory of the log and its lock (created if missing). */
  dir: string;
  logger: Logger;
  /** Default `Date.now`. */
  clock?: Clock;
  /** How long delivered and discarded requests stay readable on their status resource. Default 24 h. */
  retentionMs?: number;
  /** The log is rewritten once it grows past this. Default 64 MiB. */
  compactBytes?: number;
  /** Most bytes of undelivered requests held (they are kept in memory too); beyond, enqueue fails. Default 256 MiB. */
  maxQueuedBytes?: number;
}

interface FileEntry extends ScheduledEntry, WorkItem {
  record: AsyncRecord;
  state: AsyncState;
  /** Size of its `enq` line while undelivered (counted against `maxQueuedBytes`). */
  bytes: number;
}

type LogEvent = { e: 'enq'; r: AsyncRecord; s: AsyncState } | { e: 'st'; id: string; s: AsyncState };

interface PendingAppend {
  line: Buffer;
  apply(): void;
  resolve(): void;
  reject(error: unknown): void;
}

const LOG = 'queue.log';
const LOCK = 'queue.lock';
const FINAL = new Set(['delivered', 'discarded']);

function encode(event: LogEvent): Buffer {
  const json = Buffer.from(JSON.stringify(event), 'utf8');
  const head = Buffer.from(`${crc32(json).toString(16).padStart(8, '0')} `, 'latin1');
  return Buffer.concat([head, json, Buffer.from('\n')]);
}

/** One line without its newline, or undefined when damaged. */
function decode(line: Buffer): LogEvent | undefined {
  if (line.length < 10 || line[8] !== 0x20) return undefined;
  const json = line.subarray(9);
  if (crc32(json).toString(16).padStart(8, '0') !== line.toString('latin1', 0, 8)) return undefined;
  try {
    const event = JSON.parse(json.toString('utf8')) as LogEvent;
    return event.e === 'enq' || event.e === 'st' ? event : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the directory's lock, or throws naming the live process that holds it. */
function lock(dir: string): string {
  const path = join(dir, LOCK);
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
    return path;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const holder = Number(readFileSync(path, 'utf8').trim());
  if (Number.isInteger(holder) && holder > 0) {
    let alive = holder === process.pid;
    if (!alive) {
      try {
        process.kill(holder, 0);
        alive = true;
      } catch (error) {
        alive = (error as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    if (alive) throw new Error(`the async queue in ${dir} is in use by process ${holder}`);
  }
  // Left by a process that died (SIGKILL, power loss): ours now.
  writeFileSync(path, String(process.pid));
  return path;
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens (and replays) the log synchronously, so requests can be queued as soon as it returns.
 *
 * @param options.retentionMs defaults to 24 h
 * @param options.compactBytes defaults to 64 MiB
 * @example
 * const store = createFileAsyncStore({ dir: './data/async', logger });
 * const gateway = createGateway({ ..., asyncStore: store });
 */
export function createFileAsyncStore(options: FileAsyncStoreOptions): AsyncStore {
  const { logger } = options;
  const clock = options.clock ?? { now: () => Date.now() };
  const retentionMs = options.retentionMs ?? 24 * 3600_000;
  const compactBytes = options.compactBytes ?? 64 * 1024 * 1024;
  const maxQueuedBytes = options.maxQueuedBytes ?? 256 * 1024 * 1024;
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  const lockPath = lock(dir);
  const logPath = join(dir, LOG);
  // A compaction a crash interrupted: the old log, renamed over only when complete, still holds everything.
  rmSync(`${logPath}.compact`, { force: true });

  const entries = new Map<string, FileEntry>();
  const scheduler = new KeyedScheduler<FileEntry>();
  let queuedBytes = 0;

  function makeEntry(record: AsyncRecord, state: AsyncState, bytes: number): FileEntry {
    return { id: record.id, key: record.orderingKey, status: state.status, dueAt: state.nextAttemptAt ?? 0, inFlight: false, record, state, bytes };
  }

  // Replay.
  const created = !existsSync(logPath);
  let size = 0;
  if (!created) {
    const text = readFileSync(logPath);
    let start = 0;
    let goodEnd = 0;
    // Bad lines followed by a good one are damage; bad lines at the end are the torn tail.
    let bad = 0;
    let damaged = 0;
    while (start < text.length) {
      const end = text.indexOf(0x0a, start);
      if (end === -1) break; // torn tail: no newline
      const event = decode(text.subarray(start, end));
      if (event === undefined) {
        bad++;
      } else {
        damaged += bad;
        bad = 0;
        goodEnd = end + 1;
        if (event.e === 'enq') {
          if (!entries.has(event.r.id)) entries.set(event.r.id, makeEntry(event.r, event.s, end + 1 - start));
        } else {
          const entry = entries.get(event.id);
          if (entry !== undefined) entry.state = event.s;
        }
      }
      start = end + 1;
    }
    if (goodEnd < text.length) {
      // Whatever follows the last good line was being written when the process died: never acknowledged.
      truncateSync(logPath, goodEnd);
      logger.warn('async queue: cut a torn tail off the log', { dir, bytes: text.length - goodEnd });
    }
    if (damaged > 0) logger.error('async queue: damaged lines in the log were skipped', { dir, lines: damaged });
    size = goodEnd;
  }
  const now0 = clock.now();
  for (const [id, entry] of entries) {
    const { state } = entry;
    if (FINAL.has(state.status)) {
      if (state.updatedAt < now0 - retentionMs) entries.delete(id);
      else if (entry.record.body !== null) entry.record = { ...entry.record, body: null };
      continue;
    }
    // "Attempt started" with no outcome after it: the node died in between; the upstream may have it.
    if (state.sendingSince !== null) entry.state = { ...state, inDoubt: true };
    entry.status = state.status;
    entry.dueAt = state.status === 'dead' ? Infinity : (state.nextAttemptAt ?? 0);
    queuedBytes += entry.bytes;
    scheduler.push(entry);
  }
  let fd = openSync(logPath, 'a');
  if (created) fsyncDir(dir);
  let compactAt = Math.max(compactBytes, 2 * size);
  logger.info('async queue opened', { backend: 'file', dir, queued: scheduler.size - scheduler.deadCount, dead: scheduler.deadCount });

  let wake: () => void = () => undefined;
  let batch: PendingAppend[] = [];
  /** A flush loop runs (cleared by the loop itself, in the same turn it sees no more work). */
  let flushActive = false;
  let flushed: Promise<void> = Promise.resolve();
  let closed = false;

  function append(event: LogEvent, apply: () => void): Promise<void> {
    if (closed) return Promise.reject(new Error('the async queue is closed'));
    const line = encode(event);
    return new Promise((resolvePromise, reject) => {
      batch.push({ line, apply, resolve: resolvePromise, reject });
      if (!flushActive) {
        flushActive = true;
        flushed = flush();
      }
    });
  }

  async function writeAll(target: number, buffer: Buffer): Promise<void> {
    for (let offset = 0; offset < buffer.length; ) offset += (await writeAsync(target, buffer, offset, buffer.length - offset, null)).bytesWritten;
  }

  /** Writes batches one after another: one write + fdatasync each, then their effects, in log order. */
  async function flush(): Promise<void> {
    // The emptiness check and the flag's reset happen in one turn: an append made by a waiter
    // this loop resolved either lands in `batch` before the check or starts a new loop.
    try {
      while (batch.length > 0) {
        const current = batch;
        batch = [];
        const buffer = current.length === 1 ? current[0]!.line : Buffer.concat(current.map((p) => p.line));
        try {
          await writeAll(fd, buffer);
          await fdatasyncAsync(fd);
        } catch (error) {
          // Take back whatever part of the batch reached the file, so a request the client was
          // told failed is not found and delivered at the next start.
          try {
            truncateSync(logPath, size);
          } catch {
            // the next start's torn-tail or checksum check copes
          }
          logger.error('async queue: append failed', { dir, error: (error as Error).message });
          for (const pending of current) pending.reject(error);
          continue;
        }
        size += buffer.length;
        // Effects applied here, in log order and before the next batch, so compaction (below) and
        // every reader see exactly what is durable.
        for (const pending of current) {
          try {
            pending.apply();
          } catch (error) {
            logger.error('async queue: applying an event failed', { error: (error as Error).message });
          }
          pending.resolve();
        }
        if (size > compactAt) {
          await compact().catch((error: unknown) => logger.error('async queue: compaction failed; the log keeps growing', { dir, error: (error as Error).message }));
        }
      }
    } finally {
      flushActive = false;
    }
  }

  function purgeFinished(now: number): void {
    for (const [id, entry] of entries) {
      if (FINAL.has(entry.state.status) && entry.state.updatedAt < now - retentionMs) entries.delete(id);
    }
  }

  async function compact(): Promise<void> {
    purgeFinished(clock.now());
    const tmp = `${logPath}.compact`;
    const lines: Buffer[] = [];
    for (const entry of entries.values()) lines.push(encode({ e: 'enq', r: entry.record, s: entry.state }));
    const buffer = Buffer.concat(lines);
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(buffer);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(tmp, logPath);
    fsyncDir(dir);
    const old = fd;
    fd = openSync(logPath, 'a');
    closeSync(old);
    logger.info('async queue: log compacted', { dir, from: size, to: buffer.length, requests: entries.size });
    size = buffer.length;
    compactAt = Math.max(compactBytes, 2 * size);
  }

  const purgeTimer = setInterval(() => purgeFinished(clock.now()), 60_000);
  purgeTimer.unref();

  /** Finished: out of the schedule, its body no longer needed. */
  function finish(entry: FileEntry): void {
    scheduler.remove(entry.id);
    queuedBytes -= entry.bytes;
    entry.bytes = 0;
    if (entry.record.body !== null) entry.record = { ...entry.record, body: null };
  }

  function owned(item: WorkItem): FileEntry {
    const entry = entries.get(item.record.id);
    if (entry === undefined) throw new Error(`async request ${item.record.id} is not queued here`);
    return entry;
  }

  async function adminChange(id: string, change: (entry: FileEntry, now: number) => { state: AsyncState; apply(entry: FileEntry): void }): Promise<AdminOutcome> {
    const entry = entries.get(id);
    if (entry === undefined) return { kind: 'not_found' };
    if (entry.state.status !== 'dead') return { kind: 'not_dead', entry: entryOf(entry.record, entry.state) };
    const { state, apply } = change(entry, clock.now());
    await append({ e: 'st', id, s: state }, () => {
      entry.state = state;
      apply(entry);
    });
    return { kind: 'done', entry: entryOf(entry.record, entry.state) };
  }

  return {
    backend: 'file',
    mintId: () => randomBytes(16).toString('hex'),
    enqueue(record) {
      const state = initialAsyncState(record.receivedAt);
      const event: LogEvent = { e: 'enq', r: record, s: state };
      const bytes = encode(event).length;
      if (queuedBytes + bytes > maxQueuedBytes) return Promise.reject(new Error(`the async queue is full (${maxQueuedBytes} bytes of undelivered requests)`));
      return append(event, () => {
        const entry = makeEntry(record, state, bytes);
        entries.set(record.id, entry);
        queuedBytes += bytes;
        scheduler.push(entry);
        wake();
      });
    },
    async get(id) {
      const entry = entries.get(id);
      return entry === undefined ? undefined : entryOf(entry.record, entry.state);
    },
    async listDead(limit, after) {
      const dead = [...scheduler.entries()].filter((e) => e.status === 'dead').sort((a, b) => a.state.updatedAt - b.state.updatedAt || (a.id < b.id ? -1 : 1));
      const from = after === undefined ? 0 : dead.findIndex((e) => e.id === after) + 1;
      return dead.slice(from, from + limit).map((e) => entryOf(e.record, e.state));
    },
    revive(id, actor) {
      return adminChange(id, (entry, now) => ({
        state: { ...entry.state, status: 'pending', attempts: 0, nextAttemptAt: null, updatedAt: now, actor },
        apply(e) {
          scheduler.reschedule(e.id, 'pending', now);
          wake();
        },
      }));
    },
    discard(id, actor) {
      return adminChange(id, (entry, now) => ({
        state: { ...entry.state, status: 'discarded', nextAttemptAt: null, updatedAt: now, actor },
        apply(e) {
          finish(e);
          wake();
        },
      }));
    },
    start(onWake) {
      wake = onWake;
      if (scheduler.size > 0) wake();
    },
    take: (now, limit) => scheduler.take(now, limit),
    nextDueAt: () => scheduler.nextDueAt(),
    async begin(item, state) {
      const entry = owned(item);
      await append({ e: 'st', id: entry.id, s: state }, () => {
        entry.state = state;
      });
      return true;
    },
    async settle(item, state) {
      const entry = owned(item);
      await append({ e: 'st', id: entry.id, s: state }, () => {
        entry.state = state;
        if (FINAL.has(state.status)) finish(entry);
        else scheduler.reschedule(entry.id, state.status, state.status === 'dead' ? Infinity : (state.nextAttemptAt ?? clock.now()));
      });
      return true;
    },
    release(item, at) {
      const entry = entries.get(item.record.id);
      if (entry === undefined) return;
      // Started but its outcome could not be recorded: the upstream may have it.
      if (entry.state.sendingSince !== null) entry.state = { ...entry.state, inDoubt: true };
      scheduler.reschedule(entry.id, entry.status, at);
    },
    depth: () => ({ queued: scheduler.size - scheduler.deadCount, dead: scheduler.deadCount }),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(purgeTimer);
      await flushed;
      closeSync(fd);
      rmSync(lockPath, { force: true });
    },
  };
}
