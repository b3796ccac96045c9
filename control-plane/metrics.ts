/**
 * @module Control-plane metrics on a registry of its own (prom-client; never the global one, so
 * two control planes in one process — tests — do not collide), served at `/metrics`: access
 * records ingested from the gateways, notification deliveries by outcome and the outbox depth,
 * snapshot publications. Labels come from fixed sets only.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from './store/db.js';

export interface ControlPlaneMetrics {
  readonly registry: Registry;
  readonly accessBatches: Counter<'outcome'>;
  readonly accessRecords: Counter;
  readonly notificationAttempts: Counter<'channel' | 'outcome'>;
  readonly notificationsDead: Counter<'channel'>;
}

/**
 * @param options.store when given, the outbox depth (pending / failed notifications) is read from it at scrape time
 * @example
 * const metrics = createControlPlaneMetrics({ store, defaultMetrics: true });
 * app.get('/metrics', async (_req, res) => res.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
 */
export function createControlPlaneMetrics(options: { store?: Store; defaultMetrics?: boolean } = {}): ControlPlaneMetrics {
  const registry = new Registry();
  if (options.defaultMetrics === true) collectDefaultMetrics({ register: registry, prefix: 'gatehouse_control_plane_' });
  const accessBatches = new Counter({ name: 'gatehouse_access_batches_received_total', help: 'Access-record batches received from gateway nodes, by outcome (stored, duplicate).', labelNames: ['outcome'] as const, registers: [registry] });
  const accessRecords = new Counter({ name: 'gatehouse_access_records_ingested_total', help: 'Access records stored from gateway nodes.', registers: [registry] });
  const notificationAttempts = new Counter({ name: 'gatehouse_notification_attempts_total', help: 'Notification delivery attempts by channel and outcome (delivered, failed).', labelNames: ['channel', 'outcome'] as const, registers: [registry] });
  const notificationsDead = new Counter({ name: 'gatehouse_notifications_undeliverable_total', help: 'Notifications given up on after the retry period, by channel.', labelNames: ['channel'] as const, registers: [registry] });
  const store = options.store;
  if (store !== undefined) {
    new Gauge({
      name: 'gatehouse_notifications_outbox',
      help: 'Notifications in the outbox by status (pending: waiting or retrying; failed: given up).',
      labelNames: ['status'] as const,
      registers: [registry],
      async collect() {
        const rows = await store.db.selectFrom('notifications').select((eb) => ['status', eb.fn.countAll<string | number>().as('n')]).where('status', 'in', ['pending', 'failed']).groupBy('status').execute();
        this.reset();
        for (const status of ['pending', 'failed']) this.set({ status }, Number(rows.find((r) => r.status === status)?.n ?? 0));
      },
    });
  }
  return { registry, accessBatches, accessRecords, notificationAttempts, notificationsDead };
}
