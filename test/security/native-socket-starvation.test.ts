/**
 * Busy clients of a native plugin do not starve its other clients. The Rust crate runs connections'
 * handlers on 8 threads; the gateway keeps up to 64 unacknowledged messages queued per connection and
 * refills as each `done` leaves, so a client that keeps sending keeps its queue non-empty. A thread that
 * ran a connection's queue to its end (as it once did) stayed with it: 8 such clients held all 8 threads
 * and a 9th client's open waited until they stopped (6.2 s here). The threads now take connections in
 * turn, one handler each (decision 0281). The Go SDK runs a goroutine per connection. Here: a handler
 * that takes 20 ms a message (any I/O), 8 clients sending 300 messages each, then a 9th client.
 */
import type http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { closeServer, fixture, statusOf } from '../helpers.js';
import { connect, liveServer, type Client } from '../live-clients.js';
import { nativeLanguages } from '../services/native-build.js';

const BUSY = 8;
const SENT = 300;

describe.each(nativeLanguages('starvation tests', { Rust: 'rust-slow-room', Go: 'go-slow-room' }))(
  'a native %s plugin with busy clients',
  (_, build, name) => {
    let plugin: { dir: string; dispose(): void };
    let gateway: PluginGateway | undefined;
    let server: http.Server | undefined;
    const clients: Client[] = [];
    beforeAll(() => {
      plugin = build(fixture(`native/${name}`), name);
    }, 300_000);
    afterAll(() => plugin?.dispose());
    afterEach(async () => {
      for (const c of clients) c.ws.terminate();
      await gateway?.stop();
      await closeServer(server);
    });

    it('serves a 9th client within a round of the busy ones, each busy one answered in order', async () => {
      gateway = new PluginGateway({
        logger: false,
        warm: true,
        sandbox: { bwrap: true, requireBwrap: true },
      });
      await gateway.load(plugin.dir);
      await gateway.start();
      await statusOf(gateway, name, 'active');
      const live = await liveServer(gateway);
      server = live.server;
      const busy: Client[] = [];
      for (let i = 0; i < BUSY; i++) {
        const c = await connect(`${live.url}/room/r`);
        busy.push(c);
        clients.push(c);
        expect(await c.next()).toBe('joined');
        for (let m = 0; m < SENT; m++) c.ws.send(`m${m}`);
      }
      // Every busy client has handlers running: the 8 threads are all taken.
      const echoes = () => busy.reduce((n, c) => n + c.messages.length - 1, 0);
      while (busy.some((c) => c.messages.length < 2)) await new Promise((r) => setTimeout(r, 10));
      const before = echoes();
      const late = await connect(`${live.url}/room/r`);
      clients.push(late);
      expect(await late.next()).toBe('joined');
      late.ws.send('hi');
      expect(await late.next()).toBe('echo:hi');
      // Counted, not timed: run to their ends, the busy queues would answer ~2,300 messages first;
      // in turn, the 9th client's open and message each wait about one message of each busy client.
      const meanwhile = echoes() - before;
      expect(meanwhile).toBeLessThan(BUSY * 20);
      // Taking turns keeps each connection's handlers one at a time, in order, every one answered.
      const want = Array.from({ length: SENT }, (_, m) => `echo:m${m}`);
      for (const c of busy) {
        while (c.messages.length < SENT + 1) await new Promise((r) => setTimeout(r, 20));
        expect(c.messages.slice(1)).toEqual(want);
      }
    }, 120_000);
  },
);
