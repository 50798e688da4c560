import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';

let gateway: PluginGateway | undefined;
let root: string | undefined;
afterEach(async () => {
  await gateway?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
  gateway = root = undefined;
});

function plugin(name: string, yaml: string, code: string): string {
  const dir = path.join(root!, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'plugin.yaml'), `name: ${name}\nversion: 1.0.0\n${yaml}`);
  writeFileSync(path.join(dir, 'index.js'), code);
  return dir;
}

/**
 * `ctx.call()` acts for the caller of the request a plugin serves, looked up by request id. An event
 * handler's context carries the event's id, which the publishing plugin chooses: a publisher that
 * names the id of a request another plugin is serving must not make that plugin's event handler act
 * for that request's user (request ids are sequential and show in every error body).
 */
describe('an event whose id is another request id', () => {
  it("lends the subscriber's ctx.call() no identity", async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'pgw-event-id-'));
    const publisher = plugin(
      'publisher',
      `permissions:\n  events:\n    publish: ['job.*']\nendpoints:\n  - path: /publish\n    method: POST\n`,
      `export default { routes: { 'POST /publish': (req, ctx) => {
        ctx.publish({ id: req.body.id, type: 'job.run', payload: {} });
        return { statusCode: 202 };
      } } };`,
    );
    const worker = plugin(
      'worker',
      `permissions:\n  events:\n    subscribe: ['job.*']\ndependencies:\n  - service: whois\n    version: ^1.0.0\nendpoints:\n  - path: /hold\n    method: GET\n  - path: /seen\n    method: GET\n`,
      `let seen = [];
      export default {
        routes: {
          'GET /hold': () => new Promise((r) => setTimeout(() => r({ statusCode: 200 }), 600)),
          'GET /seen': () => ({ statusCode: 200, body: seen }),
        },
        async handleEvent(event, ctx) {
          const res = await ctx.call('whois', { method: 'GET', path: '/whois' });
          seen.push(res.body.userId);
        },
      };`,
    );
    gateway = new PluginGateway({ logger: false });
    gateway.provide('whois', '1.0.0', (req) => ({ statusCode: 200, body: { userId: req.userId } }));
    await gateway.load(publisher);
    await gateway.load(worker);
    await gateway.start();
    // Alice's request is in flight at the worker plugin under id "alice-req".
    const held = gateway.handle({ id: 'alice-req', method: 'GET', path: '/hold', userId: 'alice' });
    await new Promise((r) => setTimeout(r, 150));
    await gateway.handle({
      method: 'POST',
      path: '/publish',
      headers: { 'content-type': 'application/json' },
      body: { id: 'alice-req' },
    });
    expect((await held).statusCode).toBe(200);
    const seen = (await gateway.handle({ method: 'GET', path: '/seen' })).body as unknown[];
    expect(seen).toEqual([null]);
  });
});
