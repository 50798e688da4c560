import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';

let gateway: PluginGateway | undefined;
let dir: string | undefined;
afterEach(async () => {
  await gateway?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  gateway = dir = undefined;
});

/**
 * A thread (4 MiB of stack) can serialise a reply nested far deeper than the host's main thread can
 * read back (~1,900 levels): Node drops such a message on the host ('messageerror'), so the request
 * waited for its deadline, and its slot and Piscina's task stayed taken for ever — a plugin returning
 * a long linked list ended up answering 503 OVERLOADED to everything. Such a reply is refused in the
 * thread instead, like any reply that cannot leave it.
 */
describe('a reply nested deeper than the host can read', () => {
  it('is a 500 PGW_ERR_BAD_RESPONSE at once, and leaves no slot taken', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-deep-reply-'));
    writeFileSync(
      path.join(dir, 'plugin.yaml'),
      'name: deep\nversion: 1.0.0\nendpoints:\n  - path: /deep\n    method: POST\n    timeout: 5s\n',
    );
    writeFileSync(
      path.join(dir, 'index.js'),
      `export default { routes: { 'POST /deep': (req) => {
        let list = null;
        for (let i = 0; i < req.body.depth; i++) list = { next: list };
        return { statusCode: 200, body: list };
      } } };`,
    );
    gateway = new PluginGateway({ logger: false, maxInFlight: 2 });
    await gateway.load(dir);
    await gateway.start();
    const post = (depth: number) =>
      gateway!.handle({ method: 'POST', path: '/deep', headers: {}, body: { depth } });
    for (let i = 0; i < 3; i++) {
      const res = await post(5000);
      expect(res.statusCode).toBe(500);
      expect((res.body as { error: { code: string } }).error.code).toBe('PGW_ERR_BAD_RESPONSE');
    }
    // Deep, but within what the host reads: still served.
    expect((await post(500)).statusCode).toBe(200);
  }, 60_000);
});
