// WebSockets forwarded to another gateway of the fleet, at the edges of the owner's life: a hot swap
// (old connections drain on the old version, then 1012), a crash of the owner's plugin (1011, then a
// reconnect works), the owner's per-message limits (1008, 1009), and the caller's own stop() (1001).
// Two real gateways on loopback, real `ws` clients; every close code is the one the client receives.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fixture } from '../helpers.js';
import { connect, type Client } from '../live-clients.js';
import { socketFleet, type SocketFleet } from '../fleet-sockets.js';
import { until } from '../registry/contract.js';

const origin = 'https://app.example';
// Inside the repository, so that the plugins resolve @veza/plugin-gateway/sdk as a host app's would.
const root = path.resolve(import.meta.dirname, '..', '.swap-fixtures', `fleet-${process.pid}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A version of plugin `farroom`: a WebSocket that greets with its version and echoes with it. */
function writeVersion(version: string): string {
  const dir = path.join(root, `${version}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    `name: farroom\nversion: ${version}\nendpoints:\n  - path: /far/{room}\n    method: GET\n    websocket: true\n`,
  );
  writeFileSync(
    path.join(dir, 'index.js'),
    `import { definePlugin } from '@veza/plugin-gateway/sdk';
export default definePlugin({
  websockets: {
    'GET /far/{room}': {
      open(ws) { ws.send('hello ${version}'); },
      message(ws, text) { ws.send('${version}:' + text); },
    },
  },
});
`,
  );
  return dir;
}

let fleet: SocketFleet | undefined;
afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
});

/** The caller routes new connections to `version` once its registry view says so. */
const callerSees = (f: SocketFleet, version: string) =>
  until(() => {
    try {
      return (
        f.caller.gateway.metrics('farroom').instances?.[0]?.id.includes(`@${version}#`) === true
      );
    } catch {
      return false;
    }
  }, `the caller to see farroom@${version}`);

async function echo(client: Client, text: string): Promise<string> {
  client.ws.send(text);
  return client.next();
}

describe('a forwarded WebSocket across a hot swap on the owner', () => {
  it('stays on the old version until it closes; new ones reach the new version', async () => {
    fleet = await socketFleet('farroom', (o) => o.gateway.load(writeVersion('1.0.0')));
    const f = fleet;
    const old = await connect(`${f.callerUrl}/far/a`);
    expect(await old.next()).toBe('hello 1.0.0');
    await f.owner.gateway.swap('farroom', writeVersion('2.0.0'), { connectionDrain: '1m' });
    await callerSees(f, '2.0.0');
    const fresh = await connect(`${f.callerUrl}/far/a`);
    expect(await fresh.next()).toBe('hello 2.0.0');
    expect(await echo(old, 'm1')).toBe('1.0.0:m1');
    expect(await echo(fresh, 'm2')).toBe('2.0.0:m2');
    expect(f.owner.gateway.metrics('farroom').connections_by_version).toEqual({
      '1.0.0': 1,
      '2.0.0': 1,
    });
    old.ws.close(1000);
    expect((await old.closed).code).toBe(1000);
    await expect
      .poll(() => f.owner.gateway.metrics('farroom').connections_by_version)
      .toEqual({ '2.0.0': 1 });
    expect(await echo(fresh, 'm3')).toBe('2.0.0:m3');
  });

  it('closes it 1012 at the drain deadline, through the caller', async () => {
    fleet = await socketFleet('farroom', (o) => o.gateway.load(writeVersion('1.0.0')));
    const old = await connect(`${fleet.callerUrl}/far/b`);
    expect(await old.next()).toBe('hello 1.0.0');
    await fleet.owner.gateway.swap('farroom', writeVersion('2.0.0'), { connectionDrain: '300ms' });
    expect(await old.closed).toEqual({ code: 1012, reason: 'service restart' });
  });
});

describe('a forwarded WebSocket and the owner’s plugin', () => {
  it('gets 1011 when the owner’s plugin crashes, and can reconnect once it restarted', async () => {
    fleet = await socketFleet('live-room', (o) => o.gateway.load(fixture('live-room')));
    const f = fleet;
    const a = await connect(`${f.callerUrl}/rooms/c1`, { origin });
    await a.next();
    a.ws.send('crash');
    expect((await a.closed).code).toBe(1011);
    let again: Client | undefined;
    await until(async () => {
      again = await connect(`${f.callerUrl}/rooms/c1`, { origin }).catch(() => undefined);
      return again !== undefined;
    }, 'a reconnect to be accepted');
    expect(JSON.parse(await again!.next())).toEqual({ joined: 'c1', user: null });
    expect(await echo(again!, 'echo:back')).toBe('echo:back');
    again!.ws.close();
  });

  it('gets 1008 past message_rate_limit and 1009 past max_message_bytes', async () => {
    fleet = await socketFleet('live-room', (o) => o.gateway.load(fixture('live-room')));
    const limited = await connect(`${fleet.callerUrl}/limited`);
    expect(await echo(limited, 'one')).toBe('one');
    expect(await echo(limited, 'two')).toBe('two');
    limited.ws.send('three'); // /limited takes 2/min
    expect((await limited.closed).code).toBe(1008);
    const big = await connect(`${fleet.callerUrl}/rooms/s1`, { origin });
    await big.next();
    big.ws.send('x'.repeat(4097)); // /rooms/{room} takes 4096 bytes
    expect((await big.closed).code).toBe(1009);
    await expect.poll(() => fleet!.owner.gateway.metrics('live-room').active_connections).toBe(0);
  });

  it('is closed 1001 by the caller’s stop(), and the owner lets go of it', async () => {
    fleet = await socketFleet('live-room', (o) => o.gateway.load(fixture('live-room')));
    const f = fleet;
    const a = await connect(`${f.callerUrl}/rooms/s2`, { origin });
    await a.next();
    await expect.poll(() => f.owner.gateway.metrics('live-room').active_connections).toBe(1);
    await f.caller.gateway.stop();
    expect((await a.closed).code).toBe(1001);
    await expect.poll(() => f.owner.gateway.metrics('live-room').active_connections).toBe(0);
  });
});
