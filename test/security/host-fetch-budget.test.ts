import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith } from '../helpers.js';

/**
 * What the host holds for one plugin's fetches is bounded by the gateway's `limits`: 64 parallel
 * `ctx.fetch` calls to a server that sends 4 MiB and then stalls used to hold 200–250 MiB and 64
 * sockets in the host until their deadline.
 */
const MIB = 1024 * 1024;
let gateway: PluginGateway | undefined;
let server: http.Server;
let base: string;
let peakOpen = 0;
const open = new Set<Socket>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/small') return res.end('hello');
    if (req.url === '/2mib') return res.end(Buffer.alloc(2 * MIB, 'b'));
    // 4 MiB, then nothing: the answer never ends.
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.write(Buffer.alloc(4 * MIB, 'a'));
  });
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    peakOpen = Math.max(peakOpen, open.size);
    socket.on('close', () => open.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => closeServer(server));
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
  peakOpen = 0;
});

type Outcome = { bytes: number; backing: number } | { error: string };
const flood = async (plugin: string, url: string, n: number) =>
  (await gateway!.handle({ method: 'POST', path: `/${plugin}`, headers: {}, body: { url, n } }))
    .body as Outcome[];
const errors = (outcomes: Outcome[], pattern: RegExp) =>
  outcomes.filter((o) => 'error' in o && pattern.test(o.error)).length;

async function socketsClosed(): Promise<void> {
  for (let i = 0; i < 200 && open.size > 0; i++) await new Promise((r) => setTimeout(r, 25));
}

describe('host fetches are accounted to the plugin instance, against the gateway limits', () => {
  it('64 parallel fetches of a stalling 4 MiB answer: 8 sockets at most, the other 56 refused before connecting', async () => {
    gateway = await gatewayWith(['fetch-flood'], {
      limits: { fetchConcurrency: 8, fetchBufferBytes: 64 * MIB, fetchTimeout: '3s' },
    });
    const outcomes = await flood('fetch-flood', `${base}/stall`, 64);
    expect(outcomes).toHaveLength(64);
    expect(errors(outcomes, /PGW_ERR_PLUGIN_LIMIT.*limits\.fetchConcurrency/)).toBe(56);
    expect(peakOpen).toBeLessThanOrEqual(8);
    // The 8 let through end at the deadline; the host closes every socket it opened.
    expect(errors(outcomes, /no complete answer within 3000 ms/)).toBe(8);
    await socketsClosed();
    expect(open.size).toBe(0);
    const ping = await gateway.handle({ method: 'GET', path: '/ping', headers: {} });
    expect(ping.statusCode).toBe(200);
    // Its budget is whole again: a fetch goes through.
    expect(await flood('fetch-flood', `${base}/small`, 1)).toEqual([{ bytes: 5, backing: 5 }]);
  }, 30_000);

  it('buffers 16 MiB at most for the plugin: the fetch whose chunk would pass it is aborted', async () => {
    gateway = await gatewayWith(['fetch-flood'], {
      limits: { fetchConcurrency: 8, fetchBufferBytes: 16 * MIB, fetchTimeout: '3s' },
    });
    const outcomes = await flood('fetch-flood', `${base}/stall`, 8);
    // 4 MiB each: no more than 4 fit; the others are aborted, the rest end at the deadline.
    const overBuffer = errors(outcomes, /PGW_ERR_PLUGIN_LIMIT.*limits\.fetchBufferBytes/);
    expect(overBuffer).toBeGreaterThanOrEqual(4);
    expect(overBuffer + errors(outcomes, /no complete answer within 3000 ms/)).toBe(8);
    await socketsClosed();
    expect(open.size).toBe(0);
  }, 30_000);

  it('answers are exact-size buffers, never views on a shared pool', async () => {
    gateway = await gatewayWith(['fetch-flood']);
    const outcomes = await flood('fetch-flood', `${base}/small`, 4);
    expect(outcomes).toEqual(Array(4).fill({ bytes: 5, backing: 5 }));
  });

  it('resources.network throttles what the host reads for the plugin (1 Mbit/s: 2 MiB take ~16 s)', async () => {
    gateway = await gatewayWith(['fetch-flood', 'fetch-throttled'], {
      limits: { fetchTimeout: '2s' },
    });
    // The same answer, unthrottled, arrives whole within the deadline.
    expect(await flood('fetch-flood', `${base}/2mib`, 1)).toEqual([
      { bytes: 2 * MIB, backing: 2 * MIB },
    ]);
    const [throttled] = await flood('fetch-throttled', `${base}/2mib`, 1);
    expect(throttled).toEqual({
      error: expect.stringMatching(/no complete answer within 2000 ms/),
    });
    expect(gateway.get('fetch-throttled')?.resources.network).toBe(1);
  }, 30_000);
});
