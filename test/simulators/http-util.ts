/** @module Tiny request/response value types and helpers shared by the upstream simulators. */
import type { IncomingHttpHeaders } from 'node:http';

/** A fully read request, as handed to a simulator's pure handler. */
export interface SimRequest {
  method: string;
  /** Absolute URL (base = the simulator's own url). */
  url: URL;
  headers: IncomingHttpHeaders;
  body: string;
  /** The simulator's own base URL, e.g. `http://127.0.0.1:8069`. */
  baseUrl: string;
}

/** What a handler answers; written to the socket by the fault layer. */
export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A simulator's protocol logic: a plain function from request to response. */
export type SimHandler = (req: SimRequest) => SimResponse;

/** A JSON response (`application/json; charset=utf-8`). */
export function jsonResponse(status: number, value: unknown, headers: Record<string, string> = {}): SimResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value),
  };
}

/** A text response; `contentType` defaults to `text/plain; charset=utf-8`. */
export function textResponse(
  status: number,
  text: string,
  headers: Record<string, string> = {},
  contentType = 'text/plain; charset=utf-8',
): SimResponse {
  return { status, headers: { 'content-type': contentType, ...headers }, body: text };
}

/** The first value of a header (Node joins most duplicates, but `string[]` is possible). */
export function header(req: SimRequest, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Media type of the request without parameters, lower-cased (`''` when absent). */
export function mimeType(req: SimRequest): string {
  return (header(req, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/** `JSON.parse` that reports failure as `undefined` plus the parser message. */
export function tryParseJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** True for a non-null, non-array object. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Structured deep copy of JSON-like data (used for snapshots and defensive copies). */
export function clone<T>(value: T): T {
  return structuredClone(value);
}
