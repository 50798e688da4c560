// Issue 23, class D: whatever a registry watch reports — any JSON, a member's sealed record with one
// field changed — a gateway with the fleet secret never throws, and routes only records a member sealed.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { openRecord, sealRecord } from '../../src/fleet/instance-record.js';
import type {
  DiscoveryRegistry,
  InstanceRecord,
  RegistryChange,
} from '../../src/registry/registry.js';
import { fuzzSettings } from './fuzz-settings.js';

const SECRET = 'fuzz-fleet-secret-0123456789';

const VALID: InstanceRecord = {
  id: 'remote@1.0.0#gw-2.0',
  service: 'remote',
  version: '1.0.0',
  nodeId: 'gw-2',
  address: 'http://127.0.0.1:9',
  endpoints: [
    { method: 'GET', path: '/remote/{id}', auth: 'none', roles: [], rate_limit: '5/min' },
  ],
  status: 'active',
  metadata: { team: 'a' },
};
const SEALED = sealRecord(VALID, SECRET, 'default');

/** A registry whose watch the test drives: what etcd or Consul would report, written by anyone. */
class ScriptedRegistry implements DiscoveryRegistry {
  listener: ((change: RegistryChange) => void) | undefined;
  async register() {}
  async deregister() {}
  async list() {
    return [];
  }
  watch(listener: (change: RegistryChange) => void) {
    this.listener = listener;
    return () => {};
  }
  async publish() {}
  async unpublish() {}
  async catalog() {
    return [];
  }
  watchCatalog() {
    return () => {};
  }
  async close() {}
}

/** The sealed record with one field (at any depth) replaced by anything, or removed. */
const mutated = fc
  .tuple(
    fc.constantFrom(
      'id',
      'service',
      'version',
      'nodeId',
      'address',
      'endpoints',
      'endpoints.0',
      'endpoints.0.path',
      'endpoints.0.rate_limit',
      'endpoints.0.method',
      'status',
      'metadata',
      'seal',
    ),
    fc.option(fc.anything(), { nil: undefined }),
  )
  .map(([field, value]) => {
    const copy = structuredClone(SEALED) as unknown as Record<string, unknown>;
    const parts = field.split('.');
    let holder = copy as Record<string, unknown>;
    for (const p of parts.slice(0, -1)) holder = holder[p] as Record<string, unknown>;
    holder[parts.at(-1)!] = value;
    return copy as unknown;
  });

const value = fc.oneof(
  { weight: 4, arbitrary: mutated },
  fc.constant(SEALED as unknown),
  fc.constant(VALID as unknown),
  fc.jsonValue(),
  fc.anything(),
);

describe('registry records as anyone with write access to the store writes them', () => {
  let gateway: PluginGateway;
  const registry = new ScriptedRegistry();
  beforeAll(async () => {
    gateway = new PluginGateway({
      logger: false,
      registry,
      node: { id: 'gw-1', address: 'http://127.0.0.1:8', secret: SECRET },
    });
    await gateway.start();
  });
  afterAll(() => gateway?.stop());

  it('openRecord accepts exactly what a member sealed, and never throws', () => {
    fc.assert(
      fc.property(value, (v) => {
        const opened = openRecord(v, SECRET, 'default');
        const same = JSON.stringify(v) === JSON.stringify(SEALED);
        expect('record' in opened).toBe(same);
        expect(openRecord(v, SECRET, 'staging')).toHaveProperty('refused');
      }),
      fuzzSettings('registry records: openRecord', 2000),
    );
  });

  it('a gateway fed those records through its registry watch never throws and never routes a forgery', async () => {
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        registry.listener!({ type: 'put', instance: v as InstanceRecord });
        const routed = (await gateway.handle({ method: 'GET', path: '/remote/1' })).statusCode;
        const same = JSON.stringify(v) === JSON.stringify(SEALED);
        // The sealed record routes (its owner is unreachable here: 503); nothing else does.
        if (same) expect(routed).not.toBe(404);
        else expect(routed).toBe(404);
        registry.listener!({ type: 'delete', id: VALID.id, service: 'remote' });
        registry.listener!({ type: 'delete', id: v as string, service: v as string });
      }),
      fuzzSettings('registry records: through the watch', 400),
    );
  });
});
