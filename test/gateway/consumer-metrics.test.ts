/**
 * @module Per-consumer request counters stay bounded: the first MAX_CONSUMER_SERIES consumers
 * get a label each, the rest count as `_other`; anonymous requests as `_none`, through a real
 * gateway's /metrics.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createGatewayMetrics, MAX_CONSUMER_SERIES, observeConsumer } from '../../gateway/metrics.js';
import { buildSnapshot, startTestGateway } from '../support/gateway-harness.js';

describe('per-consumer request metrics', () => {
  it('name the first consumers, fold the rest into _other, by status class', async () => {
    const metrics = createGatewayMetrics();
    for (let i = 0; i < MAX_CONSUMER_SERIES + 20; i++) observeConsumer(metrics, 'erp-sales', `consumer-${i}`, 200);
    observeConsumer(metrics, 'erp-sales', 'consumer-0', 404);
    observeConsumer(metrics, 'erp-sales', 'consumer-0', 503);
    const text = await metrics.registry.metrics();
    const series = text.split('\n').filter((line) => line.startsWith('gatehouse_consumer_requests_total{'));
    assert.equal(series.length, MAX_CONSUMER_SERIES + 1 + 2);
    assert.ok(series.includes('gatehouse_consumer_requests_total{api="erp-sales",consumer="_other",status_class="2xx"} 20'));
    assert.ok(series.includes('gatehouse_consumer_requests_total{api="erp-sales",consumer="consumer-0",status_class="4xx"} 1'));
    assert.ok(series.includes('gatehouse_consumer_requests_total{api="erp-sales",consumer="consumer-0",status_class="5xx"} 1'));
  });

  it('count anonymous requests as _none on /metrics', async () => {
    const gw = await startTestGateway({ snapshot: buildSnapshot({ apis: [] }) });
    try {
      await (await fetch(`${gw.url}/nowhere/v1/x`)).body?.cancel();
      const text = await (await fetch(`${gw.statusUrl}/metrics`)).text();
      assert.match(text, /gatehouse_consumer_requests_total\{api="_unmatched",consumer="_none",status_class="4xx"\} 1\n/);
    } finally {
      await gw.close();
    }
  });
});
