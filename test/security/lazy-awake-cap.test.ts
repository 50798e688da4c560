import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';

// Inside the repository, where plugins resolve `@veza/plugin-gateway/sdk` as an installed one would.
const scratch = mkdtempSync(path.join(import.meta.dirname, '..', '.code-check-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A plugin answering `GET /<name>` after `?ms=` milliseconds, with the thread it ran on. */
function plugin(name: string, version = '1.0.0', timeout?: string): string {
  const dir = path.join(scratch, version === '1.0.0' ? name : `${name}-${version}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    `name: ${name}\nversion: ${version}\nendpoints:\n  - { method: GET, path: /${name}${timeout ? `, timeout: ${timeout}` : ''} }\n`,
  );
  writeFileSync(
    path.join(dir, 'index.js'),
    `import { definePlugin } from '@veza/plugin-gateway/sdk';
export default definePlugin({
  routes: {
    'GET /${name}': async (req) => {
      await new Promise((r) => setTimeout(r, Number(req.query.ms ?? 0)));
      return { statusCode: 200, body: '${name}' };
    },
  },
});
`,
  );
  return dir;
}

const names = Array.from({ length: 10 }, (_, i) => `awake-${i}`);
const dirs = names.map((name) => plugin(name));

describe('maxAwake: a caller who knows every route cannot wake every lazy plugin', () => {
  let gateway: PluginGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  async function lazyGateway(maxAwake: number): Promise<PluginGateway> {
    const g = new PluginGateway({ logger: false, maxAwake, pluginTimeout: '60s' });
    for (const dir of dirs) await g.load(dir);
    await g.start();
    return g;
  }

  const threads = (g: PluginGateway) =>
    names.reduce((n, name) => n + (g.metrics(name).threads ?? 0), 0);

  it('lazy is the default: start() boots no thread', async () => {
    gateway = await lazyGateway(3);
    expect(gateway.list().every((p) => p.status === 'active')).toBe(true);
    expect(threads(gateway)).toBe(0);
  });

  it('wakes one plugin after another: every request answered, threads never past the cap', async () => {
    gateway = await lazyGateway(3);
    let most = 0;
    for (const round of [1, 2]) {
      for (const name of names) {
        const res = await gateway.handle({ method: 'GET', path: `/${name}`, headers: {} });
        expect(res, `${name} round ${round}`).toMatchObject({ statusCode: 200, body: name });
        most = Math.max(most, threads(gateway));
      }
    }
    // A plugin put to sleep ends its thread after its last request: one more may be ending.
    expect(most).toBeLessThanOrEqual(3 + 1);
    await expect.poll(() => threads(gateway!), { timeout: 10_000 }).toBeLessThanOrEqual(3);
    expect(names.filter((n) => (gateway!.metrics(n).threads ?? 0) > 0).length).toBeLessThanOrEqual(
      3,
    );
  });

  it('all at once: wakes wait for a place, and all are answered', async () => {
    gateway = await lazyGateway(2);
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, threads(gateway!))), 5);
    const answers = await Promise.all(
      names.map((name) => gateway!.handle({ method: 'GET', path: `/${name}?ms=50`, headers: {} })),
    );
    clearInterval(watch);
    expect(answers.map((a) => a.statusCode)).toEqual(names.map(() => 200));
    expect(answers.map((a) => a.body)).toEqual(names);
    expect(most).toBeLessThanOrEqual(2 + 1);
    await expect.poll(() => threads(gateway!), { timeout: 10_000 }).toBeLessThanOrEqual(2);
  });

  it('never puts a plugin to sleep in the middle of a request', async () => {
    gateway = await lazyGateway(1);
    const slow = gateway.handle({ method: 'GET', path: `/${names[0]}?ms=800`, headers: {} });
    await expect.poll(() => gateway!.metrics(names[0]!).threads).toBe(1);
    const other = gateway.handle({ method: 'GET', path: `/${names[1]}`, headers: {} });
    // The slow request finishes on its thread; only then does the other plugin wake.
    expect(await slow).toMatchObject({ statusCode: 200, body: names[0] });
    expect(await other).toMatchObject({ statusCode: 200, body: names[1] });
  });

  it('answers 503 "starting" with retry-after when every awake plugin stays busy past the timeout', async () => {
    const g = new PluginGateway({ logger: false, maxAwake: 1, pluginTimeout: '300ms' });
    gateway = g;
    // The awake plugin's own endpoint allows 5 s: busy for 1 s, it holds the one place well past the
    // other's 300 ms, whatever the machine's load.
    await g.load(plugin('awake-long', '1.0.0', '5s'));
    await g.load(dirs[1]!);
    await g.start();
    await g.handle({ method: 'GET', path: '/awake-long', headers: {} });
    const busy = g.handle({ method: 'GET', path: '/awake-long?ms=1000', headers: {} });
    const refused = await g.handle({ method: 'GET', path: `/${names[1]}`, headers: {} });
    expect(refused).toMatchObject({ statusCode: 503, headers: { 'retry-after': '1' } });
    expect((await busy).statusCode).toBe(200);
    // Once the busy one is idle, the other wakes in its place (its boot may itself pass 300 ms on a
    // busy machine: then that request is refused the same way, and the next one finds it awake).
    await expect
      .poll(
        async () =>
          (await g.handle({ method: 'GET', path: `/${names[1]}`, headers: {} })).statusCode,
        {
          timeout: 15_000,
        },
      )
      .toBe(200);
  });

  it('counts a swapped lazy version: it takes a place among the awake, and sleeps in its turn', async () => {
    const g = new PluginGateway({ logger: false, maxAwake: 1, pluginTimeout: '60s' });
    gateway = g;
    const [awake, swapped] = [names[0]!, names[1]!];
    for (const dir of dirs.slice(0, 2)) await g.load(dir);
    await g.start();
    await g.handle({ method: 'GET', path: `/${awake}`, headers: {} });
    expect(g.metrics(awake).threads).toBe(1);
    // The swap boots the new version: it takes the one place, so the plugin holding it goes to sleep.
    await g.swap(swapped, plugin(swapped, '2.0.0'));
    expect(g.get(swapped)).toMatchObject({ version: '2.0.0', status: 'active' });
    await expect.poll(() => g.metrics(awake).threads ?? 0, { timeout: 10_000 }).toBe(0);
    expect(g.metrics(swapped).threads).toBe(1);
    // The new version is one of the awake like any other: the next wake puts it to sleep.
    const res = await g.handle({ method: 'GET', path: `/${awake}`, headers: {} });
    expect(res).toMatchObject({ statusCode: 200, body: awake });
    await expect.poll(() => g.metrics(swapped).threads ?? 0, { timeout: 10_000 }).toBe(0);
    const again = await g.handle({ method: 'GET', path: `/${swapped}`, headers: {} });
    expect(again).toMatchObject({ statusCode: 200, body: swapped });
  });
});
