import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createProbeServer } from '../../src/cli/probes.js';
import { PluginGateway } from '../../src/index.js';
import type { DiscoveryRegistry } from '../../src/registry/registry.js';
import { TestLogger } from '../../src/testing/test-logger.js';
import { fixture } from '../helpers.js';
import { until } from '../swap-helpers.js';

/**
 * `/readyz` is unauthenticated and listens on 0.0.0.0 by default. Its reasons carried the registry's
 * error text (hosts, paths, users) and the names of the plugins still booting to anyone who asked; a
 * prober now learns the kind of each reason, the operator's log has the details.
 */
const REGISTRY_ERROR =
  'connect ECONNREFUSED etcd-prod-7.internal.example:2379 as user gateway-admin';
const failing = {
  list: () => Promise.reject(new Error(REGISTRY_ERROR)),
} as unknown as DiscoveryRegistry;

const logger = new TestLogger();
const gateway = new PluginGateway({ logger: false, warm: true });
const server = createProbeServer(gateway, failing, { started: true, draining: false }, logger);
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await gateway.stop();
});

describe('/readyz tells a stranger the kind of reason only', () => {
  it('no registry error text and no plugin name in the answer; both in the log, once', async () => {
    await gateway.load(fixture('slow-init'));
    const starting = gateway.start().catch(() => undefined);
    await until(() => gateway.get('slow-init')?.status === 'loading', 'slow-init to be booting');
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
    for (let i = 0; i < 3; i++) {
      const res = await fetch(url);
      expect(res.status).toBe(503);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ status: 'not-ready', reasons: ['booting', 'registry'] });
      expect(text).not.toContain('slow-init');
      expect(text).not.toContain('etcd-prod');
    }
    const logged = logger.lines.filter((line) => line.msg === 'not ready');
    expect(logged).toHaveLength(1);
    expect(logged[0]!['reasons']).toEqual(['booting: slow-init', `registry: ${REGISTRY_ERROR}`]);
    await gateway.stop();
    await starting;
  }, 30_000);
});
