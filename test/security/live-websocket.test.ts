/**
 * Live connections under attack: a client that does not read, oversized and too frequent messages,
 * a browser page of another origin, too many connections, and one plugin's topics against another's.
 */
import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith, memoryLogger } from '../helpers.js';
import { connect, liveServer, refusal } from '../live-clients.js';

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
});

const ORIGIN = { origin: 'https://app.example' };

describe('live connections: what a client or a plugin cannot do', () => {
  it('closes a client that does not read 1013 once the host holds max_buffered_bytes for it, never more', async () => {
    const log = memoryLogger();
    gateway = await gatewayWith(['live-room'], { logger: log });
    const live = await liveServer(gateway);
    server = live.server;
    const slow = await connect(`${live.url}/rooms/slow`, { headers: ORIGIN });
    await slow.next();
    // The client stops reading its socket: the kernel's buffers fill, then the host's would.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    slow.ws.send('flood:1024'); // 64 MiB the plugin tries to send
    await expect
      .poll(() => log.lines.find((l) => l.msg?.startsWith('websocket closed')), { timeout: 20_000 })
      .toMatchObject({ code: 1013, reason: 'client too slow' });
    const line = log.lines.find((l) => l.msg?.startsWith('websocket closed'))!;
    // Measured: the bytes the host held for this client at most (ws's buffer + the socket's).
    expect(line.buffered_max_bytes as number).toBeLessThanOrEqual(262_144);
    expect(line.messages_out as number).toBeLessThan(1024);
  });

  it('closes 1009 on a message larger than max_message_bytes, before the plugin sees it', async () => {
    gateway = await gatewayWith(['live-room']);
    const live = await liveServer(gateway);
    server = live.server;
    const a = await connect(`${live.url}/rooms/big`, { headers: ORIGIN });
    await a.next();
    a.ws.send(`echo:${'y'.repeat(5000)}`);
    expect((await a.closed).code).toBe(1009);
    expect(a.messages).toHaveLength(1);
  });

  it('closes 1008 past the per-message rate limit', async () => {
    gateway = await gatewayWith(['live-room']);
    const live = await liveServer(gateway);
    server = live.server;
    const a = await connect(`${live.url}/limited`);
    for (const m of ['1', '2', '3']) a.ws.send(m);
    // The third is refused on the host, before it reaches the plugin; the echoes of the first two
    // may still be on their way back, and are dropped once the connection is closing.
    expect(await a.closed).toEqual({ code: 1008, reason: 'message rate limit' });
  });

  it('refuses another site’s page (403) and connections past max_connections (503)', async () => {
    gateway = await gatewayWith(['live-room']);
    const live = await liveServer(gateway);
    server = live.server;
    const evil = await refusal(`${live.url}/rooms/a`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(evil).toMatchObject({
      status: 403,
      body: { error: { code: 'PGW_ERR_ORIGIN_NOT_ALLOWED' } },
    });
    const open = [];
    for (let i = 0; i < 4; i++)
      open.push(await connect(`${live.url}/rooms/a`, { headers: ORIGIN }));
    const fifth = await refusal(`${live.url}/rooms/a`, { headers: ORIGIN });
    expect(fifth).toMatchObject({
      status: 503,
      body: { error: { code: 'PGW_ERR_TOO_MANY_CONNECTIONS' } },
    });
    open[0]!.ws.close();
    await open[0]!.closed;
    await expect
      .poll(async () => {
        try {
          (await connect(`${live.url}/rooms/a`, { headers: ORIGIN })).ws.close();
          return true;
        } catch {
          return false;
        }
      })
      .toBe(true);
  });

  it('keeps topics per plugin: the same topic name in another plugin reaches nobody here', async () => {
    gateway = await gatewayWith(['live-room', 'live-other']);
    const live = await liveServer(gateway);
    server = live.server;
    const mine = await connect(`${live.url}/rooms/lobby`, { headers: ORIGIN });
    await mine.next();
    const other = await connect(`${live.url}/other/lobby`);
    const otherPeer = await connect(`${live.url}/other/lobby`);
    other.ws.send('hello');
    expect(await otherPeer.next()).toBe('other:hello');
    mine.ws.send('echo:sync');
    expect(await mine.next()).toBe('echo:sync');
    expect(mine.messages.some((m) => m.startsWith('other:'))).toBe(false);
  });
});
