// A reply that passes the thread's check but cannot be posted (a getter that answers a string to the
// check and a function to the clone) is answered at once as the plugin's fault, alone or batched, and
// frees its slot: the harness posts answers so that a failure throws, and sends a `bad-response` in
// their place. A thread that stops listening on its parent port (and so never takes a lone task) is
// found dead by the liveness probe and ended: lone tasks are not handed to it for good.
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

function plugin(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-unsendable-reply-'));
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    [
      'name: unsendable-reply',
      'version: 1.0.0',
      'resources:',
      '  cpu: 1',
      'endpoints:',
      '  - { path: /two-faced, method: GET, timeout: 2s }',
      '  - { path: /ok, method: GET, timeout: 2s }',
      '  - { path: /deafen, method: GET }',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(dir, 'index.js'),
    `import { parentPort } from 'node:worker_threads';
export default {
  routes: {
    'GET /two-faced': () => {
      let reads = 0;
      const body = {
        get text() {
          return reads++ === 0 ? 'checked' : () => 'not cloneable';
        },
      };
      return { statusCode: 200, body };
    },
    'GET /ok': () => ({ statusCode: 200, body: { ok: true } }),
    // The harness's control listener gone (a library that cleans up the port's listeners will do).
    'GET /deafen': () => {
      parentPort.removeAllListeners('message');
      return { statusCode: 200, body: { deaf: true } };
    },
  },
};
`,
  );
  return dir;
}

describe('a lone task whose reply cannot be posted (ADR 0370)', () => {
  it('is answered at once as the plugin’s fault, and its slot is freed', async () => {
    gateway = new PluginGateway({
      logger: false,
      warm: true,
      timeoutGrace: 100,
      idleTimeout: '300ms',
    });
    await gateway.load(plugin());
    await gateway.start();
    expect((await get(gateway, '/ok')).statusCode).toBe(200); // through Piscina: the thread is warm
    const started = Date.now();
    const res = await get(gateway, '/two-faced');
    const waited = Date.now() - started;
    // Not the deadline's 504 after 2 s: the reply is known lost (500) well before.
    expect.soft(res.statusCode).toBe(500);
    expect.soft(waited).toBeLessThan(1500);
    await new Promise((r) => setTimeout(r, 500));
    expect.soft(gateway.metrics('unsendable-reply').active_connections).toBe(0);
    // Nothing in flight: the thread ends after its idle timeout (300 ms) as any idle thread does.
    await new Promise((r) => setTimeout(r, 1500));
    expect(gateway.metrics('unsendable-reply').threads).toBe(0);
  }, 20_000);

  // Pre-existing on main (ADR 0300's batched path, same `note()`: `flush`'s one-by-one fallback never
  // runs): the `replies` note that carries the two-faced answer is dropped, its slot never freed.
  it('a batched two-faced reply: a 500 for it, the honest ones answered, no slot kept', async () => {
    gateway = new PluginGateway({ logger: false, warm: true, timeoutGrace: 100 });
    await gateway.load(plugin());
    await gateway.start();
    expect((await get(gateway, '/ok')).statusCode).toBe(200);
    const answers = await Promise.all([
      get(gateway, '/ok'),
      get(gateway, '/two-faced'),
      get(gateway, '/ok'),
      get(gateway, '/ok'),
    ]);
    expect.soft(answers.map((a) => a.statusCode)).toEqual([200, 500, 200, 200]);
    await new Promise((r) => setTimeout(r, 500));
    expect(gateway.metrics('unsendable-reply').active_connections).toBe(0);
  }, 20_000);

  // Before ADR 0370 such a thread still served every request (they came through Piscina's own port).
  // A lone task sent on its parent port is never run: the slot says no plugin code saw it (0), so the
  // host neither abandons nor ends the thread; the slot stays taken and the thread never idles out.
  it('a thread that stopped listening on its parent port is not handed lone tasks for good', async () => {
    gateway = new PluginGateway({
      logger: false,
      warm: true,
      timeoutGrace: 100,
      idleTimeout: '300ms',
    });
    await gateway.load(plugin());
    await gateway.start();
    expect((await get(gateway, '/deafen')).statusCode).toBe(200);
    // This one may be lost (504 at its deadline); what must not stay is its slot and a pinned thread.
    await get(gateway, '/ok');
    await new Promise((r) => setTimeout(r, 500));
    expect.soft(gateway.metrics('unsendable-reply').active_connections).toBe(0);
    await new Promise((r) => setTimeout(r, 1500));
    expect(gateway.metrics('unsendable-reply').threads).toBe(0);
  }, 20_000);
});
