/**
 * @module Shared pieces of the upstream adapter tests: API specs for one adapter kind, a
 * client that remembers every gateway answer (so a final test can grep them for planted
 * secrets), the RFC 9457 problem assertion, and a stub adapter env for unit tests.
 */
import assert from 'node:assert/strict';
import { PROBLEM_CODES, PROBLEM_TYPE_BASE, type ApiSpec, type OperationSpec, type Problem, type ProblemCode, type UpstreamKind } from '../../../contracts/index.js';
import type { Logger } from '../../../policies/index.js';
import type { AdapterEnv } from '../../../gateway/upstreams/index.js';
import { answerOf, type Answer } from '../../support/answer.js';
import { singleVersionApi, type TestGateway } from '../../support/gateway-harness.js';

/** The caller's own credential: must never reach an upstream. */
export const CALLER_AUTHORIZATION = 'Bearer caller-secret';

export const silentLogger: Logger = { error() {}, warn() {}, info() {}, debug() {} };

/** Adapter env for unit tests: every secret resolves to `k`, `fetch` must not be called. */
export function stubEnv(baseUrl: string): AdapterEnv {
  return {
    baseUrl: new URL(baseUrl),
    resolveSecret: () => 'k',
    logger: silentLogger,
    fetch: () => Promise.reject(new Error('unit tests make no upstream calls')),
  };
}

/** One published `1.0.0` version of `kind` (gateway prefix `/{slug}/v1`). */
export function upstreamApi(
  slug: string,
  kind: UpstreamKind,
  baseUrl: string,
  settings: Record<string, unknown>,
  operations: OperationSpec[],
): ApiSpec {
  return singleVersionApi(slug, { kind, baseUrl, connectTimeoutMs: 1000, responseTimeoutMs: 5000, settings }, operations);
}

export { answerOf, type Answer } from '../../support/answer.js';

export interface RequestOptions {
  /** Serialised as JSON with `content-type: application/json`. */
  json?: unknown;
  /** Raw body (no content type added). */
  body?: string;
  headers?: Record<string, string>;
}

export interface GatewayClient {
  send(method: string, path: string, options?: RequestOptions): Promise<Answer>;
  /** Every answer so far, headers and body, as text. */
  transcript(): string[];
}

/** A fetch client for the gateway that sends the caller's own credentials on every call. */
export function gatewayClient(gw: () => TestGateway): GatewayClient {
  const seen: string[] = [];
  return {
    async send(method, path, options = {}) {
      const headers: Record<string, string> = { authorization: CALLER_AUTHORIZATION, ...options.headers };
      let body: string | undefined = options.body;
      if (options.json !== undefined) {
        body = JSON.stringify(options.json);
        headers['content-type'] ??= 'application/json';
      }
      const answer = await answerOf(await fetch(`${gw().url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) }));
      seen.push([...answer.headers].map(([name, value]) => `${name}: ${value}`).join('\n'), answer.text);
      return answer;
    },
    transcript: () => [...seen],
  };
}

/**
 * Asserts an RFC 9457 problem as the gateway renders it, and that no upstream internals
 * (Odoo's `debug` traceback) travelled with it. Returns the parsed problem.
 */
export function assertProblem(answer: Answer, status: number, code: ProblemCode): Problem {
  assert.equal(answer.status, status, `expected ${status} ${code}, got ${answer.status}: ${answer.text}`);
  assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.match(answer.headers.get('x-request-id') ?? '', /^[0-9a-f]{16}$/);
  const problem = answer.json as Problem;
  assert.equal(problem.type, PROBLEM_TYPE_BASE + code);
  assert.equal(problem.title, PROBLEM_CODES[code].title);
  assert.equal(problem.status, status);
  assert.equal(problem.code, code);
  assert.equal(typeof problem.detail, 'string');
  assert.ok(problem.detail.length > 0, 'detail is empty');
  assert.match(problem.traceId, /^[0-9a-f]{32}$/);
  assert.doesNotMatch(answer.text, /Traceback|"debug"|File "\/opt\/odoo/);
  return problem;
}

/** Asserts that none of `secrets` occurs in any of `texts`, naming where it was found. */
export function assertNoSecrets(texts: readonly string[], secrets: readonly string[], where: string): void {
  assert.ok(texts.length > 0, `nothing captured in ${where}`);
  for (const secret of secrets) {
    const hit = texts.find((text) => text.includes(secret));
    assert.equal(hit, undefined, `${where} contains the planted secret ${secret}`);
  }
}

/** Where planted secrets must never appear: every gateway answer, log line and access record. */
export function gatewayTexts(gw: TestGateway, client: GatewayClient): { answers: string[]; logs: string[]; access: string[] } {
  return {
    answers: client.transcript(),
    logs: gw.logLines(),
    access: gw.accessRecords().map((record) => JSON.stringify(record)),
  };
}

/** Header value of a recorded simulator call as one string. */
export function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
