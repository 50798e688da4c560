/**
 * Two gateways of one fleet on loopback (one memory registry, real HTTP and WebSockets between them):
 * an owner that runs the plugin and a caller that forwards to it. Each serves through the `./node`
 * request and upgrade listeners.
 */
import type { Socket } from 'node:net';
import { createUpgradeListener } from '../src/adapters/node.js';
import { MemoryRegistry, type GatewayOptions } from '../src/index.js';
import { startNode, type FleetNode } from './fleet-node.js';
import { until } from './registry/contract.js';

export const FLEET_SECRET = 'fleet-edges-secret-0123456789';

export interface SocketFleet {
  owner: FleetNode;
  caller: FleetNode;
  /** `host:port` of each, for `connect()`. */
  ownerUrl: string;
  callerUrl: string;
  /** Every socket the owner's server accepted, upgraded ones included. */
  ownerSockets: Set<Socket>;
  close(): Promise<void>;
}

/**
 * Starts the owner with `load` (plugin folders), then the caller, and waits until the caller lists
 * `plugin`'s instance on the owner.
 */
export async function socketFleet(
  plugin: string,
  load: (owner: FleetNode) => Promise<unknown>,
  options: { owner?: Omit<GatewayOptions, 'node'>; caller?: Omit<GatewayOptions, 'node'> } = {},
): Promise<SocketFleet> {
  const registry = new MemoryRegistry();
  const started: FleetNode[] = [];
  const ownerSockets = new Set<Socket>();
  const node = async (id: string, extra: Omit<GatewayOptions, 'node'> = {}) => {
    const n = await startNode(id, { registry, secret: FLEET_SECRET, ...extra });
    n.server.on('upgrade', createUpgradeListener(n.gateway));
    started.push(n);
    return n;
  };
  const owner = await node('gw-owner', options.owner);
  owner.server.on('connection', (socket: Socket) => ownerSockets.add(socket));
  await load(owner);
  const caller = await node('gw-caller', options.caller);
  await until(() => {
    try {
      return caller.gateway.metrics(plugin).instances?.length === 1;
    } catch {
      return false;
    }
  }, 'the caller to see the owner');
  const host = (n: FleetNode) => n.address.replace('http://', '');
  return {
    owner,
    caller,
    ownerUrl: host(owner),
    callerUrl: host(caller),
    ownerSockets,
    close: async () => {
      await Promise.all(started.map((n) => n.close()));
    },
  };
}
