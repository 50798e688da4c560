import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPacked, type InstalledProject } from './tarball.js';

const tsc = path.resolve(import.meta.dirname, '../../node_modules/typescript/bin/tsc');

// The README's plugin, written in TypeScript by a user whose tsconfig is strict (and checks indexed
// access), against the package's published declarations.
const README_PLUGIN = `import { definePlugin } from '@veza/plugin-gateway/sdk';

export default definePlugin({
  routes: {
    'GET /hello/{name}': (req, ctx) => {
      const name = ctx.flags.shout ? req.params.name.toUpperCase() : req.params.name;
      ctx.log.info('greeting', { name });
      return { statusCode: 200, body: { hello: name, page: req.query.page } };
    },
  },
});
`;

describe('a TypeScript user of the packed package', () => {
  let project: InstalledProject;
  beforeAll(() => {
    project = installPacked();
  }, 120_000);
  afterAll(() => project?.close());

  const check = (file: string, source: string) => {
    writeFileSync(path.join(project.dir, file), source);
    return project.node([
      tsc,
      '--strict',
      '--noUncheckedIndexedAccess',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--noEmit',
      file,
    ]);
  };

  it("compiles the README's plugin: req.params.name is a string, typed from the route key", () => {
    const run = check('hello.ts', README_PLUGIN);
    expect(run.stdout).toBe('');
    expect(run.status).toBe(0);
  });

  it('rejects a parameter the route key does not have', () => {
    const run = check(
      'typo.ts',
      README_PLUGIN.replace('req.params.name.toUpperCase()', 'req.params.nmae.toUpperCase()'),
    );
    expect(run.status).not.toBe(0);
    expect(run.stdout).toMatch(
      /typo\.ts\(6,\d+\): error TS18048: 'req\.params\.nmae' is possibly 'undefined'/,
    );
  });
});
