import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPacked, type InstalledProject } from './tarball.js';

/** A plugin folder in the project: `index.js` as given, one `GET /<name>` endpoint. */
function plugin(project: InstalledProject, name: string, code: string): void {
  const dir = path.join(project.dir, 'plugins', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    `name: ${name}\nversion: 1.0.0\nendpoints:\n  - { path: /${name}, method: GET }\n`,
  );
  writeFileSync(path.join(dir, 'index.js'), code);
}

const good = (name: string) => `import { definePlugin } from '@veza/plugin-gateway/sdk';
export default definePlugin({
  routes: { 'GET /${name}': () => ({ statusCode: 200, body: { hello: '${name}' } }) },
});
`;

// The new default as a new user meets it: an installed package, plugins in the app's folder.
describe('lazy by default, from the packed package', () => {
  let project: InstalledProject;
  beforeAll(() => {
    project = installPacked();
    for (const name of ['one', 'two', 'three']) plugin(project, name, good(name));
    plugin(
      project,
      'broken',
      `import { definePlugin } from '@veza/plugin-gateway/sdk';
export default definePlugin({
  routes: { 'GET /broken': () => ({ statusCode: 200 }) ) },
});
`,
    );
    plugin(
      project,
      'needs-pkg',
      `import { definePlugin } from '@veza/plugin-gateway/sdk';
import pad from 'left-pad';
export default definePlugin({ routes: { 'GET /needs-pkg': () => ({ statusCode: 200, body: pad }) } });
`,
    );
  }, 120_000);
  afterAll(() => project?.close());

  it('start() boots no thread, fails a broken plugin with its line, and wakes on first request', () => {
    writeFileSync(
      path.join(project.dir, 'app.mjs'),
      `import { PluginGateway } from '@veza/plugin-gateway';
const gateway = new PluginGateway({ logger: false, maxAwake: 2 });
for (const name of ['one', 'two', 'three', 'broken']) await gateway.load('./plugins/' + name);
await gateway.start();
const out = {
  statuses: Object.fromEntries(gateway.list().map((p) => [p.name, p.status])),
  reason: gateway.get('broken').reason,
  threadsAfterStart: ['one', 'two', 'three'].map((n) => gateway.metrics(n).threads),
  answers: [],
};
for (const name of ['one', 'two', 'three', 'one']) {
  const res = await gateway.handle({ method: 'GET', path: '/' + name, headers: {} });
  out.answers.push(res.statusCode);
}
await new Promise((r) => setTimeout(r, 500));
out.threadsAfter = ['one', 'two', 'three'].map((n) => gateway.metrics(n).threads);
try {
  await gateway.load('./plugins/needs-pkg');
} catch (error) {
  out.loadError = { code: error.code, location: error.location, hint: error.hint };
}
await gateway.stop();
console.log(JSON.stringify(out));
`,
    );
    const run = project.node(['app.mjs']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(out.statuses).toEqual({
      one: 'active',
      two: 'active',
      three: 'active',
      broken: 'failed',
    });
    expect(out.reason).toContain(
      `${path.join(project.dir, 'plugins/broken/index.js')}:3:56: SyntaxError: Unexpected token ')'`,
    );
    expect(out.threadsAfterStart).toEqual([0, 0, 0]);
    expect(out.answers).toEqual([200, 200, 200, 200]);
    // maxAwake: 2 — three plugins woken, at most two keep a thread.
    expect((out.threadsAfter as number[]).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2);
    expect(out.loadError).toEqual({
      code: 'PGW_ERR_PLUGIN_CODE',
      location: { file: path.join(project.dir, 'plugins/needs-pkg/index.js'), line: 2, column: 17 },
      hint: "install it in the plugin's folder: npm i left-pad",
    });
  });
});
