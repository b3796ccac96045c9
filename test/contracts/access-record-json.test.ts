/** @module The access record serializer writes what JSON.stringify writes, for any values, in any sequence. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAccessRecordSerializer, type AccessRecord } from '../../contracts/index.js';

/** Deterministic pseudo-random numbers (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Strings that need escaping and strings that do not, short and long. */
const PIECES = ['', 'a', 'orders', '/items?limit=5', '"', '\\', '\n', '\t', '\u0000', '\u001f', '\u007f', 'é', '€', '😀', '\ud83d', '\ude00', '\u2028', '</script>', 'x'.repeat(70)];

function text(next: () => number): string {
  let out = '';
  const parts = Math.floor(next() * 4);
  for (let i = 0; i < parts; i++) out += PIECES[Math.floor(next() * PIECES.length)]!;
  return out;
}

const NUMBERS = [0, -0, 1, 200, 499, 0.001, 1.25, 12.345, 1e21, 1e-7, 123456.789, Number.NaN, Number.POSITIVE_INFINITY];

function pick<T>(next: () => number, values: readonly T[]): T {
  return values[Math.floor(next() * values.length)]!;
}

function record(next: () => number, previous: AccessRecord | undefined): AccessRecord {
  // Half the fields repeat the previous record's value (a copy, not the same string object),
  // as they mostly do on a gateway: the serializer keeps the last value's text.
  const keep = <K extends keyof AccessRecord>(key: K, fresh: () => AccessRecord[K]): AccessRecord[K] => {
    if (previous === undefined || next() < 0.5) return fresh();
    const value = previous[key];
    return (typeof value === 'string' ? ` ${value}`.slice(1) : value) as AccessRecord[K];
  };
  const nullable = (): string | null => (next() < 0.2 ? null : text(next));
  return {
    time: keep('time', () => new Date(Math.floor(next() * 4e12)).toISOString()),
    traceId: keep('traceId', () => text(next)),
    requestId: keep('requestId', () => text(next)),
    api: keep('api', nullable),
    version: keep('version', nullable),
    operation: keep('operation', nullable),
    method: keep('method', () => pick(next, ['GET', 'POST', 'PATCH', text(next)])),
    path: keep('path', () => text(next)),
    status: keep('status', () => pick(next, NUMBERS)),
    decision: keep('decision', () => text(next)),
    latencyMs: keep('latencyMs', () => pick(next, NUMBERS)),
    upstreamLatencyMs: keep('upstreamLatencyMs', () => (next() < 0.2 ? null : pick(next, NUMBERS))),
    upstreamStatus: keep('upstreamStatus', () => (next() < 0.2 ? null : pick(next, NUMBERS))),
    consumer: keep('consumer', nullable),
    subject: keep('subject', nullable),
    clientAddress: keep('clientAddress', () => text(next)),
    snapshotHash: keep('snapshotHash', () => text(next)),
    aborted: keep('aborted', () => next() < 0.5),
  };
}

describe('createAccessRecordSerializer', () => {
  it('writes exactly what JSON.stringify writes, over 20,000 records of escapes, surrogates, nulls and odd numbers, fields repeating or not', () => {
    const next = random(20261128);
    const serialize = createAccessRecordSerializer();
    let previous: AccessRecord | undefined;
    for (let i = 0; i < 20_000; i++) {
      const r = record(next, previous);
      const expected = JSON.stringify(r);
      assert.equal(serialize(r), expected, `record ${i}`);
      previous = r;
    }
  });

  it('writes a gateway record as JSON the reader parses back to the same record', () => {
    const serialize = createAccessRecordSerializer();
    const r: AccessRecord = {
      time: '2026-11-28T04:05:06.789Z',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      requestId: '00f067aa0ba902b7',
      api: 'orders',
      version: '1.2.0',
      operation: 'createOrder',
      method: 'POST',
      path: '/orders?note=%22x%22',
      status: 201,
      decision: 'allow',
      latencyMs: 1.234,
      upstreamLatencyMs: 0.9,
      upstreamStatus: 201,
      consumer: 'storefront',
      subject: 'client:storefront',
      clientAddress: '127.0.0.1',
      snapshotHash: 'a'.repeat(64),
      aborted: false,
    };
    assert.deepEqual(JSON.parse(serialize(r)), r);
    assert.deepEqual(JSON.parse(serialize({ ...r, path: '/a"b\\c', consumer: null })), { ...r, path: '/a"b\\c', consumer: null });
  });

  it('throws a TypeError for a value JSON cannot take, as JSON.stringify does, and serializes the next record as usual', () => {
    const serialize = createAccessRecordSerializer();
    const next = random(7);
    const r = record(next, undefined);
    const bigint = { ...r, latencyMs: 1n as unknown as number };
    assert.throws(() => JSON.stringify(bigint), TypeError);
    assert.throws(() => serialize(bigint), TypeError);
    assert.throws(() => serialize({ ...r, api: 5 as unknown as string }), TypeError);
    assert.throws(() => serialize({ ...r, path: undefined as unknown as string }), TypeError);
    assert.equal(serialize(r), JSON.stringify(r));
  });
});
