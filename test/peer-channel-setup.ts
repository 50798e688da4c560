/**
 * A real owner gateway with the `profiles` fixture, and peer channels opened to it as a raw caller
 * does (test/integration/peer-channel-hop.test.ts, test/security/peer-channel*.test.ts): the upgrade
 * signed over an envelope, the frames tagged under the key bound to that signature.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, expect } from 'vitest';
import { MemoryRegistry } from '../src/index.js';
import { PEER_PATH, PEER_SIGNATURE_HEADER, peerHeaders } from '../src/fleet/peer-protocol.js';
import {
  CHANNEL_ANSWER,
  CHANNEL_OPEN_ENVELOPE,
  CHANNEL_PROTOCOL,
  FROM_CALLER,
  FROM_OWNER,
  FrameReader,
  FrameWriter,
  channelKey,
  type OutFrame,
} from '../src/fleet/peer-channel-frames.js';
import { startNode, type FleetNode } from './fleet-node.js';
import { fixture } from './helpers.js';

export const CHANNEL_SECRET = 'fleet-secret-0123456789';

/** What the owner answered an upgrade: the socket when it switched protocols, the body when not. */
export interface ChannelUpgrade {
  status: number;
  socket?: Socket;
  body?: string;
}

/** A caller's open channel: what it writes with, what the owner answered by call id, and its end. */
export interface CallerChannel {
  socket: Socket;
  key: Buffer | undefined;
  writer: FrameWriter;
  answers: Map<number, string>;
  closed: Promise<void>;
}

/** The headers of a channel upgrade signed over `envelope` with `secret`, as an entry gateway sends. */
export function channelOpenHeaders(
  secret = CHANNEL_SECRET,
  envelope = CHANNEL_OPEN_ENVELOPE,
): Record<string, string> {
  const headers = peerHeaders('gw-entry', 'gw-owner', envelope, secret);
  delete headers['content-type'];
  return headers;
}

/** The envelope of a call to the owner's `GET /profiles/{id}`, unique by its request id. */
export function profilesCall(path = '/profiles/1', extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    service: 'profiles',
    version: '1.2.0',
    instance: 'x',
    key: 'GET /profiles/{id}',
    timeoutMs: 5000,
    request: { id: `r-${Math.random()}`, method: 'GET', path, headers: {} },
    ...extra,
  });
}

/** Call `id` for `/profiles/<id>`, as a frame of a batch. */
export function profilesFrame(id: number): OutFrame {
  const payload = profilesCall(`/profiles/${id}`);
  return { id, payload, bytes: Buffer.byteLength(payload) };
}

/**
 * Owners and channels for the tests of one file: each owner started and each socket opened is closed
 * after each test.
 */
export function channelOwners() {
  let nodes: FleetNode[] = [];
  let sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    sockets = [];
    await Promise.all(nodes.map((n) => n.close()));
    nodes = [];
  });

  /** An owner gateway serving the `profiles` fixture and peer channels. */
  async function owner(openTimeout?: string): Promise<FleetNode> {
    const node = await startNode('gw-owner', {
      registry: new MemoryRegistry(),
      secret: CHANNEL_SECRET,
      upgrades: true,
      ...(openTimeout !== undefined ? { openTimeout } : {}),
    });
    nodes.push(node);
    await node.gateway.load(fixture('profiles'), { config: { node: 'owner' } });
    return node;
  }

  /** An upgrade of the channel path with `headers` and `token`, as a raw client sends it. */
  function open(
    node: FleetNode,
    headers: Record<string, string>,
    token = CHANNEL_PROTOCOL,
  ): Promise<ChannelUpgrade> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${node.address}${PEER_PATH}/channel`, {
        method: 'GET',
        agent: false,
        headers: { connection: 'Upgrade', upgrade: token, ...headers },
      });
      req.on('upgrade', (res, socket) => {
        sockets.push(socket);
        resolve({ status: res.statusCode!, socket });
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** A signed channel to `node`, and what a legitimate caller would write and read on it. */
  async function channel(node: FleetNode): Promise<CallerChannel> {
    const headers = channelOpenHeaders();
    const opened = await open(node, headers);
    expect(opened.status).toBe(101);
    const key = channelKey(CHANNEL_SECRET, headers[PEER_SIGNATURE_HEADER]!);
    const socket = opened.socket!;
    const answers = new Map<number, string>();
    const reader = new FrameReader(key, FROM_OWNER, CHANNEL_ANSWER, 64 * 1024 * 1024);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => reader.push(chunk, (id, text) => answers.set(id, text)));
    return { socket, key, writer: new FrameWriter(key, FROM_CALLER), answers, closed };
  }

  /** Closes, after the test, a gateway or a socket the test made itself. */
  function track(made: FleetNode | Socket): void {
    if ('gateway' in made) nodes.push(made);
    else sockets.push(made);
  }

  return { owner, open, channel, track };
}
