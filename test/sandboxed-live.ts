/**
 * What the WebSocket tests of `process` plugins (Node in bubblewrap) and native ones (Go, Rust, a
 * rogue script) share: a gateway that requires bubblewrap, served through the `./node` listeners, and
 * the checks both kinds of room plugin pass (procroom, go-room, rust-room speak the same room).
 */
import type http from 'node:http';
import { expect } from 'vitest';
import { PluginGateway, type GatewayOptions } from '../src/index.js';
import { statusOf } from './helpers.js';
import { connect, liveServer } from './live-clients.js';

/**
 * A started gateway that requires bubblewrap (`warm: true`), with `dirs` loaded (each a `process`
 * plugin in bwrap, active), and a node:http server with its request and upgrade listeners. Stopped
 * here when a load or the start fails; otherwise by the caller.
 */
export async function startSandboxed(
  dirs: string[],
  options: GatewayOptions = {},
): Promise<{ gateway: PluginGateway; server: http.Server; url: string }> {
  const gateway = new PluginGateway({
    logger: false,
    warm: true,
    sandbox: { bwrap: true, requireBwrap: true },
    ...options,
  });
  try {
    const names: string[] = [];
    for (const dir of dirs) {
      const info = await gateway.load(dir);
      expect([info.runtime, info.sandbox]).toEqual(['process', 'bwrap']);
      names.push(info.name);
    }
    await gateway.start();
    for (const name of names) await statusOf(gateway, name, 'active');
  } catch (error) {
    await gateway.stop();
    throw error;
  }
  const { server, url } = await liveServer(gateway);
  return { gateway, server, url };
}

/**
 * A room plugin's WebSockets at `url` (`/room/{room}`, its version 1.0.0): echo of text and bytes, a
 * publish that reaches the room's other client and no other room, the count of open connections, and
 * the plugin's own close code (`bye` closes 4000); all three clients closed at the end.
 */
export async function roomExchange(
  gateway: PluginGateway,
  name: string,
  url: string,
): Promise<void> {
  const a = await connect(`${url}/room/blue`);
  const b = await connect(`${url}/room/blue`);
  const c = await connect(`${url}/room/green`);
  const welcome = JSON.parse(await a.next()) as { pid: number };
  expect(welcome).toMatchObject({ joined: 'blue', version: '1.0.0' });
  // Its own process (in its own PID namespace), not the host's.
  expect(welcome.pid).not.toBe(process.pid);
  await b.next();
  await c.next();
  a.ws.send('echo:hi');
  expect(await a.next()).toBe('1.0.0:hi');
  a.ws.send(Buffer.from([1, 2, 3]));
  expect(await a.next()).toBe('bytes:3');
  a.ws.send('{"edit":1}');
  expect(await b.next()).toBe('{"edit":1}');
  c.ws.send('to green');
  a.ws.send('echo:after');
  b.ws.send('echo:after');
  expect(await a.next()).toBe('1.0.0:after');
  expect(await b.next()).toBe('1.0.0:after');
  // The publisher does not get its own message; another room does not get it at all.
  expect(a.messages).not.toContain('{"edit":1}');
  expect([...a.messages, ...b.messages]).not.toContain('to green');
  expect(gateway.metrics(name).active_connections).toBe(3);
  a.ws.send('bye');
  expect(await a.closed).toEqual({ code: 4000, reason: 'bye' });
  b.ws.close(1000);
  c.ws.close(1000);
  await Promise.all([b.closed, c.closed]);
  await expect.poll(() => gateway.metrics(name).active_connections).toBe(0);
}

/**
 * A forger plugin (`/forge`: `forge` writes send, subscribe, publish and close frames for connection
 * numbers 2 to 32, `publish` publishes to its own "blue") beside a room plugin whose two clients sit
 * in "blue": every forged frame is refused and counted against the forger, none reaches the room.
 */
export async function forgedFramesRefused(
  gateway: PluginGateway,
  url: string,
  names: { room: string; forger: string },
): Promise<void> {
  const a = await connect(`${url}/room/blue`);
  const b = await connect(`${url}/room/blue`);
  await a.next();
  await b.next();
  const evil = await connect(`${url}/forge`);
  expect(await evil.next()).toBe('ready');
  // Its own connection is number 1: every other number is another's, or nobody's.
  evil.ws.send('forge');
  expect(await evil.next()).toBe('forged');
  evil.ws.send('publish');
  expect(await evil.next()).toBe('published');
  await expect.poll(() => gateway.metrics(names.forger).protocol_violations).toBe(31 * 4);
  // The room's own clients got none of it, and their room still works both ways.
  a.ws.send('{"edit":1}');
  expect(await b.next()).toBe('{"edit":1}');
  a.ws.send('echo:still');
  expect(await a.next()).toBe('1.0.0:still');
  expect([...a.messages, ...b.messages].filter((m) => /forged|intrusion/.test(m))).toEqual([]);
  // The forger's "blue" is its own plugin's topic: the room's publish never reaches it.
  expect(evil.messages).toEqual(['ready', 'forged', 'published']);
  expect(gateway.metrics(names.room).protocol_violations).toBe(0);
  expect(gateway.metrics(names.room).active_connections).toBe(2);
}
