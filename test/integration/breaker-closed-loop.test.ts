import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

describe('circuit breaker in a closed loop of in-process callers', () => {
  it('recovers although fail-fast answers never yield to the event loop', async () => {
    gateway = await gatewayWith(['flaky'], {
      circuitBreaker: { failureThreshold: 2, timeout: '200ms', halfOpenLimit: 1 },
    });
    const g = gateway;
    for (let i = 0; i < 2; i++) await g.handle({ method: 'GET', path: '/flaky/work?status=500' });
    expect(g.metrics('flaky').instances[0]?.breaker).toBe('open');
    const counts = { ok: 0, open: 0, other: 0 };
    // Each caller stops after its first 200 or after many refusals (bounded by count, not time).
    const caller = async () => {
      for (let n = 0; n < 2_000_000; n++) {
        const res = await g.handle({ method: 'GET', path: '/flaky/work' });
        if (res.statusCode === 200) {
          counts.ok++;
          return;
        }
        if (res.statusCode === 503) counts.open++;
        else counts.other++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, caller));
    expect(counts.other).toBe(0);
    expect(counts.ok).toBe(8);
    expect(g.metrics('flaky').instances[0]?.breaker).toBe('closed');
  }, 60_000);
});
