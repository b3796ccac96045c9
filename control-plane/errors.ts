/**
 * @module The control plane's one error type and its one renderer: every refusal and failure
 * of the admin API is a `ControlPlaneError`, rendered as RFC 9457 problem+json by
 * `problemMiddleware`; anything else becomes `control_plane.internal`, logged with its cause
 * and never shown.
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { PROBLEM_CODES, PROBLEM_TYPE_BASE, type Problem, type ProblemCode } from '../contracts/index.js';

/** The logger and clock the control plane injects (types in contracts/). */
export type { Clock, Logger } from '../contracts/index.js';
import type { Logger } from '../contracts/index.js';

export class ControlPlaneError extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(code: ProblemCode, detail: string, options: { status?: number; extensions?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ControlPlaneError';
    this.code = code;
    this.status = options.status ?? PROBLEM_CODES[code].status;
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
  }
}

/** The request id of an admin call (echoed as X-Request-Id, recorded in audit events). */
export function requestIdOf(res: Response): string {
  const existing = res.locals.requestId as string | undefined;
  if (existing !== undefined) return existing;
  const id = randomUUID();
  res.locals.requestId = id;
  return id;
}

export function sendProblem(res: Response, error: ControlPlaneError): void {
  const requestId = requestIdOf(res);
  const problem: Problem = {
    type: PROBLEM_TYPE_BASE + error.code,
    title: PROBLEM_CODES[error.code].title,
    status: error.status,
    detail: error.message,
    code: error.code,
    traceId: requestId,
    ...error.extensions,
  };
  const body = JSON.stringify(problem);
  // end(), not send(): express would append "; charset=utf-8" to the media type.
  res
    .status(error.status)
    .set({ ...error.headers, 'content-type': 'application/problem+json', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', 'x-request-id': requestId })
    .end(body);
}

/** Express error handler: the one place admin API errors become problem documents. */
export function problemMiddleware(logger: Logger) {
  return function renderProblem(error: unknown, _req: Request, res: Response, _next: NextFunction): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof ControlPlaneError) {
      sendProblem(res, error);
      return;
    }
    // express.json() parse failures and size limits arrive as http-errors with a status.
    const status = (error as { status?: number; type?: string }).status;
    const type = (error as { type?: string }).type;
    if (type === 'entity.parse.failed') {
      sendProblem(res, new ControlPlaneError('request.malformed_body', 'The request body is not valid JSON.'));
      return;
    }
    if (type === 'entity.too.large') {
      sendProblem(res, new ControlPlaneError('request.too_large', 'The request body is too large.'));
      return;
    }
    if (status === 415 || type === 'encoding.unsupported') {
      sendProblem(res, new ControlPlaneError('request.unsupported_media_type', 'Send application/json.'));
      return;
    }
    logger.error('unexpected error in the admin API', {
      requestId: requestIdOf(res),
      error: error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : String(error),
    });
    sendProblem(res, new ControlPlaneError('control_plane.internal', 'The control plane failed to handle the request; the trace id identifies it in the logs.'));
  };
}
