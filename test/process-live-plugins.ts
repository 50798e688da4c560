/**
 * Process plugins with WebSocket endpoints for the live-connection tests, written into the repository
 * (test/.swap-fixtures/, ignored by git) so that they resolve @veza/plugin-gateway/sdk as a host
 * app's plugins would, and run in the process runtime: its Node harness, in bubblewrap where it works.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bwrapReason, usable } from './services/toolchains.js';

const root = path.resolve(import.meta.dirname, '.swap-fixtures', `procws-${process.pid}`);

/** Whether the tests run in bubblewrap (else skipped, with the reason printed). */
export const haveBwrap = (): boolean =>
  usable('the process WebSocket tests', bwrapReason(), 'apt-get install -y bubblewrap');

/** Removes every plugin folder written by this test process. */
export const removeProcessPlugins = (): void => rmSync(root, { recursive: true, force: true });

/** Writes `files` (name to text) into a fresh folder; its path. */
export function writePlugin(files: Record<string, string>): string {
  const dir = path.join(root, Math.random().toString(36).slice(2, 10));
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

/**
 * A room plugin (`procroom`) that names its version: echo, publish to its room, close, crash, throw,
 * flood its client; `/members` admits the `member` role, at most 2 upgrades a minute a caller.
 */
export function roomPlugin(version = '1.0.0', extraYaml = ''): string {
  return writePlugin({
    'plugin.yaml': `name: procroom
version: ${version}
runtime:
  type: process
resources:
  memory: 128
endpoints:
  - path: /room/{room}
    method: GET
    websocket:
      max_message_bytes: 4096
      max_buffered_bytes: 262144
      max_connections: 8
  - path: /members
    method: GET
    roles: [member]
    rate_limit: 2/min
    websocket: true
  - path: /limited
    method: GET
    websocket:
      message_rate_limit: 2/min
${extraYaml}`,
    'index.js': `import { definePlugin } from '@veza/plugin-gateway/sdk';
const version = '${version}';
const CHUNK = 'x'.repeat(64 * 1024);
let closes = 0;
export default definePlugin({
  websockets: {
    'GET /room/{room}': {
      open(ws) {
        ws.data.room = ws.request.params.room;
        ws.subscribe(ws.data.room);
        ws.send(JSON.stringify({ joined: ws.data.room, version, pid: process.pid }));
      },
      message(ws, msg) {
        const text = typeof msg === 'string' ? msg : 'bytes:' + msg.byteLength;
        if (text === 'crash') process.exit(3);
        if (text === 'throw') throw new Error('handler failed');
        if (text === 'bye') return ws.close(4000, 'bye');
        if (text === 'closes') return ws.send('closes:' + closes);
        if (text.startsWith('flood:')) {
          for (let i = 0; i < Number(text.slice(6)); i++) ws.send(CHUNK);
          return;
        }
        if (text.startsWith('echo:')) return ws.send(version + ':' + text.slice(5));
        if (typeof msg !== 'string') return ws.send(msg);
        ws.publish(ws.data.room, text);
      },
      close(ws, code, reason, ctx) {
        closes++;
        ctx.log.info('left ' + version, { code, room: ws.data.room });
      },
    },
    'GET /members': { open: (ws) => ws.send('hello ' + ws.request.userId) },
    'GET /limited': { message: (ws, msg) => ws.send(msg) },
  },
});
`,
  });
}
