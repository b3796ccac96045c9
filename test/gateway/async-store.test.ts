/**
 * @module The async queue's building blocks on their own: the keyed scheduler (one head per
 * ordering key, a dead head holding its key, due times) and the embedded log store (state
 * survives a reopen, a torn tail is cut, a damaged line is skipped, compaction keeps what is
 * live, one process per directory, a full queue refuses).
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFileAsyncStore } from '../../gateway/async/file-store.js';
import { KeyedScheduler, type ScheduledEntry } from '../../gateway/async/scheduler.js';
import type { AsyncStore } from '../../gateway/async/store.js';
import { createAppLogger } from '../../gateway/logging.js';
import type { AsyncRecord } from '../../policies/index.js';
import { queuedOrder } from '../support/async-records.js';
import { captureLines } from '../support/gateway-harness.js';

const entry = (id: string, key: string, dueAt = 0): ScheduledEntry => ({ id, key, status: 'pending', dueAt, inFlight: false });

describe('keyed scheduler', () => {
  it('attempts only the head of each key; the next becomes due when the head is gone', () => {
    const s = new KeyedScheduler<ScheduledEntry>();
    for (const e of [entry('a1', 'A'), entry('b1', 'B'), entry('a2', 'A'), entry('a3', 'A')]) s.push(e);
    assert.deepEqual(s.take(0, 10).map((e) => e.id), ['a1', 'b1']);
    assert.deepEqual(s.take(0, 10), [], 'heads in flight, the rest wait');
    s.remove('a1');
    assert.deepEqual(s.take(0, 10).map((e) => e.id), ['a2']);
    s.reschedule('a2', 'failed', 500);
    assert.equal(s.nextDueAt(), 500);
    assert.deepEqual(s.take(499, 10), []);
    assert.deepEqual(s.take(500, 10).map((e) => e.id), ['a2']);
  });

  it('a dead head holds its key until revived or removed', () => {
    const s = new KeyedScheduler<ScheduledEntry>();
    s.push(entry('a1', 'A'));
    s.push(entry('a2', 'A'));
    s.take(0, 10);
    s.reschedule('a1', 'dead', Infinity);
    assert.equal(s.deadCount, 1);
    assert.deepEqual(s.take(10_000, 10), []);
    assert.equal(s.nextDueAt(), undefined);
    s.reschedule('a1', 'pending', 5);
    assert.equal(s.deadCount, 0);
    assert.deepEqual(s.take(5, 10).map((e) => e.id), ['a1'], 'the replayed head goes first');
    s.reschedule('a1', 'dead', Infinity);
    s.remove('a1');
    assert.deepEqual(s.take(5, 10).map((e) => e.id), ['a2'], 'discarded: the held request goes on');
    assert.equal(s.size, 1);
  });

  it('takes due heads in time order, at most `limit`', () => {
    const s = new KeyedScheduler<ScheduledEntry>();
    for (let i = 0; i < 50; i++) s.push(entry(`k${i}`, `K${i}`, (i * 37) % 50));
    const first = s.take(100, 10);
    assert.equal(first.length, 10);
    assert.deepEqual(first.map((e) => e.dueAt), [...first.map((e) => e.dueAt)].sort((a, b) => a - b));
    assert.equal(s.take(100, 100).length, 40);
  });
});

/** An order creation queued in `store`, with a body of `bodyBytes`. */
const recordFor = (store: AsyncStore, ref: string, bodyBytes = 64): AsyncRecord => queuedOrder((key) => store.mintId(key), ref, { body: Buffer.alloc(bodyBytes, 'x').toString('base64') });

describe('embedded async store (fsynced log)', () => {
  let root: string;
  const log = captureLines();
  const logger = createAppLogger({ component: 'test', level: 'debug', stream: log.stream });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'gatehouse-async-store-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('keeps queued requests, attempts and dead letters across a reopen; an unsettled attempt comes back in doubt', async () => {
    const dir = join(root, 'reopen');
    const store = createFileAsyncStore({ dir, logger });
    const a = recordFor(store, 'R-1');
    const b = recordFor(store, 'R-2');
    const c = recordFor(store, 'R-3');
    await Promise.all([store.enqueue(a), store.enqueue(b), store.enqueue(c)]);
    const taken = store.take(Date.now(), 10);
    assert.equal(taken.length, 3);
    const [ta, tb, tc] = [a, b, c].map((r) => taken.find((t) => t.record.id === r.id)!);
    const now = Date.now();
    await store.begin(ta!, { ...ta!.state, attempts: 1, sendingSince: now, sendDeadline: now + 10 });
    await store.begin(tb!, { ...tb!.state, attempts: 1, sendingSince: now, sendDeadline: now + 10 });
    await store.settle(tb!, { ...tb!.state, attempts: 1, status: 'dead', lastError: { code: 'upstream.validation_failed', status: 422, detail: 'no' } });
    await store.settle(tc!, { ...tc!.state, attempts: 1, status: 'delivered', upstream: { status: 200, contentType: 'application/json', body: '[1]', encoding: 'utf8', truncated: false, confirmedBy: 'response' } });
    await store.close();

    const again = createFileAsyncStore({ dir, logger });
    try {
      assert.deepEqual(again.depth(), { queued: 1, dead: 1 });
      const doubt = (await again.get(a.id))!;
      assert.equal(doubt.state.inDoubt, true, 'attempt started, no outcome recorded');
      assert.equal(doubt.record.body, a.body);
      assert.equal((await again.get(b.id))!.state.status, 'dead');
      const delivered = (await again.get(c.id))!;
      assert.equal(delivered.state.status, 'delivered');
      assert.equal(delivered.record.body, null, 'a delivered request keeps no body');
      assert.deepEqual((await again.listDead(10)).map((e) => e.record.id), [b.id]);
      assert.deepEqual(again.take(Date.now(), 10).map((t) => t.record.id), [a.id]);
    } finally {
      await again.close();
    }
  });

  it('cuts a torn tail (a crash mid-append) and skips a damaged line elsewhere', async () => {
    const dir = join(root, 'torn');
    const store = createFileAsyncStore({ dir, logger });
    const records = [recordFor(store, 'T-1'), recordFor(store, 'T-2'), recordFor(store, 'T-3')];
    for (const record of records) await store.enqueue(record);
    await store.close();
    const file = join(dir, 'queue.log');
    const lines = readFileSync(file, 'utf8').split('\n');
    // Damage the second line's payload (its checksum no longer matches), and tear a fourth.
    lines[1] = lines[1]!.replace('T-2', 'T-X');
    writeFileSync(file, lines.join('\n'));
    appendFileSync(file, '0badc0de {"e":"enq","r":{"id":"half');
    const reopened = createFileAsyncStore({ dir, logger });
    try {
      assert.equal(await reopened.get(records[1]!.id), undefined, 'damaged line skipped');
      assert.ok((await reopened.get(records[0]!.id)) !== undefined);
      assert.ok((await reopened.get(records[2]!.id)) !== undefined);
      assert.ok(log.lines().some((l) => l.includes('torn tail')));
      assert.ok(log.lines().some((l) => l.includes('damaged lines') && l.includes('"lines":1')));
      // Appends after the cut are whole lines again.
      const next = recordFor(reopened, 'T-4');
      await reopened.enqueue(next);
      assert.ok(readFileSync(file, 'utf8').endsWith('\n'));
    } finally {
      await reopened.close();
    }
    const third = createFileAsyncStore({ dir, logger });
    try {
      assert.equal(third.depth().queued, 3);
    } finally {
      await third.close();
    }
  });

  it('compacts the log, keeping undelivered requests and dropping finished ones past their retention', async () => {
    const dir = join(root, 'compact');
    const store = createFileAsyncStore({ dir, logger, compactBytes: 16 * 1024, retentionMs: 0 });
    const kept = recordFor(store, 'C-keep', 256);
    await store.enqueue(kept);
    for (let i = 0; i < 60; i++) {
      const record = recordFor(store, `C-${i}`, 256);
      await store.enqueue(record);
      const item = store.take(Date.now(), 100).find((t) => t.record.id === record.id)!;
      await store.settle(item, { ...item.state, attempts: 1, status: 'delivered', upstream: null });
    }
    await store.close();
    // 61 requests of ~1 KiB each were written; what is left is the live one and the latest few.
    assert.ok(readFileSync(join(dir, 'queue.log')).length < 16 * 1024, 'compacted');
    const reopened = createFileAsyncStore({ dir, logger });
    try {
      assert.equal(reopened.depth().queued, 1);
      assert.equal((await reopened.get(kept.id))!.record.body, kept.body);
    } finally {
      await reopened.close();
    }
  });

  it('belongs to one process at a time and refuses requests past its size limit', async () => {
    const dir = join(root, 'lock');
    const store = createFileAsyncStore({ dir, logger, maxQueuedBytes: 4096 });
    try {
      assert.throws(() => createFileAsyncStore({ dir, logger }), /in use by process/);
      await store.enqueue(recordFor(store, 'L-1', 1024));
      await assert.rejects(store.enqueue(recordFor(store, 'L-2', 4096)), /full/);
    } finally {
      await store.close();
    }
  });
});
