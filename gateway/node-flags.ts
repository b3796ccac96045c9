/**
 * @module The V8 flags a gateway node runs with (`npm run gateway`, `npm start`, the benchmark).
 * They must be on node's command line: V8 reads them when the heap is set up, and node refuses
 * them in `NODE_OPTIONS`. Measured on a node idle 30 s between runs at a steady rate: with V8's
 * defaults the memory reducer's idle mark-compacts aged the request path's bytecode until one,
 * just as load came back, flushed it (and its optimized code with it); the node spent that run
 * recompiling (312 optimizations instead of 4–6), saturated, at a median latency of 150–350 ms,
 * and its first scavenges ran with the young generation shrunk to 1 MB. A gateway is idle at
 * night and hit by the morning's first burst: it must not meet that burst cold.
 */

/**
 * - `--no-memory-reducer`: no mark-compacts on a timer while idle (they age idle code and
 *   shrink the heap the next burst needs again);
 * - `--no-flush-bytecode`: code that was hot stays compiled however long the quiet spell
 *   (a node's bytecode is a few MB at most);
 * - `--min-semi-space-size=16`: the young generation stays at the 16 MB it grows to under
 *   load (node's default maximum), so scavenges stay rare and objects of requests in flight
 *   are not promoted for want of room. Costs up to 32 MB of resident memory.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--no-memory-reducer', '--no-flush-bytecode', '--min-semi-space-size=16'];

/**
 * Which of `GATEWAY_NODE_FLAGS` this process was started without.
 *
 * @example
 * const missing = missingNodeFlags(process.execArgv);
 * if (missing.length > 0) logger.warn('started without the gateway node flags', { missing });
 */
export function missingNodeFlags(execArgv: readonly string[]): string[] {
  return GATEWAY_NODE_FLAGS.filter((flag) => !execArgv.includes(flag));
}
