/**
 * A lazy plugin put back to sleep by `maxAwake` gets a fresh runtime when it wakes. Its key/value store
 * used to be made with each runtime, so one request to another plugin wiped it (counters, sessions and
 * quotas silently lost). The store is the instance's now: it outlives the sleep, as it outlives a restart.
 * The plugin is a small AssemblyScript module (test/fixtures/kv-keeper/assembly, built plugin.wasm).
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { fixture } from '../helpers.js';

const scratch = mkdtempSync(path.join(import.meta.dirname, '..', '.kv-sleep-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The kv-keeper module as plugin `name`, serving `/{prefix}/put` and `/{prefix}/get`. */
function keeper(name: string, prefix: string): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(path.join(fixture('kv-keeper'), 'plugin.wasm'), path.join(dir, 'plugin.wasm'));
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    `name: ${name}\nversion: 1.0.0\nruntime: { type: wasm }\nresources: { memory: 32, disk: 1 }\nendpoints:\n  - { method: POST, path: /${prefix}/put }\n  - { method: GET, path: /${prefix}/get }\n`,
  );
  return dir;
}

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

describe('maxAwake and the key/value store', () => {
  it("keeps a lazy plugin's store when another plugin's wake puts it back to sleep", async () => {
    const g = new PluginGateway({ logger: false, maxAwake: 1 });
    gateway = g;
    await g.load(keeper('kv-keeper', 'keeper'));
    await g.load(keeper('kv-other', 'other'));
    await g.start();
    const get = (p: string) => g.handle({ method: 'GET', path: `/${p}/get`, headers: {} });
    const put = await g.handle({ method: 'POST', path: '/keeper/put', headers: {}, body: {} });
    expect(put).toMatchObject({ statusCode: 200, body: 'stored' });
    expect(await get('keeper')).toMatchObject({ body: 'kept' });
    // One request to the other lazy plugin: with one awake place, kv-keeper goes to sleep.
    expect(await get('other')).toMatchObject({ statusCode: 200, body: 'missing' });
    await expect.poll(() => g.metrics('kv-keeper').threads ?? 0).toBe(0);
    expect(await get('keeper')).toMatchObject({ statusCode: 200, body: 'kept' });
  }, 60_000);
});
