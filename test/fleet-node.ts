import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PluginGateway, type DiscoveryRegistry, type GatewayOptions } from '../src/index.js';
import { createRequestListener, createUpgradeListener } from '../src/adapters/node.js';
import { sealRecord } from '../src/fleet/instance-record.js';
import { freePort } from './services/common.js';

/** A gateway of a fleet, serving on a free loopback port through the `./node` listener. */
export interface FleetNode {
  gateway: PluginGateway;
  server: http.Server;
  address: string;
  close(): Promise<void>;
}

export async function startNode(
  id: string,
  options: Omit<GatewayOptions, 'node'> & {
    secret?: string;
    prefix?: string;
    openTimeout?: string;
    /** Serve upgrades too: forwarded WebSockets and peer channels (version 2). */
    upgrades?: boolean;
  } = {},
): Promise<FleetNode> {
  const { secret, prefix = '', openTimeout, upgrades, ...rest } = options;
  const port = await freePort();
  const address = `http://127.0.0.1:${port}${prefix}`;
  const gateway = new PluginGateway({
    logger: false,
    ...rest,
    node: {
      id,
      address,
      ...(secret ? { secret } : { insecure: 'private-network' }),
      ...(openTimeout !== undefined ? { openTimeout } : {}),
    },
  });
  const server = http.createServer(createRequestListener(gateway, { prefix }));
  if (upgrades) server.on('upgrade', createUpgradeListener(gateway, { prefix }));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await gateway.start();
  return {
    gateway,
    server,
    address,
    close: async () => {
      await gateway.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export function portOf(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}

/**
 * Registers `address` as an owner of `profiles@1.2.0` (`GET /profiles/{id}`), sealed with `secret`:
 * a fleet member that was compromised holds the secret, so what it registers passes every check.
 */
export async function registerCompromisedOwner(
  registry: DiscoveryRegistry,
  address: string,
  secret: string,
  ids: { id: string; nodeId: string },
): Promise<void> {
  await registry.register(
    sealRecord(
      {
        ...ids,
        service: 'profiles',
        version: '1.2.0',
        address,
        endpoints: [{ method: 'GET', path: '/profiles/{id}', auth: 'none', roles: [] }],
        status: 'active',
        metadata: {},
      },
      secret,
      'default',
    ),
  );
}
