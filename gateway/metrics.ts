/**
 * @module Gateway metrics on a registry of its own (never prom-client's global one, so two
 * gateways in one process — tests — do not collide). Label values come only from the
 * snapshot (api slug, version) and status codes, so cardinality stays bounded.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const UNMATCHED = '_unmatched';

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'api' | 'version' | 'status'>;
  readonly duration: Histogram<'api' | 'version'>;
  readonly upstreamDuration: Histogram<'api' | 'version'>;
  readonly snapshotInfo: Gauge<'hash'>;
  readonly snapshotAppliedAt: Gauge;
  readonly snapshotApplies: Counter;
  readonly snapshotRejections: Counter;
  readonly upstreamErrors: Counter<'api' | 'version' | 'code'>;
}

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
  return {
    registry,
    requests: new Counter({
      name: 'gatehouse_requests_total',
      help: 'Requests answered, by API, version and status code.',
      labelNames: ['api', 'version', 'status'],
      registers,
    }),
    duration: new Histogram({
      name: 'gatehouse_request_duration_seconds',
      help: 'Time from receipt to the end of the answer.',
      labelNames: ['api', 'version'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'gatehouse_upstream_duration_seconds',
      help: 'Time from forwarding to the upstream response headers.',
      labelNames: ['api', 'version'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
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
    upstreamErrors: new Counter({
      name: 'gatehouse_upstream_errors_total',
      help: 'Upstream failures by problem code.',
      labelNames: ['api', 'version', 'code'],
      registers,
    }),
  };
}

/** Per-route metric children, resolved once per snapshot instead of hashing labels per request. */
export interface RouteMetrics {
  observe(status: number, seconds: number, upstreamSeconds: number | undefined): void;
}

export function createRouteMetrics(metrics: GatewayMetrics, api: string, version: string): RouteMetrics {
  const duration = metrics.duration.labels(api, version);
  const upstream = metrics.upstreamDuration.labels(api, version);
  const byStatus = new Map<number, ReturnType<GatewayMetrics['requests']['labels']>>();
  return {
    observe(status, seconds, upstreamSeconds) {
      let counter = byStatus.get(status);
      if (counter === undefined) {
        counter = metrics.requests.labels(api, version, String(status));
        byStatus.set(status, counter);
      }
      counter.inc();
      duration.observe(seconds);
      if (upstreamSeconds !== undefined) upstream.observe(upstreamSeconds);
    },
  };
}
