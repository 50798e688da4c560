/**
 * The lazy code check against imports that are slow to resolve: a package.json under the size cap whose
 * `exports` map holds 40,000 patterns makes each resolution walk it. The same import written hundreds of
 * times is resolved once; distinct ones at most `MAX_RESOLUTIONS` times, the rest left to the boot.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { MAX_RESOLUTIONS } from '../../src/loader/code-check/module-graph.js';

const scratch = mkdtempSync(path.join(import.meta.dirname, '..', '.resolve-bomb-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function pluginDir(name: string, code: string): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    `name: ${name}\nversion: 1.0.0\nendpoints:\n  - { method: GET, path: /${name} }\n`,
  );
  writeFileSync(path.join(dir, 'index.js'), code);
  return dir;
}

const serving = (name: string) =>
  `export default { routes: { 'GET /${name}': () => ({ statusCode: 200, body: '${name}' }) } };\n`;

/**
 * A plugin whose entry imports `p/q` `imports` times (or `p/k<i>/q`, each a distinct specifier); `p`'s
 * exports map has 40,000 patterns, so that each resolution walks it (~120 ms here).
 */
function bombDir(name: string, imports: number, distinct = false): string {
  const lines = Array.from(
    { length: imports },
    (_, i) => `import 'p/${distinct ? `k${i}/` : ''}q';\n`,
  );
  const dir = pluginDir(name, `${lines.join('')}${serving(name)}`);
  const pkg = path.join(dir, 'node_modules', 'p');
  mkdirSync(pkg, { recursive: true });
  const exportsMap: Record<string, string> = {};
  for (let i = 0; i < 40_000; i++) exportsMap[`./k${i}/*`] = './x.js';
  exportsMap['./*'] = './x.js';
  writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'p', exports: exportsMap }));
  writeFileSync(path.join(pkg, 'x.js'), '');
  return dir;
}

/** Asks `path` until it answers 200 (503 until start() reaches it), for `ms`. */
async function answersWithin(gateway: PluginGateway, p: string, ms: number): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until;) {
    const res = await gateway.handle({ method: 'GET', path: p, headers: {} });
    if (res.statusCode === 200) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

it("a hostile plugin's repeated import is resolved once: the plugins behind it start", async () => {
  const gateway = new PluginGateway({ logger: false });
  try {
    await gateway.load(bombDir('bomb', 600)); // ~75 s of resolving, were each import resolved
    await gateway.load(pluginDir('victim', serving('victim')));
    void gateway.start().catch(() => {});
    expect(await answersWithin(gateway, '/victim', 30_000)).toBe(true);
  } finally {
    await Promise.race([gateway.stop(), new Promise((r) => setTimeout(r, 5000))]);
  }
}, 90_000);

it('distinct slow imports: past MAX_RESOLUTIONS the rest are left to the boot, and the plugins behind it start', async () => {
  const gateway = new PluginGateway({ logger: false });
  try {
    // ~17 ms a resolution on a quiet machine, ~120 ms on a loaded one: 5,000 would hold the check's
    // thread for minutes; MAX_RESOLUTIONS of them take seconds.
    await gateway.load(bombDir('distinct', 5000, true));
    await gateway.load(pluginDir('victim', serving('victim')));
    void gateway.start().catch(() => {});
    expect(MAX_RESOLUTIONS).toBeLessThan(5000);
    expect(await answersWithin(gateway, '/victim', 60_000)).toBe(true);
  } finally {
    await Promise.race([gateway.stop(), new Promise((r) => setTimeout(r, 5000))]);
  }
}, 120_000);
