/**
 * Threat model, WebSockets: a connection that closed has left every topic of its plugin, and nothing
 * the plugin does afterwards puts it back. A plugin is told of a close (`closed`) and runs its
 * handlers still queued for that connection, then its `close` handler; any of them may call
 * `subscribe()`, and a process may write `sub` notes of its own making and never say `done`. Before
 * the fix each such note subscribed the dead connection again, and the topic table kept it for good
 * (256 topics a connection, every connection a client opens and closes). Both runtimes: the worker's
 * live thread and a `process` plugin in bubblewrap, and the host's own `LiveConnection`.
 */
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { LiveConnection } from '../../src/core/live-connection.js';
import { TopicTable } from '../../src/core/live-topics.js';
import { PluginGateway } from '../../src/index.js';
import { ProcessSockets } from '../../src/loader/process/process-sockets.js';
import { closeServer } from '../helpers.js';
import { connect, liveServer } from '../live-clients.js';
import { haveBwrap, removeProcessPlugins, writePlugin } from '../process-live-plugins.js';

/** Stands in for a `ws` socket: what `LiveConnection` uses of it. */
class FakeWs extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  pause() {}
  resume() {}
  ping() {}
  terminate() {}
  send() {}
  close() {}
}

const quiet = () => {};

function connection(topics: TopicTable, ws: FakeWs): LiveConnection {
  return new LiveConnection(ws as never, {
    id: 'r-1',
    plugin: 'p',
    version: '1.0.0',
    path: '/room',
    userId: undefined,
    settings: { max_buffered_bytes: 1 << 20 } as never,
    idleMs: 60_000,
    rate: undefined,
    topics,
    log: { info: quiet, warn: quiet, error: quiet, debug: quiet } as never,
    ended: quiet,
  });
}

describe('a closed connection and its topics, on the host', () => {
  it('a process told of the close cannot subscribe the connection back, done or not', () => {
    const topics = new TopicTable();
    const ws = new FakeWs();
    const conn = connection(topics, ws);
    const posted: unknown[] = [];
    const violations: string[] = [];
    const sockets = new ProcessSockets<string>({
      post: (_child, frame) => posted.push(frame),
      deliver: () => false,
      violation: (reason) => violations.push(reason),
      idle: quiet,
    });
    conn.attach(sockets.open('child-1', 1, conn, 'GET /room', { id: 'r-1' } as never));
    sockets.onNote('child-1', { k: 'sub', c: 1, t: 'room' });
    expect(topics.count('room')).toBe(1);

    ws.readyState = 3;
    ws.emit('close', 1000, Buffer.from(''));
    expect(topics.count('room')).toBe(0);
    expect(posted).toContainEqual({ k: 'closed', c: 1, code: 1000, reason: '' });

    // Told of the close, it subscribes the gone connection to 256 topics and never says done.
    for (let i = 0; i < 256; i++) sockets.onNote('child-1', { k: 'sub', c: 1, t: `t${i}` });
    for (let i = 0; i < 256; i++) expect(topics.count(`t${i}`)).toBe(0);
    // An honest plugin's late handler does the same: ignored, not counted against it.
    expect(violations).toEqual([]);
    // Its close handler may still publish to the others (the room hears that someone left).
    const other = { send: vi.fn() };
    topics.subscribe('room', other);
    sockets.onNote('child-1', { k: 'pub', c: 1, t: 'room', d: 'left' });
    expect(other.send).toHaveBeenCalledWith('left');
  });

  it('a done beyond the events handed over is ignored: no credit a process did not earn', () => {
    const handled = vi.fn();
    const sockets = new ProcessSockets<string>({
      post: quiet,
      deliver: () => false,
      violation: quiet,
      idle: quiet,
    });
    const peer = {
      send: quiet,
      close: quiet,
      subscribe: quiet,
      unsubscribe: quiet,
      publish: quiet,
    };
    const link = sockets.open('child-1', 1, { ...peer, handled, hold: quiet }, 'GET /room', {
      id: 'r-1',
    } as never);
    link.message('one');
    // Open and one message were handed over: two acknowledgements count, the 98 forged do not.
    for (let i = 0; i < 100; i++) sockets.onNote('child-1', { k: 'done', c: 1 });
    expect(handled).toHaveBeenCalledTimes(2);
  });

  it('the connection itself refuses a subscribe once closed (whatever runtime asks)', () => {
    const topics = new TopicTable();
    const ws = new FakeWs();
    const conn = connection(topics, ws);
    conn.subscribe('before');
    ws.readyState = 3;
    ws.emit('close', 1006, Buffer.from(''));
    expect(topics.count('before')).toBe(0);
    conn.subscribe('after');
    expect(topics.count('after')).toBe(0);
  });
});

/** A room plugin whose late handlers subscribe: a message still queued at the close, and `close`. */
function latePlugin(runtime: 'worker' | 'process'): string {
  return writePlugin({
    'plugin.yaml': `name: late-${runtime}
version: 1.0.0
runtime:
  type: ${runtime}
resources:
  memory: 128
endpoints:
  - path: /late
    method: GET
    websocket: true
`,
    'index.js': `import { definePlugin } from '@veza/plugin-gateway/sdk';
export default definePlugin({
  websockets: {
    'GET /late': {
      open(ws) {
        ws.subscribe('lobby');
        ws.send('ready');
      },
      async message(ws, text) {
        if (text !== 'slow') return;
        ws.send('slow');
        await new Promise((r) => setTimeout(r, 300));
        for (let i = 0; i < 8; i++) ws.subscribe('late-message-' + i);
        ws.publish('lobby', 'message handler ran');
      },
      close(ws) {
        for (let i = 0; i < 8; i++) ws.subscribe('late-close-' + i);
        ws.publish('lobby', 'close handler ran');
      },
    },
  },
});
`,
  });
}

const bwrap = haveBwrap();
afterAll(removeProcessPlugins);
let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
  vi.restoreAllMocks();
});

describe.each([
  ['worker', true],
  ['process', bwrap],
] as const)('a closed connection and its topics, %s runtime', (runtime, runs) => {
  it.runIf(runs)(
    'handlers that run after the client left subscribe nothing; the room forgets the connection',
    async () => {
      const subscribe = vi.spyOn(TopicTable.prototype, 'subscribe');
      gateway = new PluginGateway({
        sandbox: { bwrap: true, requireBwrap: runtime === 'process' },
      });
      const name = `late-${runtime}`;
      await gateway.load(latePlugin(runtime));
      await gateway.start();
      const live = await liveServer(gateway);
      server = live.server;
      const observer = await connect(`${live.url}/late`);
      expect(await observer.next()).toBe('ready');
      const client = await connect(`${live.url}/late`);
      expect(await client.next()).toBe('ready');
      const table = subscribe.mock.contexts[0] as TopicTable;
      expect(table.count('lobby')).toBe(2);
      client.ws.send('slow');
      expect(await client.next()).toBe('slow');
      client.ws.close(1000);
      await client.closed;
      // The message handler still queued at the close ran, then the close handler: each asked to
      // subscribe the gone connection to 8 topics before publishing to the observer.
      expect(await observer.next()).toBe('message handler ran');
      expect(await observer.next()).toBe('close handler ran');
      await expect.poll(() => gateway!.metrics(name).active_connections).toBe(1);
      expect(table.count('lobby')).toBe(1);
      for (let i = 0; i < 8; i++) {
        expect(table.count(`late-message-${i}`)).toBe(0);
        expect(table.count(`late-close-${i}`)).toBe(0);
      }
    },
    30_000,
  );
});
