/**
 * @module Retry spacing shared by both planes: exponential backoff with "equal jitter" — half
 * of each step fixed, half random — so retries of many nodes or keys spread out yet never bunch
 * at zero (AWS Architecture Blog, "Exponential Backoff And Jitter").
 */

/**
 * The wait before retry number `attempt` (1 for the first): `baseMs` doubled per attempt, capped
 * at `maxMs`, of which a random half.
 *
 * @example
 * equalJitterBackoff(3, 1000, 60_000); // between 2000 and 4000
 */
export function equalJitterBackoff(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  return Math.round(step / 2 + random() * (step / 2));
}
