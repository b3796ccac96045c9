/**
 * @module Canonical JSON (RFC 8785, via `canonicalize`) and the snapshot hash over it, so the
 * control plane and every gateway node agree on one hash for one body.
 */
import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import type { Snapshot } from './snapshot.js';

// A CommonJS package whose typings say `export default`: at run time the default import is
// the function itself.
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

/** RFC 8785 canonical JSON text of `value`. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no JSON representation');
  return text;
}

/**
 * SHA-256 (hex) of the canonical JSON of the snapshot without its `hash` member.
 *
 * @example
 * const hash = computeSnapshotHash({ ...body, hash: '' }); // `hash` itself is ignored
 */
export function computeSnapshotHash(snapshot: Omit<Snapshot, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...body } = snapshot;
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}
