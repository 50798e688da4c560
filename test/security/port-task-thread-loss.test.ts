// A lone task sent on the warm thread's own port (ADR 0370) while that thread is about to die (its
// event loop blocked by a timer of the plugin, then process.exit) was seen by no plugin code: it goes
// once more, through Piscina, to a new thread, and is answered; it is not run twice, and nothing stays
// in flight.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { get } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

function plugin(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-port-thread-loss-'));
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    [
      'name: port-thread-loss',
      'version: 1.0.0',
      'resources:',
      '  cpu: 1',
      'endpoints:',
      '  - { path: /arm, method: GET }',
      '  - { path: /who, method: POST, timeout: 3s }',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(dir, 'index.js'),
    `import { threadId } from 'node:worker_threads';
let runs = 0;
export default {
  routes: {
    'GET /arm': () => {
      // Answered; then the thread is busy for 300 ms outside any task, and exits.
      setTimeout(() => {
        const end = Date.now() + 300;
        while (Date.now() < end);
        process.exit(3);
      }, 20);
      return { statusCode: 200, body: { threadId } };
    },
    'POST /who': () => ({ statusCode: 200, body: { threadId, runs: ++runs } }),
  },
};
`,
  );
  return dir;
}

describe('a lone task on the port of a thread about to die', () => {
  it('is run once, on another thread, and nothing stays in flight', async () => {
    gateway = new PluginGateway({ logger: false, warm: true });
    await gateway.load(plugin());
    await gateway.start();
    const armed = await get(gateway, '/arm');
    expect(armed.statusCode).toBe(200);
    const first = (armed.body as { threadId: number }).threadId;
    await new Promise((r) => setTimeout(r, 60)); // the thread now spins, the port task waits
    // Counted: the task did go by the dying thread's port (ADR 0370), not only through Piscina.
    const toThread = Worker.prototype.postMessage;
    let byPort = 0;
    Worker.prototype.postMessage = function (
      this: Worker,
      ...args: Parameters<Worker['postMessage']>
    ) {
      if ((args[0] as { ctl?: unknown } | null)?.ctl === 'task') byPort++;
      return toThread.apply(this, args);
    };
    let res;
    try {
      res = await gateway.handle({ method: 'POST', path: '/who', headers: {}, body: {} });
    } finally {
      Worker.prototype.postMessage = toThread;
    }
    expect(byPort).toBe(1);
    expect(res.statusCode).toBe(200);
    expect((res.body as { threadId: number }).threadId).not.toBe(first);
    expect((res.body as { runs: number }).runs).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(gateway.metrics('port-thread-loss').active_connections).toBe(0);
  }, 20_000);
});
