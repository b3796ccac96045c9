/**
 * @module The gateway plane's one request-failure type. Policies, adapters and the proxy throw
 * it; one renderer turns it into `application/problem+json`. Foreign errors are translated
 * where they are caught and kept as `cause` for the log, never shown to the client.
 */
import { PROBLEM_CODES, type ProblemCode } from '../contracts/index.js';

export interface GatewayErrorOptions {
  /** Overrides the code's default status (e.g. 405 answers carry `Allow`). */
  status?: number;
  /** Extra response headers (`WWW-Authenticate`, `Retry-After`, `Allow`, …). */
  headers?: Record<string, string>;
  /** RFC 9457 extension members; never credentials. */
  extensions?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * A request the gateway refuses or cannot complete.
 *
 * @example
 * throw new GatewayError('route.not_found', 'No API "orders" with major version 3.');
 */
export class GatewayError extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly extensions: Readonly<Record<string, unknown>>;

  constructor(code: ProblemCode, detail: string, options: GatewayErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = options.status ?? PROBLEM_CODES[code].status;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}

/** Configuration mistakes found while compiling a snapshot: the snapshot is rejected whole. */
export class SnapshotCompileError extends Error {
  readonly code = 'snapshot.invalid';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`snapshot rejected: ${problems.join('; ')}`);
    this.name = 'SnapshotCompileError';
    this.problems = problems;
  }
}
