/**
 * A native plugin's WebSockets against a hostile program: it writes the connection frames it likes
 * on its channel (test/fixtures/native-websocket/plugin.py in `rogue` mode, speaking the protocol by
 * hand), for numbers it was never given and to topics; and a flood of sends to a client that does not
 * read, from the SDKs (go-room, rust-room) and from the rogue, which never stops sending. The host
 * keeps every connection and topic to its owner, and its buffers within their bounds.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { type GatewayOptions } from '../../src/index.js';
import { closeServer, fixture, memoryLogger } from '../helpers.js';
import { connect, type Client } from '../live-clients.js';
import { forgedFramesRefused, startSandboxed } from '../sandboxed-live.js';
import { buildGoPlugin, buildRustPlugin, cargoReason, goReason } from '../services/native-build.js';
import { bwrapReason, usable } from '../services/toolchains.js';

const bwrap = usable(
  'the native WebSocket attacks',
  bwrapReason(),
  'apt-get install -y bubblewrap',
);
const go = bwrap && usable('the Go WebSocket attacks', goReason(), 'install Go 1.26');
const rust = bwrap && usable('the Rust WebSocket attacks', cargoReason(), 'install Rust by rustup');
const python = existsSync('/usr/bin/python3');

/** The rogue program's folder: a manifest of its own around the fixture's script. */
function rogue(): { dir: string; dispose(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-rogue-'));
  copyFileSync(path.join(fixture('native-websocket'), 'plugin.py'), path.join(dir, 'plugin.py'));
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    `name: rogue
version: 1.0.0
runtime:
  type: process
  command: [/usr/bin/python3, -I, plugin.py, rogue]
resources:
  memory: 64
endpoints:
  - path: /forge
    method: GET
    websocket:
      max_buffered_bytes: 262144
`,
  );
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
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

/** Stops reading the client's socket: what the plugin sends piles up on the host. */
/**
 * The host's RSS growth allowed while a program floods 125 MiB at a client that does not read: what it
 * reads and drops is garbage until collected (Node 20 measured 34.8 MiB; Node 24, which collects later,
 * 71 once in CI). Unbounded memory would grow by the 125 MiB sent.
 */
const FLOOD_RSS_MIB = Number(process.versions.node.split('.')[0]) >= 22 ? 96 : 64;

const stopReading = (client: Client) =>
  (client.ws as unknown as { _socket: { pause(): void } })._socket.pause();

/** The host's peak RSS while `work` runs, sampled every 20 ms, in MiB above its RSS before. */
async function rssGrowth(work: () => Promise<unknown>): Promise<number> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return (peak - before) / 1048576;
}

describe.skipIf(!go || !python)('native WebSockets: what a hostile program cannot do', () => {
  let room: { dir: string; dispose(): void };
  let forger: { dir: string; dispose(): void };
  beforeAll(() => {
    room = buildGoPlugin(fixture('native/go-room'), 'go-room');
    forger = rogue();
  }, 300_000);
  afterAll(() => {
    room?.dispose();
    forger?.dispose();
  });

  it('refuses and counts frames naming connections the program does not own; topics stay per plugin', async () => {
    const url = await started([room.dir, forger.dir]);
    await forgedFramesRefused(gateway!, url, { room: 'go-room', forger: 'rogue' });
    expect(gateway!.get('rogue')!.status).toBe('active');
  });

  it('closes 1013 a client that does not read while the program sends without end; host memory stays bounded', async () => {
    const log = memoryLogger();
    const url = await started([forger.dir], { logger: log });
    const slow = await connect(`${url}/forge`);
    await slow.next();
    stopReading(slow);
    const closed = () => log.lines.find((l) => l.msg?.startsWith('websocket closed'));
    // 2,000 sends of 64 KiB (125 MiB), written on, whatever the host closes.
    const grew = await rssGrowth(async () => {
      slow.ws.send('flood:2000');
      await expect
        .poll(closed, { timeout: 60_000 })
        .toMatchObject({ code: 1013, reason: 'client too slow' });
      // The program goes on writing after the close: the host reads and drops it.
      const after = await connect(`${url}/forge`);
      expect(await after.next()).toBe('ready');
      after.ws.send('after');
      expect(await after.next()).toBe('echo:after');
      after.ws.terminate();
    });
    expect(closed()!.buffered_max_bytes as number).toBeLessThanOrEqual(262_144);
    expect(closed()!.messages_out as number).toBeLessThan(2000);
    expect(grew).toBeLessThan(FLOOD_RSS_MIB);
    // What it sent for the closed connection was read and dropped, never queued for the client.
    await expect.poll(() => gateway!.metrics('rogue').active_connections).toBe(0);
    expect(gateway!.get('rogue')!.status).toBe('active');
  });
});

describe.each(
  [
    ['Go', go, buildGoPlugin, 'go-room'],
    ['Rust', rust, buildRustPlugin, 'rust-room'],
  ].filter(([, ready]) => ready) as [string, boolean, typeof buildGoPlugin, string][],
)('a native %s plugin flooding a client that does not read', (_, __, build, name) => {
  let plugin: { dir: string; dispose(): void };
  beforeAll(() => {
    plugin = build(fixture(`native/${name}`), name);
  }, 300_000);
  afterAll(() => plugin?.dispose());

  it('is closed 1013 at max_buffered_bytes; the plugin serves its other clients on', async () => {
    const log = memoryLogger();
    const url = await started([plugin.dir], { logger: log });
    const other = await connect(`${url}/room/calm`);
    await other.next();
    const slow = await connect(`${url}/room/slow`);
    await slow.next();
    stopReading(slow);
    const closed = () => log.lines.find((l) => l.msg?.startsWith('websocket closed'));
    const grew = await rssGrowth(async () => {
      slow.ws.send('flood:1024'); // 64 MiB the plugin tries to send
      await expect
        .poll(closed, { timeout: 60_000 })
        .toMatchObject({ code: 1013, reason: 'client too slow' });
    });
    expect(closed()!.buffered_max_bytes as number).toBeLessThanOrEqual(262_144);
    expect(closed()!.messages_out as number).toBeLessThan(1024);
    expect(grew).toBeLessThan(FLOOD_RSS_MIB);
    other.ws.send('echo:calm');
    expect(await other.next()).toBe('1.0.0:calm');
    expect(gateway!.metrics(name).protocol_violations).toBe(0);
  });
});
