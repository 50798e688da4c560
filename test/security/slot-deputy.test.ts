// A thread stuck outside any task the slot table names is still ended (thread-liveness.ts). Plugin
// code can make its own harness mark every slot as "left" (a `ctl: 'task'` message emitted on its
// parent port, or a forged Piscina task on Piscina's task port), then block: the slot table names no
// holder. It can also block in a timer, holding no task at all. Either way the requests sent to the
// thread time out, the host finds no holder, asks its threads for a `pong` and ends the one that does
// not answer within the grace; the next request is served by a fresh thread.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { get } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

function forgerPlugin(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-slot-deputy-'));
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    [
      'name: slot-deputy',
      'version: 1.0.0',
      'resources:',
      '  cpu: 1',
      'endpoints:',
      '  - { path: /deputy/spin, method: GET, timeout: 300ms }',
      '  - { path: /deputy/ok, method: GET }',
      '  - { path: /deputy/plain, method: GET, timeout: 300ms }',
      '  - { path: /deputy/piscina, method: GET, timeout: 300ms }',
      '  - { path: /deputy/timer, method: GET, timeout: 300ms }',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(dir, 'index.js'),
    `import { MessagePort, parentPort, threadId } from 'node:worker_threads';
// Piscina's own task port, taken when the harness answers a Piscina task on it; the harness file
// Piscina loads, read off the stack of a route called through Piscina.
let taskPort;
let harnessFile;
const post = MessagePort.prototype.postMessage;
MessagePort.prototype.postMessage = function (message, ...rest) {
  if (message && typeof message === 'object' && 'taskId' in message) taskPort = this;
  return post.call(this, message, ...rest);
};
export default {
  routes: {
    'GET /deputy/spin': () => {
      // The harness's own control listener runs a task for every slot: no route, answered at once,
      // so each slot ends as "left by this thread" (-threadId). Then block for ever.
      for (let s = 0; s < 1024; s++)
        parentPort.emit('message', {
          ctl: 'task',
          task: { t: 'req', k: 'GET /none', r: {}, s, d: Date.now() + 600000, q: 0 },
        });
      for (;;);
    },
    'GET /deputy/plain': () => {
      for (;;);
    },
    'GET /deputy/timer': () => {
      // Answered; then the thread blocks in a timer, holding no task at all.
      setTimeout(() => {
        for (;;);
      }, 5);
      return { statusCode: 200, body: { threadId } };
    },
    'GET /deputy/piscina': async () => {
      // The same through Piscina's task port (main before ADR 0370): Piscina's worker runs the
      // harness's task function for a task the host never sent.
      for (let s = 0; s < 1024; s++)
        taskPort.emit('message', {
          taskId: 1e9 + s,
          task: { t: 'req', k: 'GET /none', r: {}, s, d: Date.now() + 600000 },
          filename: harnessFile,
          name: 'default',
        });
      await new Promise((r) => setTimeout(r, 50));
      for (;;);
    },
    'GET /deputy/ok': () => {
      for (const line of String(new Error().stack).split('\\n')) {
        const at = line.indexOf('worker-entry.js') >= 0 ? line.indexOf('worker-entry.js') + 15
          : line.indexOf('worker/entry.ts') >= 0 ? line.indexOf('worker/entry.ts') + 15 : -1;
        if (at < 0 || harnessFile) continue;
        const from = line.lastIndexOf('(') >= 0 ? line.lastIndexOf('(') + 1 : line.indexOf('at ') + 3;
        harnessFile = line.slice(from, at).replace('file://', '');
      }
      return { statusCode: 200, body: { threadId, harnessFile, port: taskPort !== undefined } };
    },
  },
};
`,
  );
  return dir;
}

async function spinsThenRecovers(route: string, together = false): Promise<void> {
  gateway = new PluginGateway({
    logger: false,
    warm: true,
    timeoutGrace: 100,
  });
  await gateway.load(forgerPlugin());
  await gateway.start();
  await get(gateway, '/deputy/ok'); // answered through Piscina: its task port is taken
  const before = await get(gateway, '/deputy/ok');
  expect(before.statusCode, JSON.stringify(before.body)).toBe(200);
  if (route === '/deputy/piscina') expect(before.body).toMatchObject({ port: true });
  if (route === '/deputy/piscina')
    expect((before.body as { harnessFile?: string }).harnessFile).toBeTruthy();
  const first = (before.body as { threadId: number }).threadId;
  // Through Piscina's door, the spinning request is sent while another is in flight (never alone, so
  // never on the thread's own port since ADR 0370): it goes through Piscina, as every request did before.
  const spun = together
    ? (await Promise.all([get(gateway, '/deputy/ok'), get(gateway, route)]))[1]
    : await get(gateway, route);
  expect(spun.statusCode).toBe(504);
  let after: Awaited<ReturnType<typeof get>> | undefined;
  for (let i = 0; i < 30; i++) {
    after = await get(gateway, '/deputy/ok');
    if (after.statusCode === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // The spinning thread must be ended by the host and the next request served by a new one.
  expect(after?.statusCode).toBe(200);
  expect((after?.body as { threadId: number }).threadId).not.toBe(first);
}

describe('a thread stuck where the slot table names no holder is ended', () => {
  it('control: a plain spinning thread is ended after the grace', async () => {
    await spinsThenRecovers('/deputy/plain');
  }, 30_000);

  it('a plugin that makes its harness mark every slot as left, then spins, still loses its thread', async () => {
    await spinsThenRecovers('/deputy/spin');
  }, 30_000);

  it('control: a plain spinning thread sent with another in flight (through Piscina) is ended', async () => {
    await spinsThenRecovers('/deputy/plain', true);
  }, 30_000);

  it("the same through Piscina's task port (a forged Piscina task): the thread is still ended", async () => {
    await spinsThenRecovers('/deputy/piscina', true);
  }, 30_000);

  it('a plugin that blocks in a timer, holding no task: the next request times out, the thread is ended', async () => {
    gateway = new PluginGateway({ logger: false, warm: true, timeoutGrace: 100 });
    await gateway.load(forgerPlugin());
    await gateway.start();
    const armed = await get(gateway, '/deputy/timer');
    expect(armed.statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    expect((await get(gateway, '/deputy/timer')).statusCode).toBe(504);
    let after: Awaited<ReturnType<typeof get>> | undefined;
    for (let i = 0; i < 30; i++) {
      after = await get(gateway, '/deputy/ok');
      if (after.statusCode === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(after?.statusCode).toBe(200);
    expect((after?.body as { threadId: number }).threadId).not.toBe(
      (armed.body as { threadId: number }).threadId,
    );
    expect(gateway.metrics('slot-deputy').crashes).toBe(0);
  }, 30_000);
});
