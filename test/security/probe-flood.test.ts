import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createProbeServer } from '../../src/cli/probes.js';
import { PluginGateway } from '../../src/index.js';
import type { DiscoveryRegistry } from '../../src/registry/registry.js';

/**
 * Each `/readyz` started its own registry listing and left it pending when the probe's one-second
 * deadline passed: against a registry that stopped answering, anyone who reaches the probe port (it
 * listens on 0.0.0.0 by default) piled up one listing per request. Probes that arrive while a listing
 * is in flight share it.
 */
let listings = 0;
const hanging = {
  list: () => {
    listings++;
    return new Promise<never>(() => {});
  },
} as unknown as DiscoveryRegistry;

const gateway = new PluginGateway({ logger: false });
const server = createProbeServer(gateway, hanging, { started: true, draining: false });
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await gateway.stop();
});

describe('readiness probes against a registry that does not answer', () => {
  it('fifty probes at once: each 503 with the bare reason registry, one listing asked of it', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
    const answers = await Promise.all(Array.from({ length: 50 }, () => fetch(url)));
    for (const res of answers) {
      expect(res.status).toBe(503);
      expect(((await res.json()) as { reasons: string[] }).reasons).toContain('registry');
    }
    expect(listings).toBe(1);
  }, 30_000);
});
