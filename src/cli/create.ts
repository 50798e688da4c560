/**
 * `veza plugin create NAME`: a plugin folder with its manifest, code, a test written with
 * `@veza/plugin-gateway/testing` and a README. Offline: everything comes from this package.
 * @module
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, Exit, say, colour } from './output.js';
import { wasmSourceOf } from './wasm-build.js';
import { attachPgw } from './wasm-pdk-copy.js';

/** What `create` is asked for. */
export interface CreateOptions {
  /** `ts` or `js` for worker and process plugins, `go` or `rust` for native process plugins; `as`, `go`, `rust` or `c` for wasm. */
  lang?: string;
  /** `worker`, `process` or `wasm`. */
  runtime?: string;
  /** Folder to create the plugin in. @default process.cwd() */
  cwd?: string;
}

const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const WASM_TEMPLATES: Record<string, string> = {
  as: 'assemblyscript',
  go: 'go',
  rust: 'rust',
  c: 'c',
};
/** Native process plugins (`templates/native/`), on the SDKs the package ships in `sdk/`. */
const NATIVE_TEMPLATES: Record<string, string> = { go: 'go', rust: 'rust' };

/** `--runtime`, or the one a language only one kind of runtime speaks picks (`--lang go`: process). */
export function runtimeOf(options: Pick<CreateOptions, 'lang' | 'runtime'>): string {
  if (options.runtime !== undefined) return options.runtime;
  if (options.lang === undefined || ['ts', 'js'].includes(options.lang)) return 'worker';
  return options.lang in NATIVE_TEMPLATES ? 'process' : 'wasm';
}

/** Creates the folder; returns its path. */
export async function createPlugin(name: string, options: CreateOptions): Promise<string> {
  if (!NAME.test(name)) {
    throw new CliError(
      `plugin name "${name}" must be lower-case letters, digits and dashes, starting with a letter`,
      Exit.USAGE,
    );
  }
  const runtime = runtimeOf(options);
  if (!['worker', 'process', 'wasm'].includes(runtime)) {
    throw new CliError(`--runtime must be worker, process or wasm, got "${runtime}"`, Exit.USAGE);
  }
  // TypeScript by default, esbuild (the optional peer that loads it) there or not: the next steps
  // say to install it, rather than a JavaScript plugin nobody asked for.
  const lang = options.lang ?? (runtime === 'wasm' ? 'as' : 'ts');
  const allowed =
    runtime === 'wasm'
      ? Object.keys(WASM_TEMPLATES)
      : runtime === 'process'
        ? ['ts', 'js', ...Object.keys(NATIVE_TEMPLATES)]
        : ['ts', 'js'];
  if (!allowed.includes(lang)) {
    const native =
      lang in NATIVE_TEMPLATES
        ? ' (Go and Rust: --runtime process for a native program, --runtime wasm for a module)'
        : '';
    throw new CliError(
      `--lang for a ${runtime} plugin is one of ${allowed.join(', ')}, got "${lang}"${native}`,
      Exit.USAGE,
    );
  }
  const dir = path.resolve(options.cwd ?? process.cwd(), name);
  try {
    await mkdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'EEXIST' ? `${dir} already exists` : `cannot create ${dir} (${code})`,
    );
  }
  if (runtime === 'wasm') await copyWasmTemplate(dir, name, WASM_TEMPLATES[lang]!);
  else if (NATIVE_TEMPLATES[lang]) await copyNativeTemplate(dir, name, NATIVE_TEMPLATES[lang]);
  else await writeScriptPlugin(dir, name, runtime, lang as 'ts' | 'js');
  return dir;
}

async function writeScriptPlugin(dir: string, name: string, runtime: string, lang: 'ts' | 'js') {
  const ext = lang;
  const files: Record<string, string> = {
    'plugin.yaml': `name: ${name}
version: 0.1.0
description: ${name}, a plugin for the Veza gateway
main: index.${ext}
runtime:
  type: ${runtime}
resources:
  cpu: 0.5
  memory: 64
endpoints:
  - path: /${name}
    method: GET
health_check:
  interval: 30s
  timeout: 5s
`,
    [`index.${ext}`]: `import { definePlugin } from '@veza/plugin-gateway/sdk';

export default definePlugin({
  healthCheck() {
    return { status: 'healthy' };
  },
  routes: {
    'GET /${name}': (req, ctx) => {
      const who = ${lang === 'ts' ? "String(req.query['name'] ?? 'world')" : "req.query.name ?? 'world'"};
      ctx.log.info('greeting', { who });
      return { statusCode: 200, body: { message: \`Hello, \${who}!\` } };
    },
  },
});
`,
    [`${name}.test.${ext}`]: `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testPlugin } from '@veza/plugin-gateway/testing';

test('GET /${name} greets the caller', async () => {
  const plugin = await testPlugin(import.meta.dirname);
  try {
    const res = await plugin.get('/${name}?name=Ada');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.body, { message: 'Hello, Ada!' });
  } finally {
    await plugin.close();
  }
});
`,
    'package.json': `${JSON.stringify(
      {
        name,
        version: '0.1.0',
        private: true,
        type: 'module',
        scripts: { test: 'veza plugin test', dev: 'veza plugin dev' },
      },
      null,
      2,
    )}\n`,
    '.gitignore': '.veza/\nnode_modules/\n*.veza.json\n',
    ...(lang === 'ts'
      ? {
          // For the editor and \`tsc\`: the gateway bundles the plugin with esbuild and checks no types.
          'tsconfig.json': `${JSON.stringify(
            {
              compilerOptions: {
                target: 'ES2022',
                module: 'NodeNext',
                moduleResolution: 'NodeNext',
                strict: true,
                noUncheckedIndexedAccess: true,
                skipLibCheck: true,
                noEmit: true,
                types: ['node'],
              },
              include: ['*.ts'],
            },
            null,
            2,
          )}\n`,
        }
      : {}),
    'README.md': `# ${name}

A plugin for the Veza gateway (\`@veza/plugin-gateway\`), running in a ${runtime === 'worker' ? 'worker thread' : 'sandboxed process'}.

- \`plugin.yaml\`: its manifest (endpoints, resources, permissions).
- \`index.${ext}\`: its code.
- \`${name}.test.${ext}\`: its test, with \`@veza/plugin-gateway/testing\`.
${lang === 'ts' ? '- `tsconfig.json`: for your editor and `npx tsc` (with `npm i -D typescript @types/node`); the gateway loads `index.ts` with esbuild (`npm i -D esbuild`).\n' : ''}
\`\`\`sh
npx veza plugin test      # loads it in a gateway, checks its health, runs its test
npx veza plugin dev       # serves it on http://127.0.0.1:8080/${name}, reloading on save
npx veza plugin validate  # checks manifest and code
\`\`\`
`,
  };
  for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, file), text);
}

async function copyWasmTemplate(dir: string, name: string, template: string) {
  const from = path.join(templatesRoot(), 'wasm', template);
  // Build products of the template (tests build it in place) stay behind.
  await cp(from, dir, {
    recursive: true,
    filter: (source) => !['target', 'plugin.wasm'].includes(path.basename(source)),
  });
  await attachPgw(dir, name, templatesRoot());
  const manifest = path.join(dir, 'plugin.yaml');
  const text = await readFile(manifest, 'utf8');
  await writeFile(manifest, text.replace(/^name: .*$/m, `name: ${name}`));
  if ((await readdir(dir)).includes('package.json')) {
    const pkg = path.join(dir, 'package.json');
    const json = JSON.parse(await readFile(pkg, 'utf8')) as { name?: string };
    json.name = name;
    await writeFile(pkg, `${JSON.stringify(json, null, 2)}\n`);
  }
}

/**
 * A native template, named, with its `go.mod` or `Cargo.toml` pointing at the SDK inside this package
 * (the SDK modules are not published on their own).
 */
async function copyNativeTemplate(dir: string, name: string, template: string) {
  const root = templatesRoot();
  await cp(path.join(root, 'native', template), dir, { recursive: true });
  const sdk = path.resolve(root, '..', 'sdk', template);
  const edit = async (file: string, change: (text: string) => string) => {
    const at = path.join(dir, file);
    await writeFile(at, change(await readFile(at, 'utf8')));
  };
  await edit('plugin.yaml', (t) => t.replace(/^name: .*$/m, `name: ${name}`));
  if (template === 'go') {
    await edit('go.mod', (t) =>
      t
        .replace(/^module .*$/m, `module example.com/plugins/${name}`)
        .replace(/=> .*$/m, `=> ${sdk}`),
    );
  } else {
    await edit('Cargo.toml', (t) =>
      t.replace(
        /veza-plugin = \{ path = "[^"]*" \}/,
        `veza-plugin = { path = ${JSON.stringify(sdk)} }`,
      ),
    );
  }
}

/** The package's `templates/` folder, found from `src/cli/` or `dist/`. */
function templatesRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'templates');
    if (existsSync(path.join(candidate, 'wasm'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new CliError('cannot find the templates folder of @veza/plugin-gateway');
    dir = parent;
  }
}

/** What a wasm template's build needs beside npm, when it is not on PATH (see its README). */
function wasmToolchain(dir: string): string | undefined {
  if (existsSync(path.join(dir, 'plugin.c'))) {
    const cc = process.env['CC'] ?? 'clang';
    return onPath(cc)
      ? 'build.sh needs clang with lld and wasi-libc (see README.md)'
      : `${colour.yellow(`${cc} not found`)}: build.sh needs clang, lld and wasi-libc (Debian/Ubuntu: apt-get install clang lld wasi-libc)`;
  }
  if (existsSync(path.join(dir, 'Cargo.toml'))) {
    return onPath('cargo')
      ? 'build.sh needs the wasm32-unknown-unknown target: rustup target add wasm32-unknown-unknown (see README.md)'
      : `${colour.yellow('cargo not found')}: build.sh needs cargo with the wasm32-unknown-unknown target (rustup, then rustup target add wasm32-unknown-unknown)`;
  }
  if (existsSync(path.join(dir, 'go.mod'))) {
    return onPath('go')
      ? 'build.sh needs Go 1.24 or later (GOOS=wasip1, //go:wasmexport; see README.md)'
      : `${colour.yellow('go not found')}: build.sh needs Go 1.24 or later (https://go.dev/dl)`;
  }
  return undefined;
}

function onPath(command: string): boolean {
  if (command.includes('/')) return existsSync(command);
  return (process.env['PATH'] ?? '')
    .split(path.delimiter)
    .some((folder) => folder !== '' && existsSync(path.join(folder, command)));
}

/** True when esbuild resolves from this package, as the gateway imports it. */
export function hasEsbuild(): boolean {
  try {
    createRequire(import.meta.url).resolve('esbuild');
    return true;
  } catch {
    return false;
  }
}

/** Prints what to do next. */
export function printNextSteps(dir: string, runtime: string | undefined): void {
  const rel = path.relative(process.cwd(), dir) || '.';
  say(`${colour.green('created')} ${rel}`);
  say();
  if (existsSync(path.join(dir, 'index.ts')) && !hasEsbuild()) {
    say(
      `${colour.yellow('esbuild is not installed')}: the gateway loads TypeScript plugins with it. Run npm i -D esbuild (or create with --lang js)`,
    );
  }
  if (runtime !== 'wasm') {
    say(`next: cd ${rel} && npx veza plugin test`);
    return;
  }
  const needs = wasmToolchain(dir);
  if (needs) say(needs);
  const install = existsSync(path.join(dir, 'package.json')) ? 'npm install && ' : '';
  // veza plugin test builds a Go or Rust plugin itself (src/cli/wasm-build.ts).
  const build = wasmSourceOf(dir) ? '' : './build.sh && ';
  say(`next: cd ${rel} && ${install}${build}npx veza plugin test`);
}
