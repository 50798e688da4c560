import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';

/**
 * A request that cannot be copied to the plugin's thread (a Symbol or function the host passes in a
 * body, or a peer's body nested deeper than structured clone follows) used to be re-dispatched for
 * ever: Piscina rejects such a task at once, its slot is still 0 ("no plugin code saw it"), so it went
 * back to the pool — in a microtask loop that starved the host's event loop. It runs in a child
 * process so that the test can end it when the host hangs.
 */
describe('a request that cannot be copied to a thread', () => {
  it('is answered once, and the host keeps running (handle() and a peer call on 127.0.0.1)', async () => {
    const script = path.join(import.meta.dirname, 'unsendable.child.ts');
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', script],
        { timeout: 20_000, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 },
        (error, stdout, stderr) =>
          error ? reject(new Error(`child: ${error.message}\n${stderr}`)) : resolve(stdout),
      );
    });
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as {
      handled: { statusCode: number; body: { error: { code: string } } };
      peer: { status: number; answer: { response: { statusCode: number } } };
      timersRan: boolean;
      after: number;
      status: string;
    };
    expect(result.handled.statusCode).toBe(500);
    expect(result.handled.body.error.code).toBe('PGW_ERR_GATEWAY_ERROR');
    expect(result.peer.status).toBe(200);
    expect(result.peer.answer.response.statusCode).toBe(500);
    expect(result.timersRan).toBe(true);
    // Not the plugin's fault: it still serves, its breaker closed.
    expect(result.after).toBe(200);
    expect(result.status).toBe('active');
  }, 30_000);
});

describe('a thread that dies of a RangeError', () => {
  it('is still a crash, not a request that could not be sent', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-overflow-'));
    writeFileSync(
      path.join(dir, 'plugin.yaml'),
      'name: overflow\nversion: 1.0.0\nendpoints:\n  - path: /overflow\n    method: POST\n',
    );
    writeFileSync(
      path.join(dir, 'index.js'),
      `const f = () => f() + 1;
export default { routes: { 'POST /overflow': () => new Promise(() => setImmediate(f)) } };`,
    );
    const gateway = new PluginGateway({ logger: false, pluginTimeout: '5s' });
    try {
      await gateway.load(dir);
      await gateway.start();
      const res = await gateway.handle({ method: 'POST', path: '/overflow', headers: {} });
      expect(res.statusCode).toBe(500);
      expect((res.body as { error: { code: string } }).error.code).toBe('PGW_ERR_PLUGIN_CRASHED');
    } finally {
      await gateway.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
