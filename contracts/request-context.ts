/**
 * @module The one typed request context policies share (`res.locals.gateway`). Policies talk
 * to each other only through it.
 */

/** What a call does in business terms, extracted by the upstream adapter from path and body. */
export interface BusinessOperation {
  system: string;
  /** Upstream entity: `sale.order`, `Account`, `ticket`, … */
  entity: string;
  action: 'read' | 'create' | 'update' | 'delete' | 'call';
  /** Upstream method name where the protocol has one (`action_confirm`, `search_read`). */
  method?: string;
  /** Fields written (for writes) or requested (for reads), when the call names them. */
  fields: string[];
  ids: Array<string | number>;
  /** Sub-operations of a batch call (Salesforce composite). */
  parts?: BusinessOperation[];
}

/** An upstream answer as the gateway relays it (after adapter mapping), read whole. */
export interface CapturedResponse {
  status: number;
  /** Response headers as relayed (lower-case names), hop-by-hop removed, without content-length. */
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** Sees a successful (non-problem) upstream answer before it is sent; must not throw. */
export type ResponseTap = (response: CapturedResponse, ctx: RequestContext) => void;

/**
 * Rewrites a JSON answer before it reaches the client (fields masked, a canonical status
 * added). Every answer the gateway sends from a whole body passes each of the request's
 * transforms — relayed from the upstream, or a copy a policy kept (cache hit, idempotent
 * replay, stale fallback) — nearest the upstream first, i.e. in reverse order of registration.
 * Kept copies are stored as the upstream answered, so a replay is transformed for whoever
 * receives it under the snapshot in force.
 */
export interface ResponseTransform {
  /** The registering policy, for logs and problems. */
  readonly name: string;
  /**
   * `true`: an answer this transform cannot read (not JSON, larger than `maxBytes`, an unknown
   * content coding) is withheld with a problem rather than sent unchanged (field masking);
   * `false`: it is sent unchanged (enrichment).
   */
  readonly failClosed: boolean;
  /** Largest (decoded) body the transform reads. */
  readonly maxBytes: number;
  /** Returns the document to send (it may change `json` in place and return it). Must not throw. */
  apply(json: unknown, status: number, ctx: RequestContext): unknown;
}

/**
 * Asked when the upstream failed (refused, timed out, circuit open, 5xx mapped to a problem):
 * returns an answer to send instead (a stale cached copy, say), or `undefined`.
 */
export type UpstreamFallback = (code: string, ctx: RequestContext) => CapturedResponse | undefined;

export interface ConsumerIdentity {
  id: string;
  name: string;
  plan?: string;
}

export interface RequestContext {
  /** Echoed as `X-Request-Id`. */
  readonly requestId: string;
  /** W3C trace id (32 hex) of this request, honoured from `traceparent` or generated. */
  readonly traceId: string;
  /** The gateway's own span id, sent upstream as the parent id. */
  readonly spanId: string;
  readonly traceFlags: string;
  /** The caller's span id from a valid `traceparent`; absent when the gateway started the trace. */
  readonly parentSpanId: string | undefined;
  /** Wall-clock receipt time (ms since epoch) from the injected clock. */
  readonly receivedAt: number;
  /** Monotonic start (ms, `performance.now()` scale) for latency. */
  readonly startedAt: number;
  /** Request target as received (path and query), before any rewriting. */
  readonly path: string;
  /** Hash of the snapshot this request runs on, start to finish. */
  readonly snapshotHash: string;
  /** The client's address: the peer, or what a trusted proxy said. */
  clientAddress: string;
  /** Path below the version prefix, query included, as sent upstream. */
  upstreamPath: string;
  /** Headers to send upstream, already cleaned of hop-by-hop, untrusted and identity headers. */
  upstreamHeaders: Record<string, string | string[]>;
  api: string | undefined;
  version: string | undefined;
  operationId: string | undefined;
  consumer: ConsumerIdentity | undefined;
  /** The OAuth client the credential was issued to (`client_id` / `azp`), when known. */
  clientId: string | undefined;
  subject: string | undefined;
  scopes: readonly string[] | undefined;
  operation: BusinessOperation | undefined;
  /** Buffered request body, when the route needs it (adapter or policy). */
  body: Buffer | undefined;
  /** The buffered body parsed once, when it is JSON; policies and adapters share it. */
  json: unknown;
  /** `allow` or the problem code the gateway answered with. */
  decision: string;
  upstreamStatus: number | undefined;
  upstreamLatencyMs: number | undefined;
  /**
   * Set by policies that keep answers (cache, idempotency): when present, the proxy reads the
   * upstream answer whole (up to its inspection limit) and calls each before sending it.
   */
  responseTaps: ResponseTap[] | undefined;
  /**
   * Set by policies that rewrite JSON answers (field-auth, order-status): when present, the
   * proxy reads the answer whole, asks the upstream for it uncompressed, and applies each
   * before sending; `sendCaptured` applies them to kept copies too.
   */
  responseTransforms: ResponseTransform[] | undefined;
  /** Set by a policy that can answer when the upstream fails (stale-if-error). */
  fallback: UpstreamFallback | undefined;
  /**
   * Headers a policy adds to the answer, whatever produced it (upstream, fallback or problem):
   * `RateLimit`, `Cache-Status`, … Name → value.
   */
  responseHeaders: Record<string, string> | undefined;
}
