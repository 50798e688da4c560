import { register, Registry } from 'prom-client';
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
    // The instance's position, not its id (node id and sequence): the same series after a restart.
    expect(text).toContain('plugin_gateway_breaker_state{plugin="steady",instance="0"} 0');
    expect(text).not.toMatch(/instance="[^"]*#/);
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

  it("registers in prom-client's default register unless given one", async () => {
    gateway = await gatewayWith(['steady']);
    const defaults = prometheusMetrics(gateway);
    expect(defaults.registry).toBe(register);
    expect(register.getSingleMetric('plugin_gateway_requests_total')).toBeDefined();
    defaults.dispose();
    expect(register.getSingleMetric('plugin_gateway_requests_total')).toBeUndefined();
    const own = new Registry();
    const given = prometheusMetrics(gateway, { registry: own });
    expect(given.registry).toBe(own);
    expect(register.getSingleMetric('plugin_gateway_requests_total')).toBeUndefined();
    given.dispose();
  });

  it('reads CPU as a percent of one core: a thread busy since the last scrape is near 100, not near 1', async () => {
    gateway = await gatewayWith(['moody']);
    const { registry, dispose } = prometheusMetrics(gateway, { registry: new Registry() });
    await registry.metrics();
    expect((await get(gateway, '/moody/block')).statusCode).toBe(200);
    const text = await registry.metrics();
    const cpu = Number(
      /plugin_gateway_plugin_cpu_usage_percent\{plugin="moody"\} (\S+)/.exec(text)?.[1],
    );
    expect(cpu).toBeGreaterThan(10);
    expect(cpu).toBeLessThanOrEqual(100);
    expect(text).toMatch(/# HELP plugin_gateway_plugin_cpu_usage_percent .*0-100 percent/);
    dispose();
  });
});
