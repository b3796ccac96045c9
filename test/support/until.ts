/**
 * @module Waiting in a test for something that happens elsewhere (a timer, a socket, another
 * process): one helper for every test file, which each had its own copy.
 */

export interface UntilOptions {
  /**
   * Wall-clock deadline, default 30 s. It only catches a hang, so it is generous: on a starved
   * machine each pause takes longer than asked, and the copies that counted tries ran out early.
   */
  timeoutMs?: number;
  /** Pause between tries, default 10 ms. */
  intervalMs?: number;
  /** A probe that throws counts as "not yet" (a process that restarts refuses connections). */
  ignoreErrors?: boolean;
}

/**
 * Polls `probe` until it gives something other than `undefined` or `false`, and returns that;
 * past the deadline, throws naming `what`.
 *
 * @example
 * const record = await until('the delivery record', () => records().find((r) => r.status === 202));
 * await until('the client reconnects', () => client.isReady);
 */
export async function until<T>(what: string, probe: () => T | false | undefined | Promise<T | false | undefined>, options: UntilOptions = {}): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 10, ignoreErrors = false } = options;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = ignoreErrors ? await Promise.resolve().then(probe).catch(() => undefined) : await probe();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for: ${what} (${timeoutMs} ms)`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
