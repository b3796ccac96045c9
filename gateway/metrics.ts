/**
 * @module Gateway metrics on a registry of its own (never prom-client's global one, so two
 * gateways in one process — tests — do not collide). Label values come only from the
 * snapshot (api slug, version) and status codes, so cardinality stays bounded.
 */
import type { Agent } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export const UNMATCHED = '_unmatched';

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly requests: FastCounter;
  /** Requests by api, consumer and status class; at most MAX_CONSUMER_SERIES consumers get their own label. */
  readonly consumerRequests: FastCounter;
  /** api → consumer label → one recorder per status class (0xx … 5xx), made on first use. */
  readonly consumerSeries: Map<string, Map<string, Array<(() => void) | undefined>>>;
  /** Consumers that have a label of their own (at most MAX_CONSUMER_SERIES). */
  readonly consumersSeen: Set<string>;
  readonly duration: FastHistogram;
  readonly upstreamDuration: FastHistogram;
  /** Route recorders by api and version (see `createRouteMetrics`). */
  readonly routes: Map<string, RouteMetrics>;
  readonly snapshotInfo: Gauge<'hash'>;
  readonly snapshotAppliedAt: Gauge;
  readonly snapshotApplies: Counter;
  readonly snapshotRejections: Counter;
  readonly upstreamErrors: Counter<'api' | 'version' | 'code'>;
  /** Attempts sent again after a retryable failure. */
  readonly upstreamRetries: Counter<'api' | 'version' | 'reason'>;
  /** Circuit breaker per upstream: 0 closed, 1 open, 2 half-open. */
  readonly circuitState: Gauge<'upstream'>;
  readonly circuitTransitions: Counter<'upstream' | 'state'>;
  /** Sockets of the upstream agent by state, read at scrape time (see `watchAgent`). */
  readonly upstreamSockets: Gauge<'state'>;
  /** Requests the gateway refused or failed, by problem code. */
  readonly decisions: Counter<'code'>;
  /** Counters policies asked for, by name. */
  readonly policyCounters: Map<string, Counter<string>>;
}

/** Consumers that get a label of their own; the rest count as `_other` (bounded cardinality). */
export const MAX_CONSUMER_SERIES = 500;

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * @example
 * const metrics = createGatewayMetrics({ defaultMetrics: true });
 * res.end(await metrics.registry.metrics());
 */
export function createGatewayMetrics(options: { defaultMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics === true) collectDefaultMetrics({ register: registry, prefix: 'gatehouse_gateway_' });
  const registers = [registry];
  const requests = new FastCounter('gatehouse_requests_total', 'Requests answered, by API, version and status code.');
  const duration = new FastHistogram('gatehouse_request_duration_seconds', 'Time from receipt to the end of the answer.', LATENCY_BUCKETS);
  const upstreamDuration = new FastHistogram(
    'gatehouse_upstream_duration_seconds',
    'Time from forwarding to the upstream response headers.',
    LATENCY_BUCKETS,
  );
  const consumerRequests = new FastCounter('gatehouse_consumer_requests_total', `Requests by API, consumer and status class (the first ${MAX_CONSUMER_SERIES} consumers seen by name, others as _other).`);
  for (const metric of [requests, duration, upstreamDuration, consumerRequests]) registry.registerMetric(metric as never);
  return {
    registry,
    requests,
    consumerRequests,
    consumerSeries: new Map(),
    consumersSeen: new Set(),
    duration,
    upstreamDuration,
    routes: new Map(),
    snapshotInfo: new Gauge({
      name: 'gatehouse_snapshot_info',
      help: 'The applied snapshot (value 1, hash as label).',
      labelNames: ['hash'],
      registers,
    }),
    snapshotAppliedAt: new Gauge({
      name: 'gatehouse_snapshot_applied_timestamp_seconds',
      help: 'When the applied snapshot was swapped in.',
      registers,
    }),
    snapshotApplies: new Counter({
      name: 'gatehouse_snapshot_applies_total',
      help: 'Snapshots compiled and swapped in.',
      registers,
    }),
    snapshotRejections: new Counter({
      name: 'gatehouse_snapshot_rejections_total',
      help: 'Snapshots rejected whole (the previous one kept serving).',
      registers,
    }),
    decisions: new Counter({
      name: 'gatehouse_policy_decisions_total',
      help: 'Requests refused or failed, by problem code.',
      labelNames: ['code'],
      registers,
    }),
    policyCounters: new Map(),
    upstreamSockets: new Gauge({
      name: 'gatehouse_upstream_sockets',
      help: 'Upstream keep-alive sockets: in use (active), idle (free), and requests queued for one (queued).',
      labelNames: ['state'],
      registers,
    }),
    upstreamErrors: new Counter({
      name: 'gatehouse_upstream_errors_total',
      help: 'Upstream failures by problem code.',
      labelNames: ['api', 'version', 'code'],
      registers,
    }),
    upstreamRetries: new Counter({
      name: 'gatehouse_upstream_retries_total',
      help: 'Requests sent to the upstream again after a retryable failure, by reason (status or error).',
      labelNames: ['api', 'version', 'reason'],
      registers,
    }),
    circuitState: new Gauge({
      name: 'gatehouse_circuit_state',
      help: 'Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open.',
      labelNames: ['upstream'],
      registers,
    }),
    circuitTransitions: new Counter({
      name: 'gatehouse_circuit_transitions_total',
      help: 'Circuit breaker state changes per upstream, by the state entered.',
      labelNames: ['upstream', 'state'],
      registers,
    }),
  };
}

/** The counters policies use, registered on this gateway's registry under `gatehouse_<name>`. */
export function policyMetrics(metrics: GatewayMetrics): { counter(name: string, help: string, labelNames: readonly string[]): (labels: Record<string, string>) => void } {
  return {
    counter(name, help, labelNames) {
      const full = `gatehouse_${name}`;
      let counter = metrics.policyCounters.get(full);
      if (counter === undefined) {
        counter = new Counter({ name: full, help, labelNames: [...labelNames], registers: [metrics.registry] });
        metrics.policyCounters.set(full, counter);
      }
      const found = counter;
      return (labels) => found.inc(labels);
    },
  };
}

/** Reports an agent's sockets through `gatehouse_upstream_sockets` whenever metrics are read. */
export function watchAgent(metrics: GatewayMetrics, agent: Agent): void {
  const count = (pools: NodeJS.ReadOnlyDict<unknown[]>): number => Object.values(pools).reduce((n, list) => n + (list?.length ?? 0), 0);
  const gauge = metrics.upstreamSockets;
  (gauge as unknown as { collect: () => void }).collect = () => {
    gauge.set({ state: 'active' }, count(agent.sockets));
    gauge.set({ state: 'free' }, count(agent.freeSockets));
    gauge.set({ state: 'queued' }, count(agent.requests));
  };
}

/**
 * A metric whose one value its owner keeps and this reads at scrape time (the access spool's
 * depth, the shipper's counts): nothing is recorded on the request path.
 */
class ScrapeTimeMetric {
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'gauge' | 'counter',
    public read: () => number,
  ) {}

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string>; value: number }> } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [{ labels: {}, value: this.read() }] };
  }
}

/**
 * Registers `gatehouse_<name>`, read from `read` whenever metrics are scraped. Registering a name
 * again points it at the new reader (a spool re-created in the same process replaces the old one).
 *
 * @example
 * readAtScrape(metrics, 'access_spool_records', 'Access records waiting to be shipped.', 'gauge', () => spool.depth().records);
 */
export function readAtScrape(metrics: GatewayMetrics, name: string, help: string, type: 'gauge' | 'counter', read: () => number): void {
  const full = `gatehouse_${name}`;
  const existing = metrics.registry.getSingleMetric(full);
  if (existing instanceof ScrapeTimeMetric) {
    existing.read = read;
    return;
  }
  metrics.registry.registerMetric(new ScrapeTimeMetric(full, help, type, read) as never);
}

/** One labelled series of a histogram: cumulative counts are computed at scrape time. */
interface HistogramSeries {
  readonly labels: Record<string, string>;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A histogram family that records into plain typed arrays. prom-client's own `observe` hashes
 * the label set and allocates on every call (~2 µs per request for our three series); this
 * records in ~0.1 µs and renders through prom-client's registry like any other metric.
 */
export class FastHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series: HistogramSeries[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  /** A series for fixed label values; resolve once, observe many times. */
  series(labels: Record<string, string>): (value: number) => void {
    const entry: HistogramSeries = { labels, counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 };
    this.#series.push(entry);
    const { buckets } = this;
    return function observe(value: number): void {
      let i = 0;
      while (i < buckets.length && value > buckets[i]!) i++;
      entry.counts[i]! += 1;
      entry.sum += value;
      entry.count += 1;
    };
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> } {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const entry of this.#series) {
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += entry.counts[i]!;
        values.push({ labels: { le: this.buckets[i]!, ...entry.labels }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { le: '+Inf', ...entry.labels }, value: entry.count, metricName: `${this.name}_bucket` });
      values.push({ labels: entry.labels, value: entry.sum, metricName: `${this.name}_sum` });
      values.push({ labels: entry.labels, value: entry.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** A counter family with the same record-cheaply, render-at-scrape design. */
export class FastCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly #series: Array<{ labels: Record<string, string>; value: number }> = [];

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  series(labels: Record<string, string>): () => void {
    const entry = { labels, value: 0 };
    this.#series.push(entry);
    return function inc(): void {
      entry.value += 1;
    };
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string>; value: number }> } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.#series.map((e) => ({ labels: e.labels, value: e.value })) };
  }
}

/** Per-route recorders, resolved once per snapshot; recording a request allocates nothing. */
export interface RouteMetrics {
  observe(status: number, seconds: number, upstreamSeconds: number | undefined): void;
}

/** Route recorders are cached per api/version across snapshots, so series never duplicate. */
export function createRouteMetrics(metrics: GatewayMetrics, api: string, version: string): RouteMetrics {
  const key = `${api}\u0000${version}`;
  const cached = metrics.routes.get(key);
  if (cached !== undefined) return cached;
  const labels = { api, version };
  const duration = metrics.duration.series(labels);
  const upstream = metrics.upstreamDuration.series(labels);
  const byStatus = new Map<number, () => void>();
  const route: RouteMetrics = {
    observe(status, seconds, upstreamSeconds) {
      let inc = byStatus.get(status);
      if (inc === undefined) {
        inc = metrics.requests.series({ api, version, status: String(status) });
        byStatus.set(status, inc);
      }
      inc();
      duration(seconds);
      if (upstreamSeconds !== undefined) upstream(upstreamSeconds);
    },
  };
  metrics.routes.set(key, route);
  return route;
}

const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/**
 * Counts a request for its consumer (anonymous requests as `_none`): two map lookups and an
 * array index per request once the series exists, nothing allocated.
 *
 * @example
 * observeConsumer(metrics, 'erp-sales', ctx.consumer?.id, res.statusCode);
 */
export function observeConsumer(metrics: GatewayMetrics, api: string, consumer: string | undefined, status: number): void {
  const statusClass = Math.min(5, Math.max(0, Math.floor(status / 100)));
  let name = consumer ?? '_none';
  if (!metrics.consumersSeen.has(name)) {
    if (metrics.consumersSeen.size >= MAX_CONSUMER_SERIES) name = '_other';
    else metrics.consumersSeen.add(name);
  }
  let byConsumer = metrics.consumerSeries.get(api);
  if (byConsumer === undefined) metrics.consumerSeries.set(api, (byConsumer = new Map()));
  let byClass = byConsumer.get(name);
  if (byClass === undefined) byConsumer.set(name, (byClass = []));
  let inc = byClass[statusClass];
  if (inc === undefined) byClass[statusClass] = inc = metrics.consumerRequests.series({ api, consumer: name, status_class: STATUS_CLASSES[statusClass]! });
  inc();
}
