// WebSockets forwarded between two real gateways of one fleet on a real etcd: the client connects to
// a gateway that does not run the plugin; the owner serves the connection, its topics and its count.
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createUpgradeListener } from '../../src/adapters/node.js';
import { EtcdRegistry } from '../../src/registry/etcd.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { fixture } from '../helpers.js';
import { connect, refusal } from '../live-clients.js';
import { haveBwrap, removeProcessPlugins, roomPlugin } from '../process-live-plugins.js';
import { until } from '../registry/contract.js';
import { serviceAvailable } from '../services/common.js';
import { EtcdServer } from '../services/etcd.js';
import { buildGoPlugin, goReason } from '../services/native-build.js';
import { usable } from '../services/toolchains.js';

const haveEtcd = serviceAvailable('etcd', 'apt-get install -y etcd-server');
const SECRET = 'fleet-live-socket-secret-0123456789';
const origin = 'https://app.example';

let etcd: EtcdServer;
let nodes: FleetNode[] = [];
/** Every socket a node's server accepted, upgraded ones included (`closeAllConnections()` skips those). */
const sockets = new WeakMap<FleetNode, Set<Socket>>();
let namespaces = 0;

async function node(id: string, namespace: string): Promise<FleetNode> {
  const registry = new EtcdRegistry({ endpoints: etcd.endpoint, namespace, ttl: '5s' });
  const n = await startNode(id, { registry, secret: SECRET });
  n.server.on('upgrade', createUpgradeListener(n.gateway));
  const held = new Set<Socket>();
  n.server.on('connection', (socket: Socket) => held.add(socket));
  sockets.set(n, held);
  nodes.push(n);
  return n;
}

async function fleet(dir = fixture('live-room')) {
  const namespace = `ws-${process.pid}-${++namespaces}`;
  const owner = await node('owner', namespace);
  const { name } = await owner.gateway.load(dir);
  const caller = await node('caller', namespace);
  const host = (n: FleetNode) => n.address.replace('http://', '');
  // metrics() of a plugin the caller has never seen throws until the registry names it.
  await until(() => {
    try {
      return caller.gateway.metrics(name).instances?.length === 1;
    } catch {
      return false;
    }
  }, 'the caller to see the owner');
  return { owner, caller, ownerUrl: host(owner), callerUrl: host(caller) };
}

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

describe.runIf(haveEtcd)('WebSockets forwarded across a fleet (two gateways, etcd)', () => {
  beforeAll(async () => {
    etcd = await EtcdServer.start();
  }, 20_000);
  afterAll(() => {
    etcd?.destroy();
    removeProcessPlugins();
  });

  it('carries messages both ways; a room is the owner’s: forwarded and local clients share it', async () => {
    const { owner, ownerUrl, callerUrl } = await fleet();
    const far = await connect(`${callerUrl}/rooms/r1`, { origin });
    expect(JSON.parse(await far.next())).toEqual({ joined: 'r1', user: null });
    const near = await connect(`${ownerUrl}/rooms/r1`, { origin });
    await near.next();
    // Counted where they are served: both on the owner.
    await expect.poll(() => owner.gateway.metrics('live-room').active_connections).toBe(2);
    far.ws.send('echo:hi');
    expect(await far.next()).toBe('echo:hi');
    far.ws.send('from far');
    expect(await near.next()).toBe('from far');
    near.ws.send('from near');
    expect(await far.next()).toBe('from near');
    far.ws.send(Buffer.alloc(100));
    expect(await near.next()).toBe('bytes:100');
    near.ws.close();
    far.ws.close(4001, 'leaving');
    expect(await far.closed).toEqual({ code: 4001, reason: 'leaving' });
    await expect.poll(() => owner.gateway.metrics('live-room').active_connections).toBe(0);
  });

  it('carries the plugin’s close code to the client, and the caller’s limits apply at its door', async () => {
    const { callerUrl } = await fleet();
    const bye = await connect(`${callerUrl}/rooms/r2`, { origin });
    await bye.next();
    bye.ws.send('bye');
    expect(await bye.closed).toEqual({ code: 4000, reason: 'bye' });
    // The origin allowlist and the message size, decided by the gateway the client reached.
    expect(
      (await refusal(`${callerUrl}/rooms/r2`, { origin: 'https://evil.example' })).status,
    ).toBe(403);
    const big = await connect(`${callerUrl}/rooms/r2`, { origin });
    await big.next();
    big.ws.send('x'.repeat(5000));
    expect((await big.closed).code).toBe(1009);
  });

  it('closes a forwarded client with 1001 when the owner unloads the plugin', async () => {
    const { owner, callerUrl } = await fleet();
    const a = await connect(`${callerUrl}/rooms/r3`, { origin });
    await a.next();
    await owner.gateway.unload('live-room');
    expect((await a.closed).code).toBe(1001);
  });

  it('closes a forwarded client with 1011 when the owner vanishes (no hang)', async () => {
    const { owner, callerUrl } = await fleet();
    const b = await connect(`${callerUrl}/rooms/r4`, { origin });
    await b.next();
    for (const socket of sockets.get(owner)!) socket.destroy(); // the owner's machine is gone
    expect((await b.closed).code).toBe(1011);
  });

  it.runIf(haveBwrap())(
    'forwards to a process plugin on the owner: its sandboxed process serves, a crash is 1011',
    async () => {
      const { owner, callerUrl } = await fleet(roomPlugin());
      expect(owner.gateway.get('procroom')).toMatchObject({ runtime: 'process', sandbox: 'bwrap' });
      const far = await connect(`${callerUrl}/room/r5`);
      expect(JSON.parse(await far.next())).toMatchObject({ joined: 'r5', version: '1.0.0' });
      far.ws.send('echo:across');
      expect(await far.next()).toBe('1.0.0:across');
      await expect.poll(() => owner.gateway.metrics('procroom').active_connections).toBe(1);
      far.ws.send('crash');
      expect((await far.closed).code).toBe(1011);
    },
  );

  it.runIf(haveBwrap() && usable('the forwarded Go WebSocket', goReason(), 'install Go 1.26'))(
    'forwards to a native Go plugin on the owner: its program serves the room across both doors',
    async () => {
      const plugin = buildGoPlugin(fixture('native/go-room'), 'go-room');
      try {
        const { owner, ownerUrl, callerUrl } = await fleet(plugin.dir);
        const far = await connect(`${callerUrl}/room/r6`);
        expect(JSON.parse(await far.next())).toMatchObject({ joined: 'r6', version: '1.0.0' });
        const near = await connect(`${ownerUrl}/room/r6`);
        await near.next();
        far.ws.send('echo:across');
        expect(await far.next()).toBe('1.0.0:across');
        far.ws.send('from far');
        expect(await near.next()).toBe('from far');
        await expect.poll(() => owner.gateway.metrics('go-room').active_connections).toBe(2);
        far.ws.send('bye');
        expect(await far.closed).toEqual({ code: 4000, reason: 'bye' });
        near.ws.close();
        await near.closed;
      } finally {
        plugin.dispose();
      }
    },
    300_000,
  );
});
