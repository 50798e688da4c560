// ADR 0305: what the host holds of a streamed chunk is its own memory, about the chunk's size. The
// thread's copy into a buffer of its own runs in the plugin's realm, so it cannot be relied on: plugin
// code that patches MessagePort.prototype.postMessage (a global the lockdown leaves) could hand the host
// a view on a SharedArrayBuffer it keeps writing, or a 1 KiB view on a 16 MiB buffer, moved
// (max_chunk_bytes measures the view). The host measures and copies (hostOwnedChunk).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import type { StreamBody } from '../../src/core/live-stream.js';

const PLUGIN = `
const original = MessagePort.prototype.postMessage;
let mode = '';
MessagePort.prototype.postMessage = function (note, transfer) {
  if (note && note.k === 'chunk' && typeof note.d === 'object' && mode !== '') {
    if (mode === 'shared') {
      const view = new Uint8Array(new SharedArrayBuffer(note.d.byteLength));
      view.set(note.d);
      // The bytes the host now holds, changed after it took them.
      setTimeout(() => view.fill(66), 50);
      return original.call(this, { ...note, d: view });
    }
    if (mode === 'big') {
      const big = new ArrayBuffer(16 * 1024 * 1024);
      const view = new Uint8Array(big, 0, note.d.byteLength);
      view.set(note.d);
      return original.call(this, { ...note, d: view }, [big]);
    }
  }
  return original.call(this, note, transfer);
};
const chunks = (n) => (async function* () {
  for (let i = 0; i < n; i++) yield new Uint8Array(1024).fill(65);
})();
export default {
  routes: {
    'GET /shared': () => { mode = 'shared'; return { statusCode: 200, body: chunks(4) }; },
    'GET /big': () => { mode = 'big'; return { statusCode: 200, body: chunks(4) }; },
    // No patching: a small view of a big buffer, yielded as it is.
    'GET /view': () => {
      mode = '';
      return {
        statusCode: 200,
        body: (async function* () {
          for (let i = 0; i < 4; i++) yield new Uint8Array(new ArrayBuffer(16 * 1024 * 1024), 0, 1024).fill(65);
        })(),
      };
    },
  },
};
`;

const MANIFEST = `name: rt-chunks
version: 1.0.0
resources:
  memory: 256
endpoints:
  - { path: /shared, method: GET, stream: true }
  - { path: /big, method: GET, stream: true }
  - { path: /view, method: GET, stream: true }
`;

let dir: string;
let gateway: PluginGateway;
beforeAll(async () => {
  dir = mkdtempSync(path.join(import.meta.dirname, '.download-chunks-'));
  writeFileSync(path.join(dir, 'plugin.yaml'), MANIFEST);
  writeFileSync(path.join(dir, 'index.js'), PLUGIN);
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
  gateway = new PluginGateway({ logger: false, warm: true });
  await gateway.load(dir);
  await gateway.start();
}, 60_000);
afterAll(async () => {
  await gateway?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Each chunk the host's stream body yields: its kind of memory, its buffer's size, its bytes later. */
async function chunksOf(route: string) {
  const res = await gateway.handle({ method: 'GET', path: route, headers: {} });
  expect(res.statusCode).toBe(200);
  const seen: {
    memory: string;
    bufferBytes: number;
    bytes: number;
    later?: Uint8Array;
    now: Uint8Array;
  }[] = [];
  for await (const chunk of res.body as StreamBody) {
    if (typeof chunk === 'string') continue;
    seen.push({
      memory: Object.prototype.toString.call(chunk.buffer),
      bufferBytes: chunk.buffer.byteLength,
      bytes: chunk.byteLength,
      now: chunk,
      later: Uint8Array.from(chunk),
    });
  }
  return seen;
}

it('a chunk the host holds is never memory the plugin shares (its bytes cannot change under the host)', async () => {
  const seen = await chunksOf('/shared');
  expect(seen.length).toBe(4);
  await new Promise((r) => setTimeout(r, 200));
  for (const c of seen) {
    expect(c.memory).toBe('[object ArrayBuffer]');
    // What the host took is what it still holds.
    expect(c.now.every((b) => b === 65)).toBe(true);
  }
}, 30_000);

it("a chunk's buffer the host holds is about the chunk's size, whatever buffer the thread sent", async () => {
  for (const route of ['/view', '/big']) {
    const seen = await chunksOf(route);
    expect(seen.length, route).toBe(4);
    for (const c of seen)
      expect(c.bufferBytes, route).toBeLessThanOrEqual(2 * Math.max(c.bytes, 1024));
  }
}, 30_000);
