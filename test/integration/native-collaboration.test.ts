/**
 * examples/plugins/live-collaboration-go and -rust, the ADR's Live Collaboration plugin on the Go SDK
 * and on the Rust crate, built and loaded in bubblewrap: the same protocol as the JavaScript example (welcome with presence and the
 * playlist, edits acknowledged and broadcast to the room, other JSON messages signed and passed on,
 * joined/left), and auth at the upgrade.
 */
import type http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { closeServer } from '../helpers.js';
import { connect, liveServer, refusal } from '../live-clients.js';
import { buildGoPlugin, buildRustPlugin, cargoReason, goReason } from '../services/native-build.js';
import { bwrapReason, usable } from '../services/toolchains.js';

const bwrap = usable(
  'the native collaboration examples',
  bwrapReason(),
  'apt-get install -y bubblewrap',
);
const examples = [
  ['go', usable('the Go collaboration example', goReason(), 'install Go 1.26'), buildGoPlugin],
  [
    'rust',
    usable('the Rust collaboration example', cargoReason(), 'install Rust'),
    buildRustPlugin,
  ],
] as const;

describe.each(examples.filter(([, ready]) => ready && bwrap))(
  'examples/plugins/live-collaboration-%s',
  (lang, _, build) => {
    let plugin: { dir: string; dispose(): void };
    let gateway: PluginGateway;
    let server: http.Server;
    let url: string;
    beforeAll(async () => {
      const example = path.resolve(
        import.meta.dirname,
        `../../examples/plugins/live-collaboration-${lang}`,
      );
      plugin = build(example, 'live-collaboration');
      gateway = new PluginGateway({
        logger: false,
        sandbox: { bwrap: true, requireBwrap: true },
        authenticate: (req) => {
          const user = req.headers?.authorization?.replace(/^Bearer /, '');
          return user ? { userId: user } : null;
        },
      });
      await gateway.load(plugin.dir);
      await gateway.start();
      ({ server, url } = await liveServer(gateway));
    }, 300_000);
    afterAll(async () => {
      await gateway?.stop();
      await closeServer(server);
      plugin?.dispose();
    });

    const join = async (room: string, user: string) => {
      const client = await connect(`${url}/collab/${room}`, {
        headers: { authorization: `Bearer ${user}` },
      });
      return { ...client, json: async () => JSON.parse(await client.next()) };
    };

    it('welcomes with presence and the playlist, and broadcasts edits and JSON messages to the room', async () => {
      const ada = await join('road-trip', 'ada');
      expect(await ada.json()).toMatchObject({ type: 'welcome', you: 'ada', present: ['ada'] });
      const grace = await join('road-trip', 'grace');
      expect(await grace.json()).toMatchObject({ type: 'welcome', present: ['ada', 'grace'] });
      expect(await ada.json()).toEqual({ type: 'joined', user: 'grace' });

      ada.ws.send(JSON.stringify({ type: 'edit', op: 'add', trackId: 101 }));
      expect(await ada.json()).toEqual({ type: 'ack', version: 1 });
      expect(await grace.json()).toMatchObject({ type: 'edit', user: 'ada', version: 1 });
      grace.ws.send(JSON.stringify({ type: 'cursor', at: 0 }));
      expect(await ada.json()).toEqual({ type: 'cursor', at: 0, user: 'grace' });
      grace.ws.send(JSON.stringify({ type: 'edit', op: 'remove', at: 7 }));
      expect(await grace.json()).toMatchObject({ type: 'error' });
      grace.ws.send('not json');
      expect(await grace.json()).toEqual({ type: 'error', message: 'messages are JSON objects' });

      const late = await join('road-trip', 'nina');
      expect(await late.json()).toMatchObject({ playlist: { tracks: [101], version: 1 } });
      expect(gateway.metrics('live-collaboration').active_connections).toBe(3);
      expect(gateway.get('live-collaboration')).toMatchObject({
        runtime: 'process',
        sandbox: 'bwrap',
      });

      grace.ws.close();
      expect(await ada.json()).toEqual({ type: 'joined', user: 'nina' });
      expect(await ada.json()).toEqual({ type: 'left', user: 'grace' });
      ada.ws.close();
      late.ws.close();
      await Promise.all([ada.closed, late.closed]);
    });

    it('refuses an anonymous upgrade with 401 before any connection exists', async () => {
      expect((await refusal(`${url}/collab/road-trip`)).status).toBe(401);
    });
  },
);
