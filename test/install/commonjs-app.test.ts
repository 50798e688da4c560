import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPacked, type InstalledProject } from './tarball.js';

// A CommonJS app (its package.json has no "type") with a plugin written as the README shows, in a
// folder without a package.json of its own: Node reads the plugin's file as CommonJS.
describe('a CommonJS app whose plugin folder lacks {"type":"module"}', () => {
  let project: InstalledProject;
  let plugin: string;
  beforeAll(() => {
    project = installPacked({ type: 'commonjs' });
    plugin = path.join(project.dir, 'plugins/hello');
    mkdirSync(plugin, { recursive: true });
    writeFileSync(
      path.join(plugin, 'plugin.yaml'),
      'name: hello\nversion: 1.0.0\nmain: index.js\nendpoints:\n  - path: /hello/{name}\n    method: GET\n',
    );
    writeFileSync(
      path.join(plugin, 'index.js'),
      `// hello: greets by name
import { definePlugin } from '@veza/plugin-gateway/sdk';
export default definePlugin({
  routes: { 'GET /hello/{name}': (req) => ({ statusCode: 200, body: { hi: req.params.name } }) },
});
`,
    );
    writeFileSync(
      path.join(project.dir, 'app.js'),
      `const { PluginGateway } = require('@veza/plugin-gateway');
(async () => {
  const gateway = new PluginGateway();
  await gateway.load(__dirname + '/plugins/hello');
  await gateway.start();
  await gateway.stop();
})();
`,
    );
  }, 120_000);
  afterAll(() => project?.close());

  const expected = {
    code: 'PGW_ERR_PLUGIN_CODE',
    location: { line: 2, column: 1 },
    hint: expect.stringContaining('"type": "module"'),
  };

  it('the gateway logs PGW_ERR_PLUGIN_CODE once, at the import, with the fix', () => {
    const run = project.node(['app.js']);
    expect(run.status).toBe(0);
    const lines = run.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { err?: { code?: string; location?: { file: string } } });
    const failures = lines.filter((l) => l.err);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.err).toMatchObject(expected);
    expect(failures[0]!.err!.location!.file).toBe(path.join(plugin, 'index.js'));
    expect(run.stdout).not.toContain('PGW_ERR_PLUGIN_LOAD');
  });

  it('veza plugin validate says the same, once, at file:line:col', () => {
    const run = project.veza(['plugin', 'validate', 'plugins/hello']);
    expect(run.status).toBe(1);
    const problems = run.stderr.trim().split('\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      new RegExp(
        `^${path.join(plugin, 'index.js')}:2:1: error: .*Node reads it as CommonJS.*"type": "module"`,
      ),
    );
  });
});
