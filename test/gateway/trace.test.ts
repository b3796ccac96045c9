/** W3C Trace Context parsing rules (https://www.w3.org/TR/trace-context/#traceparent-header). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTraceparent, IdSource, parseTraceparent } from '../../gateway/trace.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

describe('traceparent', () => {
  const ids = new IdSource();

  it('accepts version 00 and keeps trace id, parent id and flags', () => {
    assert.deepEqual(parseTraceparent(`00-${TRACE}-${PARENT}-01`, ids), { traceId: TRACE, parentId: PARENT, flags: '01' });
    assert.deepEqual(parseTraceparent(`00-${TRACE}-${PARENT}-00`, ids), { traceId: TRACE, parentId: PARENT, flags: '00' });
  });

  it('accepts a future version with extra fields, reading the known ones', () => {
    assert.deepEqual(parseTraceparent(`cc-${TRACE}-${PARENT}-01-what-the-future-holds`, ids), { traceId: TRACE, parentId: PARENT, flags: '01' });
  });

  const invalid: Array<[string, string]> = [
    ['version ff', `ff-${TRACE}-${PARENT}-01`],
    ['extra fields on version 00', `00-${TRACE}-${PARENT}-01-extra`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${PARENT}-01`],
    ['all-zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['upper-case hex', `00-${TRACE.toUpperCase()}-${PARENT}-01`],
    ['short trace id', `00-${TRACE.slice(1)}-${PARENT}-01`],
    ['garbage', 'not a traceparent'],
  ];
  for (const [name, header] of invalid) {
    it(`starts a new trace for ${name}`, () => {
      const parsed = parseTraceparent(header, ids);
      assert.equal(parsed.parentId, undefined);
      assert.match(parsed.traceId, /^[0-9a-f]{32}$/);
      assert.notEqual(parsed.traceId, TRACE);
      assert.equal(parsed.flags, '01');
    });
  }

  it('formats version 00', () => {
    assert.equal(formatTraceparent(TRACE, PARENT, '01'), `00-${TRACE}-${PARENT}-01`);
  });

  it('hands out distinct random ids, across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const span = ids.spanId();
      const trace = ids.traceId();
      assert.match(span, /^[0-9a-f]{16}$/);
      assert.match(trace, /^[0-9a-f]{32}$/);
      seen.add(span);
      seen.add(trace);
    }
    assert.equal(seen.size, 4000);
  });
});
