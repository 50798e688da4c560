import { execFile } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  cpSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `veza ...args` as a user would: a separate node process, in `cwd`. */
function veza(args: string[], cwd: string, timeout = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { cwd, timeout, env: { ...process.env, NO_COLOR: '1', NODE_OPTIONS: '' } },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A project folder with the package installed (a link to this checkout), as after `npm i`. */
function project(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'veza-cli-'));
  mkdirSync(path.join(dir, 'node_modules/@veza'), { recursive: true });
  symlinkSync(root, path.join(dir, 'node_modules/@veza/plugin-gateway'));
  return dir;
}

describe('veza (spawned as a user would)', () => {
  let dir: string;
  beforeAll(() => {
    dir = project();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--help lists the commands and exits 0; an unknown command exits 2 on stderr', async () => {
    const help = await veza(['plugin', '--help'], dir);
    expect(help.code).toBe(0);
    for (const command of ['create', 'validate', 'test', 'dev', 'pack', 'deploy', 'list']) {
      expect(help.stdout).toContain(command);
    }
    const serve = await veza(['gateway', 'serve', '--help'], dir);
    expect(serve.stdout).toContain('--config');
    const wrong = await veza(['plugin', 'frobnicate'], dir);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("unknown command 'frobnicate'");
    expect(wrong.stdout).toBe('');
    const version = await veza(['--version'], dir);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('create hello && test passes with no edits (TypeScript, node:test), printing a report with timings', async () => {
    const created = await veza(['plugin', 'create', 'hello'], dir);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('next: cd hello && npx veza plugin test');
    expect(readFileSync(path.join(dir, 'hello/plugin.yaml'), 'utf8')).toContain('main: index.ts');
    const tested = await veza(['plugin', 'test'], path.join(dir, 'hello'));
    expect(tested.code, tested.stdout + tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/✓ validate\s+\d/);
    expect(tested.stdout).toMatch(/✓ load\s+.*hello@0\.1\.0 \(worker\)/);
    expect(tested.stdout).toMatch(/✓ health/);
    expect(tested.stdout).toMatch(/✓ hello\.test\.ts\s+.*1 passed, 0 failed/);
    expect(tested.stdout).toMatch(/passed in [\d.]+ m?s/);
    const json = await veza(['plugin', 'test', '--json'], path.join(dir, 'hello'));
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      steps: [{ step: 'validate' }, {}, {}, {}],
    });
  });

  it('create --lang js, --runtime process, and a wasm template; a name that exists or is wrong', async () => {
    expect(
      (await veza(['plugin', 'create', 'hello-js', '--lang', 'js', '--runtime', 'process'], dir))
        .code,
    ).toBe(0);
    expect(readFileSync(path.join(dir, 'hello-js/plugin.yaml'), 'utf8')).toMatch(
      /main: index\.js[\s\S]*type: process/,
    );
    const js = await veza(['plugin', 'test'], path.join(dir, 'hello-js'));
    expect(js.code, js.stdout + js.stderr).toBe(0);
    // The check runs it without bubblewrap by its own choice; the author is not warned about that.
    expect(js.stdout + js.stderr).not.toContain('sandbox.bwrap');
    expect(
      (await veza(['plugin', 'create', 'hello-as', '--runtime', 'wasm', '--lang', 'as'], dir)).code,
    ).toBe(0);
    expect(readFileSync(path.join(dir, 'hello-as/plugin.yaml'), 'utf8')).toMatch(
      /^name: hello-as$/m,
    );
    const again = await veza(['plugin', 'create', 'hello'], dir);
    expect(again).toMatchObject({ code: 1, stdout: '' });
    expect(again.stderr).toContain('already exists');
    expect((await veza(['plugin', 'create', 'Bad_Name'], dir)).code).toBe(2);
    expect((await veza(['plugin', 'create', 'x', '--lang', 'cobol'], dir)).code).toBe(2);
  });

  it('a failing plugin test exits 1 and says which step failed', async () => {
    const broken = path.join(dir, 'broken');
    cpSync(path.join(dir, 'hello'), broken, { recursive: true });
    rmSync(path.join(broken, '.veza'), { recursive: true, force: true });
    writeFileSync(
      path.join(broken, 'hello.test.ts'),
      readFileSync(path.join(broken, 'hello.test.ts'), 'utf8').replace('Hello, Ada!', 'Bonjour'),
    );
    const run = await veza(['plugin', 'test'], broken);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/✗ hello\.test\.ts\s+.*\n\s+0 passed, 1 failed/);
  });
});

describe('veza plugin validate: each mistake at its line', () => {
  const cases: [string, RegExp][] = [
    ['code-syntax', /code-syntax\/index\.js:5:\d+: error: SyntaxError: Unexpected token '\)'/],
    ['code-no-default', /code-no-default\/index\.js:3:1: error: .*has no default export/],
    [
      'code-commonjs',
      /code-commonjs\/index\.js:1:1: error: Cannot use import statement outside a module.*"type": "module"/,
    ],
    [
      'code-undeclared-route',
      /code-undeclared-route\/index\.js:6:5: error: route "POST \/code-undeclared-route\/extra" is not declared in plugin\.yaml/,
    ],
    [
      'code-missing-package',
      /code-missing-package\/index\.js:2:21: error: .*npm i left-pad-not-installed/,
    ],
    ['missing-route', /missing-route\/plugin\.yaml:\d+:\d+: error: endpoint ".*" has no handler/],
    ['ts-syntax', /ts-syntax\/index\.ts:3:24: error: Unexpected ";"/],
  ];
  it.each(cases)('%s', async (name, expected) => {
    const run = await veza(['plugin', 'validate', fixture(name)], root);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(expected);
  });

  it('an invalid manifest: every problem at its plugin.yaml line; --json for scripts', async () => {
    const run = await veza(['plugin', 'validate', fixture('bad-manifest'), '--json'], root);
    expect(run.code).toBe(1);
    const file = path.join(fixture('bad-manifest'), 'plugin.yaml');
    expect(JSON.parse(run.stdout)).toMatchObject({
      ok: false,
      problems: [
        { file, line: 2, severity: 'error', message: expect.stringContaining('version') },
        { file, line: 5, severity: 'error', message: expect.stringContaining('method') },
      ],
    });
  });

  it('a valid plugin exits 0', async () => {
    const run = await veza(['plugin', 'validate', fixture('echo')], root);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('valid echo');
  });
});
