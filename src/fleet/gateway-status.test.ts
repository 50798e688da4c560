import { describe, expect, it } from 'vitest';
import { MemoryRegistry } from '../registry/memory.js';
import type { GatewayStatusRecord } from '../registry/registry.js';
import { TestLogger } from '../testing/test-logger.js';
import { GatewayStatusReporter, openGatewayStatus, sealGatewayStatus } from './gateway-status.js';

const secret = 'a-fleet-secret-of-sixteen+';
const record: GatewayStatusRecord = {
  nodeId: 'gw-1',
  environment: 'prod',
  watch: 'staging',
  updatedAt: '2026-12-05T00:00:00.000Z',
  plugins: [{ name: 'recs', version: '1.0.0', status: 'failed', reason: 'boom' }],
  refusals: [{ name: 'recs', version: '2.0.0', hash: 'sha256-x', reason: 'not signed', at: 'now' }],
};

describe('gateway status records', () => {
  it('a record sealed with the fleet secret opens; any field changed after sealing does not', () => {
    const sealed = sealGatewayStatus(record, secret);
    expect(openGatewayStatus(sealed, secret)).toEqual({ record: sealed });
    for (const forged of [
      { ...sealed, watch: 'prod' },
      { ...sealed, nodeId: 'gw-2' },
      { ...sealed, plugins: [{ ...record.plugins[0]!, status: 'active' }] },
      { ...sealed, refusals: [] },
    ]) {
      expect(openGatewayStatus(forged, secret)).toMatchObject({
        refused: 'its seal does not verify with the fleet secret',
      });
    }
    expect(
      openGatewayStatus(sealGatewayStatus(record, 'another-secret-16+'), secret),
    ).toMatchObject({
      refused: 'its seal does not verify with the fleet secret',
      nodeId: 'gw-1',
    });
    expect(openGatewayStatus(record, secret)).toMatchObject({
      refused: 'it is not sealed with the fleet secret',
    });
  });

  it('refuses values out of shape, whatever their seal', () => {
    for (const value of [
      null,
      'text',
      { ...record, nodeId: '../x' },
      { ...record, extra: 1 },
      { ...record, refusals: Array.from({ length: 51 }, () => record.refusals[0]) },
      { ...record, plugins: [{ ...record.plugins[0]!, reason: 'x'.repeat(1001) }] },
    ]) {
      expect(openGatewayStatus(value, undefined)).toHaveProperty('refused');
    }
  });

  it('the reporter keeps the record in the registry, bounded, and withdraws it on close', async () => {
    const registry = new MemoryRegistry();
    const plugins = [{ name: 'recs', version: '1.0.0', status: 'active' as const }];
    const reporter = new GatewayStatusReporter({
      registry,
      nodeId: 'gw-1',
      secret,
      environment: 'default',
      watch: 'staging',
      log: new TestLogger(),
      plugins: () => plugins,
    });
    reporter.start();
    for (let i = 0; i < 60; i++) {
      reporter.refused({
        name: 'recs',
        version: `2.0.${i}`,
        hash: `sha256-${i}`,
        error: Object.assign(new Error(`refusal ${i}\n${'y'.repeat(2000)}`), { code: 'PGW_ERR_X' }),
      });
    }
    const read = async () => {
      for (;;) {
        const [value] = await registry.gateways();
        if ((value as GatewayStatusRecord | undefined)?.refusals.length) return value;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const opened = openGatewayStatus(await read(), secret);
    if (!('record' in opened)) throw new Error(opened.refused);
    expect(opened.record.plugins).toEqual(plugins);
    expect(opened.record.refusals).toHaveLength(50);
    expect(opened.record.refusals[0]!.version).toBe('2.0.10');
    expect(opened.record.refusals[49]!.reason).toMatch(/^PGW_ERR_X refusal 59/);
    expect(opened.record.refusals[49]!.reason).toHaveLength(1000);
    await reporter.close();
    expect(await registry.gateways()).toEqual([]);
    await registry.close();
  });
});
