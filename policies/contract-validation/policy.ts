/**
 * @module `contract-validation`: every request is checked against the bound version's OpenAPI
 * 3.0 / 3.1 contract, compiled once per snapshot with ajv: parameters (path, query, headers,
 * cookies), the body's media type (415 `request.unsupported_media_type`) and the JSON body
 * (400 `contract.request_invalid` with `errors: [{ pointer, detail }]`, JSON Pointers into the
 * request such as `/body/lines/2/quantity`). In `detect` mode violations are logged and counted
 * and the request goes on. Sampled upstream answers are checked for contract drift (logged,
 * counted, never altered). Contracts with patterns prone to catastrophic backtracking, or that
 * lack an operation the snapshot routes, are refused when the snapshot compiles.
 */
import type { ErrorObject } from 'ajv';
import { escapePointerToken, type CapturedResponse, type RequestContext, type ResponseTap } from '../../contracts/index.js';
import { definePolicy, type Clock, type PolicyRequest } from '../define-policy.js';
import { GatewayError } from '../errors.js';
import { compileContract, mediaTypeOf, type CompiledOperation, type MediaTable, type MediaPlan, type ResponsePlan } from './compile.js';
import { readParameters, type RequestError } from './parameters.js';
import { contractValidationSchema, type ContractValidationConfig } from './schema.js';

/**
 * Invalid bodies up to this size are validated a second time collecting every error (for the
 * `errors` list); larger ones report the first error only. ajv's `allErrors` on a hostile
 * megabyte (a long array of wrong items) would allocate an error per item.
 */
const DETAILED_ERRORS_MAX_BYTES = 16 * 1024;

type ViolationKind = 'parameters' | 'body' | 'media_type';
type DriftKind = 'status' | 'header' | 'media_type' | 'body';

/** The plan of a Content-Type value: exact type first (no allocation for the common spelling), then ranges. */
function lookupMedia(table: MediaTable, raw: string | undefined): MediaPlan | undefined {
  if (raw === undefined) return table.wildcards.find(([prefix]) => prefix === '')?.[1];
  const exact = table.exact.get(raw);
  if (exact !== undefined) return exact;
  const type = mediaTypeOf(raw);
  const normalised = table.exact.get(type);
  if (normalised !== undefined) return normalised;
  for (const [prefix, plan] of table.wildcards) if (type.startsWith(prefix)) return plan;
  return undefined;
}

/** ajv errors → request errors: pointers into the request, missing and extra members named. */
function collectErrors(prefix: string, errors: readonly ErrorObject[] | null | undefined, out: RequestError[], max: number): void {
  for (const error of errors ?? []) {
    if (out.length >= max) return;
    let pointer = prefix + error.instancePath;
    let detail = error.message ?? 'is invalid';
    const params = error.params as Record<string, unknown>;
    if (error.keyword === 'required' || error.keyword === 'dependentRequired' || error.keyword === 'dependencies') {
      pointer += `/${escapePointerToken(String(params.missingProperty))}`;
      detail = error.keyword === 'required' ? 'is required' : `is required when "${String(params.property)}" is present`;
    } else if (error.keyword === 'additionalProperties' || error.keyword === 'unevaluatedProperties') {
      pointer += `/${escapePointerToken(String(params.additionalProperty ?? params.unevaluatedProperty))}`;
      detail = 'is not allowed by the contract';
    }
    // ajv messages name types, formats, bounds and the contract's own patterns, never the value.
    if (!out.some((e) => e.pointer === pointer && e.detail === detail)) out.push({ pointer, detail });
  }
}

/** Lets one log line per key through per interval, counting what it held back. */
function createLogGate(clock: Clock, intervalMs: number): (key: string) => number | undefined {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (key) => {
    const now = clock.now();
    const entry = last.get(key);
    if (entry !== undefined && now - entry.at < intervalMs) {
      entry.suppressed++;
      return undefined;
    }
    last.set(key, { at: now, suppressed: 0 });
    return entry?.suppressed ?? 0;
  };
}

interface Violation {
  kinds: ViolationKind[];
  errors: RequestError[];
  /** Set for a body whose media type the operation does not accept. */
  accepted?: readonly string[];
}

/**
 * @example
 * // snapshot binding on an API version whose `contract` is an OpenAPI document
 * { "policy": "contract-validation", "config": { "mode": "enforce", "responses": { "sampleRate": 0.01 } } }
 */
export const contractValidationPolicy = definePolicy<ContractValidationConfig>({
  name: 'contract-validation',
  // Below rbac (950) and rate limiting (910): validation spends CPU on the body, so callers who
  // are not allowed in, or are over their rate, are turned away first. Above ownership (700),
  // idempotency (600) and cache (500): those read the body's fields or keep answers, so they
  // should see only requests that match the contract. DESIGN.md §5 places it at 800.
  priority: 800,
  schema: contractValidationSchema,
  needsBody: true,
  create(config, deps) {
    const bound = deps.version;
    if (bound === undefined) throw new Error('contract-validation checks an API version\'s contract: bind it to a version');
    if (bound.spec.contract === undefined) throw new Error('the version has no contract (OpenAPI document) to validate against');
    const { maxErrors, mode } = config;
    const sampleRate = config.responses.sampleRate;
    const operations = compileContract(bound.spec, {
      responses: sampleRate > 0,
      lasting: deps.lasting,
      logger: deps.logger,
      label: `${bound.api} v${bound.major}`,
    });
    const api = bound.api;
    const version = bound.spec.version;
    const countViolation = deps.metrics.counter(
      'contract_violations_total',
      'Requests that broke the API version\'s contract, by operation, what broke (parameters, body, media_type) and mode (enforce refused them, detect let them through).',
      ['api', 'version', 'operation', 'kind', 'mode'],
    );
    const countDrift = deps.metrics.counter(
      'contract_drift_total',
      'Sampled upstream answers that broke the contract, by operation and what broke (status, header, media_type, body).',
      ['api', 'version', 'operation', 'kind'],
    );
    const countChecked = deps.metrics.counter('contract_responses_checked_total', 'Upstream answers sampled for contract drift, by operation.', ['api', 'version', 'operation']);
    const mayLog = createLogGate(deps.clock, config.logIntervalSeconds * 1000);

    /** Read errors of the request being checked; reused, as handlers run one at a time. */
    const readErrors: RequestError[] = [];

    /** The request's problems, or `undefined` when it matches (a valid request allocates only its parameters object). */
    function check(operation: CompiledOperation, req: PolicyRequest, ctx: RequestContext): Violation | undefined {
      let errors: RequestError[] | undefined;
      let kinds: ViolationKind[] | undefined;
      const bodyPlan = operation.body;
      const body = ctx.body;
      let bodyMedia: MediaPlan | undefined;
      if (bodyPlan !== undefined) {
        if (body === undefined || body.length === 0) {
          if (bodyPlan.required) {
            errors = [{ pointer: '/body', detail: 'is required' }];
            kinds = ['body'];
          }
        } else {
          const media = lookupMedia(bodyPlan.media, req.headers['content-type']);
          // A body of a type the operation does not take cannot be checked: 415 on its own.
          if (media === undefined) return { kinds: ['media_type'], errors: [], accepted: bodyPlan.media.listed };
          // Schemas validate the parsed JSON; a wildcard type validates when the body sent is JSON.
          if (media.validate !== undefined && ctx.json !== undefined) bodyMedia = media;
        }
      }
      const parameters = operation.parameters;
      if (parameters !== undefined) {
        readErrors.length = 0;
        const values = readParameters(parameters, req, ctx.upstreamPath, readErrors);
        if (!parameters.validate(values) || readErrors.length > 0) {
          const found = readErrors.slice(0, maxErrors);
          collectErrors('', parameters.validate.errors, found, maxErrors);
          errors = errors === undefined ? found : [...found, ...errors].slice(0, maxErrors);
          (kinds ??= []).unshift('parameters');
        }
      }
      if (bodyMedia !== undefined && !bodyMedia.validate!(ctx.json)) {
        errors ??= [];
        const detailed = bodyMedia.detailed !== undefined && body!.length <= DETAILED_ERRORS_MAX_BYTES ? bodyMedia.detailed : undefined;
        if (detailed !== undefined) detailed(ctx.json);
        collectErrors('/body', (detailed ?? bodyMedia.validate!).errors, errors, maxErrors);
        (kinds ??= []).push('body');
      }
      return errors === undefined ? undefined : { kinds: kinds!, errors };
    }

    function report(operation: CompiledOperation, violation: Violation, ctx: RequestContext): void {
      for (const kind of violation.kinds) countViolation({ api, version, operation: operation.id, kind, mode });
      if (mode === 'enforce') return;
      const suppressed = mayLog(`request ${operation.id} ${violation.kinds.join(',')}`);
      if (suppressed === undefined) return;
      deps.logger.warn('contract violation let through (detect mode)', {
        api,
        version,
        operation: operation.id,
        traceId: ctx.traceId,
        kinds: violation.kinds,
        errors: violation.errors,
        ...(violation.accepted === undefined ? {} : { accepted: violation.accepted }),
        suppressedSinceLast: suppressed,
      });
    }

    function refuse(operation: CompiledOperation, violation: Violation): GatewayError {
      if (violation.accepted !== undefined) {
        // The media type the caller sent is not echoed: header values stay out of answers.
        return new GatewayError(
          'request.unsupported_media_type',
          `Operation ${operation.id} does not accept a body of this media type; send ${violation.accepted.join(' or ')}.`,
          { headers: { accept: violation.accepted.join(', ') } },
        );
      }
      const [first] = violation.errors;
      const more = violation.errors.length > 1 ? ` (and ${violation.errors.length - 1} more)` : '';
      return new GatewayError('contract.request_invalid', `The request does not match operation ${operation.id}: ${first!.pointer} ${first!.detail}${more}.`, {
        extensions: { errors: violation.errors },
      });
    }

    function drift(operation: CompiledOperation, kind: DriftKind, errors: RequestError[], ctx: RequestContext): void {
      countDrift({ api, version, operation: operation.id, kind });
      const suppressed = mayLog(`drift ${operation.id} ${kind}`);
      if (suppressed === undefined) return;
      deps.logger.warn('upstream answer drifts from the contract', {
        api,
        version,
        operation: operation.id,
        traceId: ctx.traceId,
        kind,
        status: ctx.upstreamStatus,
        errors,
        suppressedSinceLast: suppressed,
      });
    }

    function checkResponse(operation: CompiledOperation, response: CapturedResponse, ctx: RequestContext): void {
      const responses = operation.responses!;
      countChecked({ api, version, operation: operation.id });
      const status = response.status;
      const plan: ResponsePlan | undefined = responses.byStatus.get(status) ?? responses.byClass.get(Math.floor(status / 100)) ?? responses.fallback;
      if (plan === undefined) {
        drift(operation, 'status', [{ pointer: '/status', detail: `${status} is not a status the contract declares` }], ctx);
        return;
      }
      const missing = plan.requiredHeaders.filter((name) => response.headers[name] === undefined);
      if (missing.length > 0) drift(operation, 'header', missing.map((name) => ({ pointer: `/headers/${escapePointerToken(name)}`, detail: 'is required' })), ctx);
      if (response.body.length === 0) return;
      if (plan.media === undefined) {
        drift(operation, 'body', [{ pointer: '/body', detail: `the contract declares no content for status ${status}` }], ctx);
        return;
      }
      const contentType = response.headers['content-type'];
      const raw = Array.isArray(contentType) ? contentType[0] : contentType;
      const media = lookupMedia(plan.media, raw);
      if (media === undefined) {
        drift(operation, 'media_type', [{ pointer: '/headers/content-type', detail: `is not a media type the contract declares for status ${status}` }], ctx);
        return;
      }
      if (media.validate === undefined || !/json/i.test(raw ?? '')) return;
      let json: unknown;
      try {
        json = JSON.parse(response.body.toString('utf8'));
      } catch {
        drift(operation, 'body', [{ pointer: '/body', detail: 'is not valid JSON' }], ctx);
        return;
      }
      if (media.validate(json)) return;
      const errors: RequestError[] = [];
      collectErrors('/body', media.validate.errors, errors, maxErrors);
      drift(operation, 'body', errors, ctx);
    }

    // One tap per operation, made here: a sampled request only pushes it.
    const taps = new Map<string, ResponseTap>();
    for (const operation of operations.values()) {
      if (operation.responses === undefined) continue;
      taps.set(operation.id, function contractDrift(response, ctx) {
        try {
          checkResponse(operation, response, ctx);
        } catch (error) {
          // A tap must never break the answer it watches.
          deps.logger.error('contract drift check failed', { operation: operation.id, traceId: ctx.traceId, error: (error as Error).message });
        }
      });
    }

    return function contractValidation(req, _res, ctx) {
      const operation = ctx.operationId === undefined ? undefined : operations.get(ctx.operationId);
      if (operation === undefined) return;
      const violation = check(operation, req, ctx);
      if (violation !== undefined) {
        report(operation, violation, ctx);
        if (mode === 'enforce') throw refuse(operation, violation);
      }
      // Answers are checked in either mode and only ever reported: a tap cannot (and must not)
      // change what the upstream said, so `enforce` governs requests alone.
      if (sampleRate > 0 && Math.random() < sampleRate) {
        const tap = taps.get(operation.id);
        if (tap !== undefined) (ctx.responseTaps ??= []).push(tap);
      }
    };
  },
});
