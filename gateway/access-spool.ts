/**
 * @module Durable access-record spool of a gateway node (DESIGN §6: access events are shipped in
 * batches off the request path). `write` only serialises the record and appends it to memory;
 * a background flush appends to the open segment file `dir/<batchId>.ndjson`, which closes (and
 * becomes a batch for the shipper) at `segmentMaxRecords` records, `segmentMaxBytes` bytes, or
 * `rollIntervalMs` after its first record. Bounded by `maxBytes`: past it, new records are dropped
 * and counted, never waited for. Segments left by a previous run are shipped on start.
 *
 * One spool per directory: two processes sharing one would ship each other's segments.
 */
import { close, fdatasync, mkdirSync, openSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { mkdir, readFile, rename, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createAccessRecordSerializer, MAX_ACCESS_BATCH_RECORDS, type AccessLog, type AccessRecord, type Clock, type Logger } from '../contracts/index.js';
import { readAtScrape, type GatewayMetrics } from './metrics.js';

export interface AccessSpoolOptions {
  /** Directory of the segment files (created if missing; `rejected/` below it holds refused batches). */
  dir: string;
  logger: Logger;
  /** Names segments (epoch ms) and paces the drop log. Default `Date.now`. */
  clock?: Clock;
  /** Most bytes the spool holds, on disk and in memory together. Default 256 MiB. */
  maxBytes?: number;
  /** A segment closes at this many records. Default 1000; at most `MAX_ACCESS_BATCH_RECORDS`. */
  segmentMaxRecords?: number;
  /**
   * A segment closes once it holds this many bytes. Default 1 MiB, so a batch stays well below
   * the control plane's request-body limit (4 MB) even with long paths.
   */
  segmentMaxBytes?: number;
  /** A segment closes this long after its first record. Default 1000 ms. */
  rollIntervalMs?: number;
  /** Longest a record waits in memory before it is appended to its segment file. Default 50 ms. */
  flushIntervalMs?: number;
  /**
   * Append each event-loop turn's records to the segment file synchronously, before the loop
   * polls for more I/O (default true): one small write per turn however busy, and a record is
   * in the kernel before its client could ask for anything else, so a SIGKILL of the process
   * loses none (a power cut still loses what is not synced; segments are synced when they close).
   * False: records wait up to `flushIntervalMs` and are written off the event loop.
   */
  writeThrough?: boolean;
  /** Spool depth and dropped records are read from the spool at scrape time. */
  metrics?: GatewayMetrics;
}

/** What the spool holds and has not shipped yet, the open segment included. */
export interface AccessSpoolDepth {
  records: number;
  bytes: number;
  segments: number;
}

/** A closed segment: one batch for the control plane. */
export interface AccessSpoolSegment {
  readonly batchId: string;
  /** Records in it (for a segment left by a previous run, 0 until it has been counted or read). */
  readonly records: number;
  readonly bytes: number;
}

/** The shipping side of a spool: closed segments, oldest first, read then removed or set aside. */
export interface AccessSpoolQueue {
  /** The oldest closed segment, if any. */
  oldestClosed(): AccessSpoolSegment | undefined;
  /** Resolves once a closed segment is there (at once if one is), or when `signal` aborts. */
  waitForClosed(signal: AbortSignal): Promise<void>;
  /** The records of a closed segment; a torn last line (a run stopped mid-write) is left out. */
  readSegment(segment: AccessSpoolSegment): Promise<AccessRecord[]>;
  /** Deletes a segment the control plane has stored. */
  removeSegment(segment: AccessSpoolSegment): Promise<void>;
  /** Moves a segment the control plane refused to `dir/rejected/`; answers its new path. */
  rejectSegment(segment: AccessSpoolSegment): Promise<string>;
  depth(): AccessSpoolDepth;
}

export interface AccessSpool extends AccessLog, AccessSpoolQueue {
  /** O(1), never throws, never waits: a record the spool cannot take is dropped and counted. */
  write(record: AccessRecord): void;
  /** `write` for a record serialised already (`createAccessRecordSerializer`), so a tee serialises once. */
  writeLine(json: string): void;
  /** Records dropped since the spool was created (full, closed, or not serialisable). */
  dropped(): number;
  /** Stops taking records, closes the open segment and writes everything held in memory. */
  close(): Promise<void>;
}

type DropReason = 'full' | 'closed' | 'unserialisable';

interface Segment {
  readonly batchId: string;
  readonly path: string;
  records: number;
  bytes: number;
  /** open: takes records; sealed: takes no more, lines still to write; closed: on disk, shippable. */
  state: 'open' | 'sealed' | 'closed';
  /** Serialised records (or runs of them) not yet appended to the file. */
  lines: string[];
  /** The segment file, opened for appending on its first write. */
  fd: number | undefined;
  rollTimer: NodeJS.Timeout | undefined;
  /** Left by a previous run and its records not counted yet. */
  uncounted: boolean;
  removed: boolean;
}

const MiB = 1024 * 1024;
const fdatasyncAsync = promisify(fdatasync);
const closeAsync = promisify(close);
/** At most one drop line per this interval, carrying the count since the last one. */
const DROP_LOG_INTERVAL_MS = 10_000;
/** After a failed append the flush is tried again this much later. */
const WRITE_RETRY_MS = 1000;
/** Zero-padded epoch milliseconds and a counter: lexical order is write order. */
const SEGMENT_FILE = /^(\d{13}-\d{6})\.ndjson$/;

/**
 * @param options.maxBytes default 256 MiB
 * @param options.segmentMaxRecords default 1000 (at most `MAX_ACCESS_BATCH_RECORDS`)
 * @param options.segmentMaxBytes default 1 MiB
 * @param options.rollIntervalMs default 1000
 * @param options.flushIntervalMs default 50
 * @example
 * const spool = createAccessSpool({ dir: './data/spool', logger, metrics });
 * const accessLog = teeAccessLog([createAccessLog({ file: './data/access.log' }), spool]);
 * const shipper = createAccessShipper({ spool, controlPlaneUrl, nodeId: 'gw-1', getToken: (signal) => tokens.get(signal), logger });
 * // on shutdown, after the servers: await spool.close(); await shipper.close();
 */
export function createAccessSpool(options: AccessSpoolOptions): AccessSpool {
  const { logger } = options;
  const dir = resolve(options.dir);
  const clock = options.clock ?? { now: Date.now };
  const maxBytes = options.maxBytes ?? 256 * MiB;
  const segmentMaxRecords = options.segmentMaxRecords ?? 1000;
  const segmentMaxBytes = options.segmentMaxBytes ?? MiB;
  const rollIntervalMs = options.rollIntervalMs ?? 1000;
  const flushIntervalMs = options.flushIntervalMs ?? 50;
  const writeThrough = options.writeThrough ?? true;
  let turnWrite: NodeJS.Immediate | undefined;
  if (!Number.isInteger(segmentMaxRecords) || segmentMaxRecords < 1 || segmentMaxRecords > MAX_ACCESS_BATCH_RECORDS) {
    throw new RangeError(`segmentMaxRecords must be an integer from 1 to ${MAX_ACCESS_BATCH_RECORDS} (the most one batch may carry)`);
  }
  if (!(maxBytes > 0) || !(segmentMaxBytes > 0) || !(rollIntervalMs >= 0) || !(flushIntervalMs >= 0)) {
    throw new RangeError('maxBytes and segmentMaxBytes must be positive, rollIntervalMs and flushIntervalMs not negative');
  }

  /** Closed segments, oldest first: the shipper's queue. */
  const closed: Segment[] = [];
  /** Segments still taking or writing records, oldest first (the last may be `current`). */
  const filling: Segment[] = [];
  let current: Segment | undefined;
  let totalBytes = 0;
  let totalRecords = 0;
  let lastIdMs = 0;
  let lastIdSeq = -1;
  let stopped = false;
  let closing: Promise<void> | undefined;
  let flushTimer: NodeJS.Timeout | undefined;
  let draining: Promise<void> | undefined;
  let writeFailing = false;
  let lastWriteErrorLogAt = Number.NEGATIVE_INFINITY;
  let waiters: Array<() => void> = [];

  let droppedTotal = 0;
  const unreported: Record<DropReason, number> = { full: 0, closed: 0, unserialisable: 0 };
  let lastDropLogAt = Number.NEGATIVE_INFINITY;
  let dropLogTimer: NodeJS.Timeout | undefined;

  // Start-up only, so synchronous: the spool is complete before the first record arrives.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(dir).filter((n) => SEGMENT_FILE.test(n)).sort()) {
    const path = join(dir, name);
    const batchId = SEGMENT_FILE.exec(name)![1]!;
    const bytes = statSync(path).size;
    noteId(batchId);
    if (bytes === 0) {
      unlinkSync(path); // created, never written: nothing to ship
      continue;
    }
    // Whatever its state when the run stopped (an open segment included), it is closed now.
    closed.push(newSegment(batchId, 'closed', bytes, true));
    totalBytes += bytes;
  }
  if (closed.length > 0) {
    logger.info('access spool: segments left by a previous run will be shipped', { dir, segments: closed.length, bytes: totalBytes });
    void countRecovered();
  }

  if (options.metrics !== undefined) {
    const { metrics } = options;
    readAtScrape(metrics, 'access_spool_records', 'Access records in the spool, not yet shipped to the control plane.', 'gauge', () => totalRecords);
    readAtScrape(metrics, 'access_spool_bytes', 'Bytes of access records in the spool (on disk and in memory).', 'gauge', () => totalBytes);
    readAtScrape(metrics, 'access_spool_dropped_records_total', 'Access records dropped because the spool was full (or closed).', 'counter', () => droppedTotal);
  }

  function newSegment(batchId: string, state: Segment['state'], bytes: number, uncounted: boolean): Segment {
    return { batchId, path: join(dir, `${batchId}.ndjson`), records: 0, bytes, state, lines: [], fd: undefined, rollTimer: undefined, uncounted, removed: false };
  }

  function noteId(batchId: string): void {
    const [ms, seq] = batchId.split('-').map(Number) as [number, number];
    if (ms > lastIdMs || (ms === lastIdMs && seq > lastIdSeq)) {
      lastIdMs = ms;
      lastIdSeq = seq;
    }
  }

  /** Greater than every id before it, in this run and the last, even if the clock steps back. */
  function nextBatchId(): string {
    const now = Math.floor(clock.now());
    if (now > lastIdMs) {
      lastIdMs = now;
      lastIdSeq = 0;
    } else if (lastIdSeq < 999_999) {
      lastIdSeq += 1;
    } else {
      lastIdMs += 1;
      lastIdSeq = 0;
    }
    return `${String(lastIdMs).padStart(13, '0')}-${String(lastIdSeq).padStart(6, '0')}`;
  }

  function openSegment(): Segment {
    const segment = newSegment(nextBatchId(), 'open', 0, false);
    segment.rollTimer = setTimeout(() => seal(segment), rollIntervalMs);
    segment.rollTimer.unref();
    filling.push(segment);
    current = segment;
    return segment;
  }

  function seal(segment: Segment): void {
    if (segment.state !== 'open') return;
    segment.state = 'sealed';
    clearTimeout(segment.rollTimer);
    segment.rollTimer = undefined;
    if (current === segment) current = undefined;
    // Sealed segments are written at once: the shipper waits for them.
    scheduleFlush(0);
  }

  function scheduleFlush(delayMs: number): void {
    if (draining !== undefined || writeFailing) return; // the running pass (or the retry) takes it
    if (flushTimer !== undefined) {
      if (delayMs > 0) return;
      clearTimeout(flushTimer);
    }
    flushTimer = setTimeout(() => {
      flushTimer = undefined;
      void flush();
    }, delayMs);
    flushTimer.unref();
  }

  /** One flush at a time; records written while it runs are picked up by the same pass. */
  function flush(): Promise<void> {
    draining ??= drain().finally(() => {
      draining = undefined;
    });
    return draining;
  }

  /** Appends the segment's pending lines, synchronously; false when the write failed (lines kept). */
  function appendPending(segment: Segment): boolean {
    if (segment.lines.length === 0) return true;
    const text = segment.lines.length === 1 ? segment.lines[0]! : segment.lines.join('');
    segment.lines = [];
    try {
      segment.fd ??= openSync(segment.path, 'a', 0o600);
      const bytes = Buffer.from(text, 'utf8');
      for (let at = 0; at < bytes.length; ) at += writeSync(segment.fd, bytes, at);
      if (writeFailing) logger.info('access spool: segment files writable again', { dir });
      writeFailing = false;
      return true;
    } catch (error) {
      segment.lines.unshift(text); // kept in memory (still counted against maxBytes) and tried again
      failedWrite(segment, error);
      return false;
    }
  }

  /** End of an event-loop turn: this turn's records go to the open segment's file. */
  function writeTurn(): void {
    turnWrite = undefined;
    if (current !== undefined && !writeFailing) appendPending(current);
  }

  async function drain(): Promise<void> {
    while (filling.length > 0) {
      const segment = filling[0]!;
      // The open segment is last: once it has nothing to write, the pass is done.
      if (segment.state === 'open' && segment.lines.length === 0) return;
      if (!appendPending(segment)) return;
      if (segment.state === 'open') continue;
      if (segment.state === 'sealed' && segment.lines.length === 0) {
        const fd = segment.fd;
        segment.fd = undefined;
        if (fd !== undefined) {
          try {
            // On disk before the shipper may send it and delete it (off the event loop: a sync can take milliseconds).
            await fdatasyncAsync(fd);
          } catch (error) {
            logger.warn('access spool: segment not synced to disk', { batchId: segment.batchId, error: (error as Error).message });
          }
          await closeAsync(fd).catch(() => undefined);
        }
        segment.state = 'closed';
        filling.shift();
        closed.push(segment);
        wake();
      }
    }
  }

  function failedWrite(segment: Segment, error: unknown): void {
    writeFailing = true;
    const now = clock.now();
    if (now - lastWriteErrorLogAt >= DROP_LOG_INTERVAL_MS) {
      lastWriteErrorLogAt = now;
      logger.error('access spool: cannot write a segment file; records held in memory and retried (new records are dropped once the spool is full)', {
        file: segment.path,
        code: (error as NodeJS.ErrnoException).code,
        error: (error as Error).message,
      });
    }
    setTimeout(() => {
      writeFailing = false;
      scheduleFlush(0);
    }, WRITE_RETRY_MS).unref();
  }

  function wake(): void {
    const woken = waiters;
    waiters = [];
    for (const resume of woken) resume();
  }

  function drop(reason: DropReason): void {
    droppedTotal += 1;
    unreported[reason] += 1;
    const now = clock.now();
    if (now - lastDropLogAt >= DROP_LOG_INTERVAL_MS) reportDrops();
    else if (dropLogTimer === undefined) {
      dropLogTimer = setTimeout(reportDrops, lastDropLogAt + DROP_LOG_INTERVAL_MS - now);
      dropLogTimer.unref();
    }
  }

  /** Loud, but one line per interval however many records are dropped. */
  function reportDrops(): void {
    clearTimeout(dropLogTimer);
    dropLogTimer = undefined;
    const dropped = unreported.full + unreported.closed + unreported.unserialisable;
    if (dropped === 0) return;
    lastDropLogAt = clock.now();
    const reasons = Object.fromEntries(Object.entries(unreported).filter(([, n]) => n > 0));
    logger.error('access spool: access records dropped (the control plane has not taken batches, or the spool is too small for the outage)', {
      dropped,
      reasons,
      droppedTotal,
      spoolBytes: totalBytes,
      maxBytes,
      dir,
    });
    unreported.full = 0;
    unreported.closed = 0;
    unreported.unserialisable = 0;
  }

  /** Counts the records of segments a previous run left (their lines end in `\n`; a torn one does not). */
  async function countRecovered(): Promise<void> {
    for (const segment of [...closed]) {
      if (!segment.uncounted || segment.removed) continue;
      let lines = 0;
      try {
        const buffer = await readFile(segment.path);
        for (let at = buffer.indexOf(0x0a); at !== -1; at = buffer.indexOf(0x0a, at + 1)) lines += 1;
      } catch {
        continue; // shipped (or moved) meanwhile
      }
      if (!segment.uncounted || segment.removed) continue;
      segment.uncounted = false;
      segment.records = lines;
      totalRecords += lines;
    }
  }

  function own(handle: AccessSpoolSegment): Segment {
    const segment = handle as Segment;
    if (segment.state !== 'closed' || !closed.includes(segment)) throw new Error(`segment ${handle.batchId} is not a closed segment of this spool`);
    return segment;
  }

  function forget(segment: Segment): void {
    segment.removed = true;
    closed.splice(closed.indexOf(segment), 1);
    totalBytes -= segment.bytes;
    totalRecords -= segment.records;
  }

  /** The request path's whole cost: a length, a push, a few sums; the flush joins the strings. */
  function writeLine(json: string): void {
    if (stopped) return drop('closed');
    const line = `${json}\n`;
    const bytes = Buffer.byteLength(line);
    if (totalBytes + bytes > maxBytes) return drop('full');
    const segment = current ?? openSegment();
    segment.lines.push(line);
    segment.records += 1;
    segment.bytes += bytes;
    totalRecords += 1;
    totalBytes += bytes;
    if (segment.records >= segmentMaxRecords || segment.bytes >= segmentMaxBytes) seal(segment);
    else if (writeThrough) turnWrite ??= setImmediate(writeTurn);
    else scheduleFlush(flushIntervalMs);
  }

  const serialize = createAccessRecordSerializer();
  return {
    write(record: AccessRecord): void {
      let json: string;
      try {
        json = serialize(record);
      } catch {
        // A record JSON cannot express (a BigInt, a cycle): the request must not fail for it.
        return drop('unserialisable');
      }
      writeLine(json);
    },
    writeLine,
    dropped: () => droppedTotal,
    depth: () => ({ records: totalRecords, bytes: totalBytes, segments: closed.length + filling.length }),
    oldestClosed: () => closed[0],
    waitForClosed(signal) {
      if (closed.length > 0 || signal.aborted) return Promise.resolve();
      return new Promise((resume) => {
        const done = (): void => {
          signal.removeEventListener('abort', done);
          waiters = waiters.filter((w) => w !== done);
          resume();
        };
        signal.addEventListener('abort', done, { once: true });
        waiters.push(done);
      });
    },
    async readSegment(handle) {
      const segment = own(handle);
      const text = await readFile(segment.path, 'utf8');
      const lines = text.split('\n');
      const torn = lines.pop()!; // '' when the file ends with a complete line
      if (torn !== '') logger.warn('access spool: ignoring a torn last line (the run that wrote it stopped mid-write)', { batchId: segment.batchId, bytes: Buffer.byteLength(torn) });
      const records: AccessRecord[] = [];
      let corrupt = 0;
      for (const line of lines) {
        if (line === '') continue;
        try {
          records.push(JSON.parse(line) as AccessRecord);
        } catch {
          corrupt += 1;
        }
      }
      if (corrupt > 0) logger.warn('access spool: skipping lines that are not JSON', { batchId: segment.batchId, lines: corrupt });
      if (segment.uncounted) {
        segment.uncounted = false;
        segment.records = records.length;
        totalRecords += records.length;
      }
      return records;
    },
    async removeSegment(handle) {
      const segment = own(handle);
      try {
        await unlink(segment.path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      forget(segment);
    },
    async rejectSegment(handle) {
      const segment = own(handle);
      const rejectedDir = join(dir, 'rejected');
      await mkdir(rejectedDir, { recursive: true, mode: 0o700 });
      const target = join(rejectedDir, `${segment.batchId}.ndjson`);
      await rename(segment.path, target);
      forget(segment);
      return target;
    },
    close() {
      closing ??= (async () => {
        stopped = true;
        if (current !== undefined) seal(current);
        clearTimeout(flushTimer);
        flushTimer = undefined;
        if (turnWrite !== undefined) clearImmediate(turnWrite);
        turnWrite = undefined;
        // A pass may be running (or a failed one waiting to retry): run until nothing is left.
        await flush();
        if (filling.length > 0) await flush();
        const unwritten = filling.reduce((n, s) => n + s.records, 0);
        if (unwritten > 0) logger.error('access spool closed with records it could not write to disk; they are lost', { records: unwritten, dir });
        reportDrops();
      })();
      return closing;
    },
  };
}
