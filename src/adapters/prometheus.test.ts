import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../index.js';
import { gatewayWith, get } from '../../test/helpers.js';
import { prometheusMetrics } from './prometheus.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

describe('prometheusMetrics', () => {
  it('exposes requests, durations, failures and plugin figures in the exposition format', async () => {
    gateway = await gatewayWith(['steady', 'faulty', 'events']);
    const { registry, dispose } = prometheusMetrics(gateway);
    for (let i = 0; i < 3; i++) await get(gateway, `/steady/${i}`);
    await get(gateway, '/faulty/throw');
    await gateway.publish({ type: 'track.played', payload: { trackId: 1 } });
    const text = await registry.metrics();
    expect(text).toContain('plugin_gateway_requests_total{plugin="steady",status="200"} 3');
    expect(text).toContain('plugin_gateway_requests_total{plugin="faulty",status="500"} 1');
    expect(text).toContain('plugin_gateway_plugin_failures_total{plugin="faulty",kind="threw"} 1');
    expect(text).toContain('plugin_gateway_request_duration_seconds_count{plugin="steady"} 3');
    expect(text).toContain('plugin_gateway_plugin_status{plugin="steady",status="active"} 1');
    expect(text).toContain('plugin_gateway_plugin_threads{plugin="steady"} 1');
    expect(text).toMatch(/plugin_gateway_plugin_memory_usage_bytes\{plugin="steady"\} \d{6,}/);
    expect(text).toMatch(
      /plugin_gateway_breaker_state\{plugin="steady",instance="steady@2\.1\.0#[^"]+"\} 0/,
    );
    expect(text).toContain('# TYPE plugin_gateway_plugin_crashes_total counter');
    expect(text).toContain('plugin_gateway_plugin_crashes_total{plugin="steady"} 0');
    expect(text).toContain('# TYPE plugin_gateway_plugin_events_total counter');
    expect(text).toContain('plugin_gateway_plugin_events_total{plugin="steady"} 0');
    expect(text).toContain('plugin_gateway_plugin_events_total{plugin="events"} 1');
    // The old gauge names are gone.
    expect(text).not.toMatch(/plugin_gateway_plugin_(crashes|events)[{ ]/);
    dispose();
    expect(await registry.metrics()).toBe('\n');
  });
});
