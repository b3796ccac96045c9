/**
 * @module The stable problem codes both planes answer with (RFC 9457 `code` member), with
 * the HTTP status and title each one carries. Codes are part of the public surface: add,
 * never rename.
 */

/** Every problem code Gatehouse can answer with. Dotted, stable, documented in the README. */
export type ProblemCode =
  | 'request.invalid_path'
  | 'request.invalid_header'
  | 'request.url_too_long'
  | 'request.headers_too_large'
  | 'request.too_large'
  | 'request.malformed_body'
  | 'request.json_too_complex'
  | 'request.unsupported_media_type'
  | 'route.not_found'
  | 'route.method_not_allowed'
  | 'route.call_refused'
  | 'auth.token_missing'
  | 'auth.token_invalid'
  | 'auth.provider_unavailable'
  | 'access.unknown_consumer'
  | 'access.not_subscribed'
  | 'access.scope_missing'
  | 'access.field_denied'
  | 'access.role_missing'
  | 'ownership.write_denied'
  | 'contract.request_invalid'
  | 'limit.rate_exceeded'
  | 'limit.quota_exceeded'
  | 'limit.store_unavailable'
  | 'idempotency.key_missing'
  | 'idempotency.key_reused'
  | 'idempotency.in_flight'
  | 'idempotency.store_unavailable'
  | 'async.key_missing'
  | 'async.store_unavailable'
  | 'async.not_found'
  | 'async.not_dead_letter'
  | 'version.retired'
  | 'version.deprecated'
  | 'version.breaking_change'
  | 'contract.lint_failed'
  | 'upstream.unavailable'
  | 'upstream.timeout'
  | 'upstream.rate_limited'
  | 'upstream.auth_failed'
  | 'upstream.forbidden'
  | 'upstream.not_found'
  | 'upstream.validation_failed'
  | 'upstream.conflict'
  | 'upstream.error'
  | 'upstream.circuit_open'
  | 'gateway.not_ready'
  | 'gateway.internal'
  | 'request.validation_failed'
  | 'request.precondition_failed'
  | 'request.precondition_required'
  | 'resource.not_found'
  | 'resource.conflict'
  | 'lifecycle.invalid_transition'
  | 'lifecycle.separation_of_duties'
  | 'control_plane.internal';

export interface ProblemCodeInfo {
  readonly status: number;
  readonly title: string;
}

/** Default status and title per code. A thrower may override the status only where noted. */
export const PROBLEM_CODES: Readonly<Record<ProblemCode, ProblemCodeInfo>> = {
  'request.invalid_path': { status: 400, title: 'Invalid request path' },
  'request.invalid_header': { status: 400, title: 'Invalid request header' },
  'request.url_too_long': { status: 414, title: 'Request URL too long' },
  'request.headers_too_large': { status: 431, title: 'Request header fields too large' },
  'request.too_large': { status: 413, title: 'Request body too large' },
  'request.malformed_body': { status: 400, title: 'Malformed request body' },
  'request.json_too_complex': { status: 400, title: 'JSON body nested too deep or too many elements' },
  'request.unsupported_media_type': { status: 415, title: 'Unsupported media type' },
  'route.not_found': { status: 404, title: 'No such route' },
  'route.method_not_allowed': { status: 405, title: 'Method not allowed on this route' },
  'route.call_refused': { status: 403, title: 'Call not allowed through the gateway' },
  'auth.token_missing': { status: 401, title: 'Credentials missing' },
  'auth.token_invalid': { status: 401, title: 'Credentials invalid' },
  'auth.provider_unavailable': { status: 503, title: 'Identity provider unavailable' },
  'access.unknown_consumer': { status: 403, title: 'Unknown consumer' },
  'access.not_subscribed': { status: 403, title: 'No active subscription' },
  'access.scope_missing': { status: 403, title: 'Required scope missing' },
  'access.field_denied': { status: 403, title: 'Field may not be set by this consumer' },
  'access.role_missing': { status: 403, title: 'Required role missing' },
  'ownership.write_denied': { status: 403, title: 'Write refused: not the system of record' },
  'contract.request_invalid': { status: 400, title: 'Request does not match the contract' },
  'limit.rate_exceeded': { status: 429, title: 'Rate limit exceeded' },
  'limit.quota_exceeded': { status: 429, title: 'Quota exceeded' },
  'limit.store_unavailable': { status: 503, title: 'Rate-limit store unavailable' },
  'idempotency.key_missing': { status: 400, title: 'Idempotency-Key header required' },
  'idempotency.key_reused': { status: 422, title: 'Idempotency-Key reused with a different request' },
  'idempotency.in_flight': { status: 409, title: 'A request with this Idempotency-Key is in flight' },
  'idempotency.store_unavailable': { status: 503, title: 'Idempotency store unavailable' },
  'async.key_missing': { status: 400, title: 'Value for async ordering or probing missing from the request' },
  'async.store_unavailable': { status: 503, title: 'Async delivery queue unavailable' },
  'async.not_found': { status: 404, title: 'No such async request' },
  'async.not_dead_letter': { status: 409, title: 'Async request is not a dead letter' },
  'version.retired': { status: 410, title: 'API version retired' },
  'version.deprecated': { status: 409, title: 'API version deprecated' },
  'version.breaking_change': { status: 422, title: 'Breaking change within a major version' },
  'contract.lint_failed': { status: 422, title: 'Contract fails the governance lint' },
  'upstream.unavailable': { status: 502, title: 'Upstream unavailable' },
  'upstream.timeout': { status: 504, title: 'Upstream timed out' },
  'upstream.rate_limited': { status: 503, title: 'Upstream capacity exhausted' },
  'upstream.auth_failed': { status: 502, title: 'Upstream refused the gateway credential' },
  'upstream.forbidden': { status: 403, title: 'Upstream refused the operation' },
  'upstream.not_found': { status: 404, title: 'Upstream record not found' },
  'upstream.validation_failed': { status: 422, title: 'Upstream rejected the data' },
  'upstream.conflict': { status: 409, title: 'Upstream conflict' },
  'upstream.error': { status: 502, title: 'Upstream error' },
  'upstream.circuit_open': { status: 503, title: 'Upstream circuit open' },
  'gateway.not_ready': { status: 503, title: 'Gateway not ready' },
  'gateway.internal': { status: 500, title: 'Internal gateway error' },
  'request.validation_failed': { status: 400, title: 'Request body or parameters invalid' },
  'request.precondition_failed': { status: 412, title: 'Resource changed since it was read (If-Match)' },
  'request.precondition_required': { status: 428, title: 'If-Match required' },
  'resource.not_found': { status: 404, title: 'No such resource' },
  'resource.conflict': { status: 409, title: 'Resource already exists or is in use' },
  'lifecycle.invalid_transition': { status: 409, title: 'Transition not allowed from the current status' },
  'lifecycle.separation_of_duties': { status: 403, title: 'Separation of duties' },
  'control_plane.internal': { status: 500, title: 'Internal control-plane error' },
};

/** Base URI of problem `type`s; `type` is this + the code, and the README documents each. */
export const PROBLEM_TYPE_BASE = 'https://gatehouse.dev/problems/';

/** RFC 9457 problem document as Gatehouse renders it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  traceId: string;
  instance?: string;
  [extension: string]: unknown;
}

export function isProblemCode(value: string): value is ProblemCode {
  return Object.hasOwn(PROBLEM_CODES, value);
}
