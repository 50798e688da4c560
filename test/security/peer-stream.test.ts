// Forwarded streams (issue 18, the fleet) attacked: a stranger on the network without the fleet's
// secret, a replayed or forged stream call, an upload past max_request_bytes sent straight to the
// owner, and a malicious owner that answers garbage, a huge frame, or writes while nobody reads.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRegistry } from '../../src/index.js';
import { FrameKind, FrameReader, frame } from '../../src/fleet/peer-frames.js';
import { PeerClient, RemoteRuntime } from '../../src/fleet/peer-client.js';
import {
  PEER_PATH,
  PEER_STREAM_CONTENT_TYPE,
  PEER_STREAM_PATH,
  peerHeaders,
} from '../../src/fleet/peer-protocol.js';
import type { LiveData } from '../../src/loader/runtime.js';
import type { StreamSettings } from '../../src/shared/types.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { closeServer, fixture } from '../helpers.js';

const SECRET = 'fleet-stream-secret-0123456789';
const MiB = 1024 * 1024;
let nodes: FleetNode[] = [];
let fake: http.Server | undefined;
let client: PeerClient | undefined;
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  await closeServer(fake);
  await client?.close();
  nodes = [];
  fake = client = undefined;
});

async function owner(): Promise<FleetNode> {
  const node = await startNode('gw-owner', { registry: new MemoryRegistry(), secret: SECRET });
  nodes.push(node);
  await node.gateway.load(fixture('live-stream'));
  await node.gateway.load(fixture('live-upload'));
  return node;
}

const envelope = (key: string, path: string) =>
  JSON.stringify({
    service: key.includes('upload') ? 'live-upload' : 'live-stream',
    version: '1.0.0',
    instance: 'x',
    key,
    timeoutMs: 5000,
    request: { id: `r-${Math.random()}`, method: key.split(' ')[0], path, headers: {} },
  });

/** A streamed peer call as raw HTTP: the call frame, then `upload` bytes. */
async function streamCall(
  node: FleetNode,
  body: string,
  headers: Record<string, string>,
  upload: Buffer[] = [],
): Promise<{ status: number; frames: { kind: number; text: string }[]; raw: Buffer }> {
  const res = await fetch(node.address + PEER_STREAM_PATH, {
    method: 'POST',
    headers: { ...headers, 'content-type': PEER_STREAM_CONTENT_TYPE },
    body: Buffer.concat([frame(FrameKind.call, body), ...upload]),
  });
  const raw = Buffer.from(await res.arrayBuffer());
  const frames: { kind: number; text: string }[] = [];
  if (res.status === 200) {
    const reader = new FrameReader(
      (async function* () {
        yield raw;
      })(),
    );
    for (let f = await reader.next(64 * MiB); f; f = await reader.next(64 * MiB)) {
      frames.push({ kind: f.kind, text: Buffer.from(f.payload).toString('utf8') });
    }
  }
  return { status: res.status, frames, raw };
}

describe('the streamed peer route, as a stranger on the network', () => {
  it('refuses 401 an unsigned or wrongly signed stream call: the plugin never runs', async () => {
    const node = await owner();
    const served = node.gateway.metrics('live-stream').request_count;
    const body = envelope('GET /ticks', '/ticks');
    const unsigned = await streamCall(node, body, peerHeaders('gw-x', 'gw-owner', body, undefined));
    expect(unsigned.status).toBe(401);
    expect(JSON.parse(unsigned.raw.toString())).toMatchObject({
      error: { code: 'PGW_ERR_PEER_UNAUTHORIZED' },
    });
    const forged = await streamCall(node, body, peerHeaders('gw-x', 'gw-owner', body, 'guess'));
    expect(forged.status).toBe(401);
    // A signed envelope with a chunk frame forged after it: the body is an upload only where the
    // endpoint reads one, and /ticks reads none, so the call is refused whole.
    const headers = peerHeaders('gw-x', 'gw-owner', body, SECRET);
    const smuggled = await streamCall(node, body, headers, [frame(FrameKind.text, 'forged')]);
    expect(smuggled.status).toBe(400);
    expect(node.gateway.metrics('live-stream').request_count).toBe(served);
  });

  it('refuses a call frame over 1 MiB at its header, and a body that is not frames, unread (400)', async () => {
    const node = await owner();
    const huge = Buffer.alloc(5);
    huge[0] = FrameKind.call;
    huge.writeUInt32BE(0xffffffff, 1);
    const headers = { ...peerHeaders('gw-x', 'gw-owner', 'x', undefined) };
    for (const body of [Buffer.concat([huge, Buffer.alloc(MiB)]), Buffer.from('GET / HTTP/1.1')]) {
      const res = await fetch(node.address + PEER_STREAM_PATH, {
        method: 'POST',
        headers: { ...headers, 'content-type': PEER_STREAM_CONTENT_TYPE },
        body,
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'PGW_ERR_BAD_REQUEST' } });
    }
  });

  it('accepts a signed stream call once: the same bytes again are a replay (401)', async () => {
    const node = await owner();
    const body = envelope('GET /ticks', '/ticks');
    const headers = peerHeaders('gw-x', 'gw-owner', body, SECRET);
    const first = await streamCall(node, body, headers);
    expect(first.status).toBe(200);
    expect(first.frames[0]).toMatchObject({ kind: FrameKind.head });
    expect(first.frames.at(-1)).toEqual({ kind: FrameKind.end, text: '{}' });
    expect(first.frames.map((f) => f.text).join('')).toContain('"n":3');
    expect((await streamCall(node, body, headers)).status).toBe(401);
  });

  it('never serves a stream endpoint through the whole-answer door (its body cannot travel whole)', async () => {
    const node = await owner();
    const body = envelope('GET /endless', '/endless');
    const res = await fetch(node.address + PEER_PATH, {
      method: 'POST',
      headers: peerHeaders('gw-x', 'gw-owner', body, SECRET),
      body,
    });
    const answer = (await res.json()) as { failure?: string };
    expect(answer.failure).toBe('unreachable');
    expect(node.gateway.metrics('live-stream').active_connections).toBe(0);
  });

  it('enforces max_request_bytes on the owner too: a peer that sends more is answered 413', async () => {
    const node = await owner();
    const body = envelope('PUT /upload-small', '/upload-small');
    const chunk = Buffer.alloc(64 * 1024, 1);
    const upload = Array.from({ length: 32 }, () => chunk); // 2 MiB, the limit is 1 MiB
    const res = await streamCall(node, body, peerHeaders('gw-x', 'gw-owner', body, SECRET), upload);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.frames[0]!.text)).toMatchObject({ statusCode: 413 });
    expect(res.frames[1]!.text).toContain('PGW_ERR_BODY_TOO_LARGE');
  });
});

/** A fake owner: an HTTP server that answers every streamed call with `answer`. */
async function fakeOwner(
  answer: (res: http.ServerResponse) => void,
): Promise<{ address: string; written: () => number }> {
  let written = 0;
  fake = http.createServer((req, res) => {
    req.resume();
    const write = res.write.bind(res);
    res.write = ((chunk: Buffer, ...rest: never[]) => {
      written += chunk.length;
      return write(chunk, ...rest);
    }) as typeof res.write;
    res.writeHead(200, { 'content-type': PEER_STREAM_CONTENT_TYPE });
    answer(res);
  });
  await new Promise<void>((r) => fake!.listen(0, '127.0.0.1', r));
  const port = (fake.address() as AddressInfo).port;
  return { address: `http://127.0.0.1:${port}`, written: () => written };
}

const settings: StreamSettings = {
  first_byte_timeout: '5s',
  idle_timeout: '5s',
  total_timeout: '10s',
  max_chunk_bytes: 64 * 1024,
  request_body: false,
  max_request_bytes: MiB,
};

/** Opens a forwarded stream to `address` as a caller gateway would; `credits` chunks are taken. */
function forward(address: string, credits: number) {
  client = new PeerClient('gw-caller', SECRET);
  const runtime = new RemoteRuntime(client, address, 'live-stream', '1.0.0', 'i', 'gw-owner');
  const chunks: LiveData[] = [];
  let head: number | undefined;
  const ended = new Promise<string | undefined>((resolve) => {
    const link = runtime.live().stream(
      {
        head: (status) => (head = status),
        chunk: (data) => {
          chunks.push(data);
          if (chunks.length <= credits) link.more();
        },
        end: resolve,
      },
      'GET /endless',
      { id: 'r1', method: 'GET', path: '/endless', headers: {}, params: {}, query: {} },
      undefined,
      settings,
    );
  });
  return { ended, chunks, head: () => head, runtime };
}

const headFrame = frame(FrameKind.head, JSON.stringify({ statusCode: 200, headers: {} }));

describe('a forwarded stream, from a malicious owner', () => {
  it('cuts garbage (an unknown frame kind) and a stream that ends without its end frame', async () => {
    const garbage = await fakeOwner((res) => res.end(Buffer.from('HTTP/1.1 200 OK\r\n\r\nhello')));
    const a = forward(garbage.address, 100);
    expect(await a.ended).toMatch(/forwarded stream: unknown frame kind/);
    await closeServer(fake);
    const truncated = await fakeOwner((res) =>
      res.end(Buffer.concat([headFrame, frame(FrameKind.text, 'a')])),
    );
    const b = forward(truncated.address, 100);
    expect(await b.ended).toMatch(/went away before the end/);
    expect(b.chunks).toEqual(['a']);
  });

  it('cuts a frame longer than max_chunk_bytes at its header, without reading it', async () => {
    const huge = Buffer.alloc(5);
    huge[0] = FrameKind.bytes;
    huge.writeUInt32BE(0xffffffff, 1);
    const owner = await fakeOwner((res) => {
      res.write(Buffer.concat([headFrame, huge]));
      // Then endless bytes of that frame: the caller must not wait for (or hold) 4 GiB.
      const more = () => {
        while (res.write(Buffer.alloc(64 * 1024))) {
          /* until the socket is full */
        }
        res.once('drain', more);
      };
      more();
    });
    const stream = forward(owner.address, 100);
    expect(await stream.ended).toMatch(/a frame of 4294967295 bytes \(at most 262144\)/);
    expect(stream.head()).toBe(200);
  });

  it('reads no further than its window from an owner that writes while nobody reads', async () => {
    const owner = await fakeOwner((res) => {
      res.write(headFrame);
      const more = () => {
        while (res.write(frame(FrameKind.bytes, Buffer.alloc(16 * 1024)))) {
          /* until the socket is full */
        }
        res.once('drain', more);
      };
      more();
    });
    const stream = forward(owner.address, 0); // takes none of the chunks it is handed
    await expect.poll(() => stream.chunks.length).toBeGreaterThan(0);
    let last = -1;
    await expect
      .poll(
        () => {
          const settled = owner.written() === last;
          last = owner.written();
          return settled;
        },
        { timeout: 10_000, interval: 300 },
      )
      .toBe(true);
    // The window (8 chunks), undici's buffer and the loopback sockets': a few MiB, never the stream.
    console.log(
      `malicious owner writing to a caller that takes nothing: ${(last / MiB).toFixed(1)} MiB accepted before the caller stopped reading`,
    );
    expect(stream.chunks.length).toBe(8);
    expect(last).toBeLessThan(32 * MiB);
    stream.runtime.live().closeAll(1001, 'done');
  });
});
