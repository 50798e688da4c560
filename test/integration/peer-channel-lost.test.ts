// A peer channel lost before a call leaves is not used for it: the call goes as version 1, even a POST.
// A channel whose socket is destroyed is no longer handed out (its 'close' event comes a turn later),
// and a call lost after it was handed to the socket fails unreachable, never sent twice.
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRegistry } from '../../src/index.js';
import { ChannelLostError, PeerChannels } from '../../src/fleet/peer-channel-client.js';
import { PeerClient, RemoteRuntime } from '../../src/fleet/peer-client.js';
import { PEER_PATH } from '../../src/fleet/peer-protocol.js';
import type { TaskInput } from '../../src/loader/runtime.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { closeServer, fixture } from '../helpers.js';
import { until } from '../registry/contract.js';

const SECRET = 'fleet-secret-0123456789';
let nodes: FleetNode[] = [];
let closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers) await close();
  closers = [];
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

/** An owner of profiles offering channels; counts the version 1 calls that reach its server. */
async function owner() {
  const node = await startNode('gw-owner', {
    registry: new MemoryRegistry(),
    secret: SECRET,
    upgrades: true,
  });
  nodes.push(node);
  await node.gateway.load(fixture('profiles'), { config: { node: 'owner' } });
  const seen = { peerRequests: 0, channelBytes: 0 };
  node.server.prependListener('request', (req: IncomingMessage) => {
    if (req.url === PEER_PATH) seen.peerRequests++;
  });
  node.server.prependListener('upgrade', (_req: IncomingMessage, socket: Socket) =>
    socket.on('data', (chunk: Buffer) => (seen.channelBytes += chunk.length)),
  );
  return { node, seen };
}

const target = (node: FleetNode) => ({ origin: node.address, basePath: '', nodeId: 'gw-owner' });

const task = (method: 'GET' | 'POST', path: string, body?: unknown): TaskInput => ({
  t: 'req',
  k: method === 'POST' ? 'POST /profiles' : `GET ${path.replace(/\d+$/, '{id}')}`,
  r: { id: `r-${path}`, method, path, headers: {}, params: {}, query: {}, body },
});

/** A remote runtime of the owner's profiles, its channel open. */
async function remoteWithChannel(node: FleetNode) {
  const client = new PeerClient('gw-entry', SECRET);
  closers.push(() => client.close());
  const remote = new RemoteRuntime(client, node.address, 'profiles', '1.2.0', 'i', 'gw-owner');
  let channel: ReturnType<PeerChannels['to']>;
  await until(async () => {
    await remote.run(task('GET', '/profiles/1'), 5000);
    return (channel = client.channels.to(target(node), 0)) !== undefined;
  }, 'the channel to open');
  return { client, remote, channel: channel! };
}

describe('a lost peer channel', () => {
  it('is not handed out once its socket is destroyed, before its close event', async () => {
    const { node } = await owner();
    const channels = new PeerChannels('gw-entry', SECRET, 1 << 20);
    closers.push(() => channels.close());
    expect(channels.to(target(node), 0)).toBeUndefined(); // opening
    let open: ReturnType<PeerChannels['to']>;
    await until(async () => (open = channels.to(target(node), 0)) !== undefined, 'the channel');
    open!.close(); // as the idle timer, a framing error or the owner's end does
    expect(open!.closed).toBe(true);
    expect(channels.to(target(node), 0)).toBeUndefined();
    // Asked of it all the same, a call is refused as never sent.
    const lost = await open!.call('{}', Date.now() + 5000).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(ChannelLostError);
    expect((lost as ChannelLostError).sent).toBe(false);
    // A new channel is opened in its place.
    await until(async () => channels.to(target(node), 0) !== undefined, 'a new channel');
  });

  it('before a call left: the call goes as version 1 and is answered (a POST included)', async () => {
    const { node, seen } = await owner();
    const { remote, channel } = await remoteWithChannel(node);
    // Another call in flight (a call alone on the channel is written at once, decision 0351).
    const slow = remote.run(task('GET', '/profiles-slow'), 5000);
    const bytes = seen.channelBytes;
    await until(async () => seen.channelBytes > bytes, 'the other call on the owner');
    const before = seen.peerRequests;
    // The call is made on the channel and waits for the end of this turn to be written: lost first.
    const answered = remote.run(task('POST', '/profiles', { name: 'Ada' }), 5000);
    channel.close();
    expect(await slow).toMatchObject({ __pgw: 'unreachable' });
    expect(await answered).toMatchObject({ statusCode: 201, body: { body: { name: 'Ada' } } });
    expect(seen.peerRequests).toBe(before + 1);
  });

  it('after a call left: the call fails unreachable and is not sent again', async () => {
    const { node, seen } = await owner();
    const { remote, channel } = await remoteWithChannel(node);
    const before = { ...seen };
    // Never answered by the plugin: the call is on the owner when its channel is lost.
    const answered = remote.run(task('GET', '/profiles-slow'), 5000);
    await until(async () => seen.channelBytes > before.channelBytes, 'the call on the owner');
    channel.close();
    expect(await answered).toMatchObject({ __pgw: 'unreachable' });
    expect(seen.peerRequests).toBe(before.peerRequests);
  });

  it('past 1,024 peers remembered, refusals are forgotten: a refused peer is asked again', async () => {
    // A server without channels: it answers every upgrade 404 and closes.
    let asked = 0;
    let answered = 0;
    const refusing = http.createServer((_req, res) => {
      asked++;
      res.writeHead(404, { connection: 'close' }).end();
    });
    refusing.on('connection', (socket) => socket.on('close', () => answered++));
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    closers.push(() => closeServer(refusing));
    const origin = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`;
    const peer = (i: number) => ({ origin, basePath: '', nodeId: `gw-${i}` });
    const channels = new PeerChannels('gw-entry', SECRET, 1 << 20);
    closers.push(() => channels.close());
    // Refused (its connection closed once the refusal was read): on version 1 for a minute.
    channels.to(peer(0), 0);
    await until(async () => answered === 1, 'the refusal');
    channels.to(peer(0), 0);
    expect(asked).toBe(1);
    // 1,023 more peers, 1,024 remembered: peer 0 is still not asked again.
    for (let i = 1; i < 1024; i++) channels.to(peer(i), 0);
    await until(async () => answered === 1024, 'the refusals');
    channels.to(peer(0), 0);
    expect(asked).toBe(1024);
    // The 1,025th forgets the refusals: peer 0 is asked again.
    channels.to(peer(1024), 0);
    channels.to(peer(0), 0);
    await until(async () => asked === 1026, 'peer 0 asked again');
  }, 60_000);
});
