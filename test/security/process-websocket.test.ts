import { copyFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { type CrashEvent, type GatewayOptions } from '../../src/index.js';
import { closeServer, fixture, memoryLogger, statusOf } from '../helpers.js';
import { connect } from '../live-clients.js';
import { forgedFramesRefused, startSandboxed } from '../sandboxed-live.js';
import {
  haveBwrap,
  removeProcessPlugins,
  roomPlugin,
  writePlugin,
} from '../process-live-plugins.js';

/**
 * A `process` plugin's WebSockets against a hostile plugin and hostile clients: the plugin writes
 * raw frames on its channel (what any code in the sandbox can do), floods, never answers; the host
 * keeps every connection, topic and buffer to its owner and within its bounds.
 */
const bwrap = haveBwrap();
afterAll(removeProcessPlugins);

/** A plugin (`forger`) that writes live notes of its own making around the harness. */
function forger(): string {
  const dir = writePlugin({
    'plugin.yaml': `name: forger
version: 1.0.0
runtime:
  type: process
resources:
  memory: 128
endpoints:
  - path: /forge
    method: GET
    websocket: true
  - path: /silent
    method: GET
    websocket:
      idle_timeout: 2s
`,
    'index.js': `import { definePlugin } from '@veza/plugin-gateway/sdk';
import { frame, put } from './frames.js';
const live = (n) => put(frame({ pgw: 'live', n }));
export default definePlugin({
  websockets: {
    'GET /forge': {
      open(ws) {
        ws.subscribe('blue');
        ws.send('ready');
      },
      message(ws, text) {
        if (text === 'forge') {
          // Its own connection is number 1: every other number is another's, or nobody's.
          for (let c = 2; c <= 32; c++) {
            live({ k: 'send', c, d: 'forged' });
            live({ k: 'sub', c, t: 'blue' });
            live({ k: 'pub', c, t: 'blue', d: 'forged publish' });
            live({ k: 'close', c, code: 4000, reason: 'forged' });
          }
          return ws.send('forged');
        }
        if (text === 'publish') {
          ws.publish('blue', 'intrusion');
          return ws.send('published');
        }
        if (text === 'big-send') {
          ws.send('x'.repeat(9 * 1024 * 1024));
          return;
        }
        if (text === 'oversized-frame') {
          // A length of 100 MiB: refused at the header, before a byte of it is kept.
          const h = Buffer.alloc(4);
          h.writeUInt32BE(100 * 1024 * 1024, 0);
          put(Buffer.concat([h, Buffer.alloc(4096, 1)]));
        }
      },
    },
    // Never answers the open: its handler does not settle, so no message is ever acknowledged.
    'GET /silent': { open: () => new Promise(() => {}) },
  },
});
`,
  });
  copyFileSync(
    path.join(fixture('proc-channel-attacker'), 'frames.js'),
    path.join(dir, 'frames.js'),
  );
  return dir;
}

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
});

async function started(dirs: string[], options: GatewayOptions = {}) {
  const live = await startSandboxed(dirs, { restart: { backoff: '10ms' }, ...options });
  ({ gateway, server } = live);
  return live.url;
}

describe.skipIf(!bwrap)('process plugin WebSockets: what a plugin or a client cannot do', () => {
  it('refuses and counts frames naming connections the process does not own; topics stay per plugin', async () => {
    const url = await started([roomPlugin(), forger()]);
    await forgedFramesRefused(gateway!, url, { room: 'procroom', forger: 'forger' });
  });

  it('ends a process that writes a frame over the channel’s limit: its connections 1011, others untouched', async () => {
    const crashes: CrashEvent[] = [];
    const url = await started([roomPlugin(), forger()]);
    gateway!.on('plugin:crash', (e) => crashes.push(e));
    const a = await connect(`${url}/room/blue`);
    await a.next();
    const evil = await connect(`${url}/forge`);
    await evil.next();
    evil.ws.send('oversized-frame');
    expect((await evil.closed).code).toBe(1011);
    await expect.poll(() => crashes.map((c) => c.plugin)).toEqual(['forger']);
    expect(crashes[0]!.reason).toMatch(
      /the plugin's channel carried a frame of \d+ bytes, over the limit/,
    );
    a.ws.send('echo:unharmed');
    expect(await a.next()).toBe('1.0.0:unharmed');
    await statusOf(gateway!, 'forger', 'active');
    const again = await connect(`${url}/forge`);
    expect(await again.next()).toBe('ready');
    again.ws.terminate();
  });

  it('closes 1011 a send too large for the channel, without ending the process', async () => {
    const url = await started([forger()]);
    const evil = await connect(`${url}/forge`);
    await evil.next();
    evil.ws.send('big-send');
    expect(await evil.closed).toEqual({ code: 1011, reason: 'message too large' });
    const again = await connect(`${url}/forge`);
    expect(await again.next()).toBe('ready');
    again.ws.terminate();
  });

  it('closes a client that does not read 1013 at max_buffered_bytes, however much the process sends', async () => {
    const log = memoryLogger();
    const url = await started([roomPlugin()], { logger: log });
    const slow = await connect(`${url}/room/slow`);
    await slow.next();
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    slow.ws.send('flood:1024'); // 64 MiB the plugin tries to send
    const closed = () => log.lines.find((l) => l.msg?.startsWith('websocket closed'));
    await expect
      .poll(closed, { timeout: 20_000 })
      .toMatchObject({ code: 1013, reason: 'client too slow' });
    expect(closed()!.buffered_max_bytes as number).toBeLessThanOrEqual(262_144);
    expect(closed()!.messages_out as number).toBeLessThan(1024);
  });

  it('closes 1009 on a client message over max_message_bytes, before the process sees it', async () => {
    const url = await started([roomPlugin()]);
    const a = await connect(`${url}/room/big`);
    await a.next();
    a.ws.send(`echo:${'y'.repeat(5000)}`);
    expect((await a.closed).code).toBe(1009);
    expect(a.messages).toHaveLength(1);
  });

  it('stops reading a client once 64 messages wait on a process that never answers the open, and ends it at idle_timeout', async () => {
    const log = memoryLogger();
    const url = await started([forger()], { logger: log });
    const quiet = await connect(`${url}/silent`);
    const message = 'z'.repeat(1024);
    for (let i = 0; i < 2000; i++) quiet.ws.send(message);
    await quiet.closed;
    const closed = () => log.lines.find((l) => l.msg?.startsWith('websocket closed'));
    await expect.poll(closed).toMatchObject({ code: 1001, reason: 'idle timeout' });
    const line = closed()!;
    // What ws had read before the socket paused may still come through, never the 2 MiB sent.
    expect(line.messages_in as number).toBeLessThan(200);
    await gateway!.unload('forger');
  });
});
