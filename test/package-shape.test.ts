/**
 * The shape of the built package (issue 24): the core bundled once (CommonJS entries `require()` the
 * ES modules), the declarations once, no source maps
 * in the tarball, optional peers (and the heavy dependencies only some hosts need) not loaded by the
 * main entry, and `veza --version` answered without loading the core. Reads dist/, which the global
 * setup builds; the import graph is the static one (a dynamic `import()` loads only when used).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const dist = path.join(root, 'dist');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  version: string;
  peerDependencies: Record<string, string>;
  exports: Record<
    string,
    string | Record<'import' | 'require', { types: string; default: string }>
  >;
};

/** Specifiers a built file loads when it is loaded: static imports, re-exports and top-level requires. */
function staticSpecifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = new Set<string>();
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;'"`]*?\sfrom\s*["']([^"']+)["']/gm))
    found.add(m[1]!);
  for (const m of text.matchAll(/^\s*import\s*["']([^"']+)["']/gm)) found.add(m[1]!);
  // esbuild's CommonJS output requires at the top level, as `var x = require("y")` or `__toESM(require("y"))`.
  for (const m of text.matchAll(/^(?:var|const|let)\s[^\n]*?\brequire\(["']([^"']+)["']\)/gm))
    found.add(m[1]!);
  for (const m of text.matchAll(/^\s*(?:module\.exports\s*=\s*)?require\(["']([^"']+)["']\)/gm))
    found.add(m[1]!);
  return [...found];
}

/** Every built file and bare package specifier `entry` loads statically, following dist's own files. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [path.join(dist, entry)];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const spec of staticSpecifiers(file)) {
      if (spec.startsWith('.')) pending.push(path.resolve(path.dirname(file), spec));
      else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) packages.add(spec);
    }
  }
  return { files, packages };
}

/** A package name from a specifier (`@scope/name/sub` → `@scope/name`). */
const packageOf = (spec: string) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');

/** Built files (every folder of dist) whose text contains `marker`. */
function filesContaining(marker: string, ext: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(ext) && readFileSync(p, 'utf8').includes(marker)) out.push(p);
    }
  };
  walk(dist);
  return out.map((p) => path.relative(dist, p));
}

describe('the built package', () => {
  it('bundles the core once: the subpaths, the command and require() share it', () => {
    const marker = 'var PluginGateway = class';
    const esm = filesContaining(marker, '.js');
    expect(esm, 'ES module files holding the gateway class').toHaveLength(1);
    expect(filesContaining(marker, '.cjs'), 'CommonJS files holding it').toEqual([]);
    // The command's own modules are a chunk it imports once past `--version` (cli.js → main-*.js).
    const command = readdirSync(dist).find((f) => /^main-.*\.js$/.test(f));
    expect(command, 'the command chunk').toBeDefined();
    for (const entry of ['index.js', 'testing.js', 'testing.cjs', command!]) {
      expect(importGraph(entry).files, entry).toContain(path.join(dist, esm[0]!));
    }
    // Every CommonJS entry is the require() of its ES module (Node 20.19+, 22.12+), nothing more.
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      const file = target.require.default.slice('./dist/'.length);
      const base = path.basename(file, '.cjs');
      const shim = readFileSync(path.join(dist, file), 'utf8');
      expect(shim, subpath).toContain(`module.exports = require('./${base}.js');`);
      expect(shim.match(/require\(['"]/g), subpath).toHaveLength(1);
      expect(shim.length, subpath).toBeLessThan(600);
    }
  });

  it('holds the declarations once: each ES module declaration file re-exports the CommonJS one', () => {
    const declarations = filesContaining('declare class PluginGateway', 'ts');
    expect(declarations.filter((f) => f.endsWith('.d.ts'))).toEqual([]);
    expect(declarations.filter((f) => f.endsWith('.d.cts'))).toHaveLength(1);
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      const text = readFileSync(path.join(root, target.import.types), 'utf8');
      const base = path.basename(target.require.types, '.d.cts');
      expect(text.split('\n')[0], subpath).toBe(`export * from './${base}.cjs';`);
      expect(text.length, subpath).toBeLessThan(200);
    }
  });

  it('loads no optional peer, nor what only some hosts use, when the main entry is imported', () => {
    for (const entry of ['index.js', 'index.cjs']) {
      const loaded = [...importGraph(entry).packages];
      const names = new Set(loaded.map(packageOf));
      for (const peer of Object.keys(pkg.peerDependencies)) {
        expect(names, `${entry} imports ${peer}`).not.toContain(peer);
      }
      // Loaded where they are used: the fleet's peer calls (undici), the first manifest (yaml) and
      // version compared (semver), the default logger (pino), the first worker pool (piscina), the
      // command (commander), WebSockets (ws), the first route (find-my-way), the first plugin process
      // (@msgpack/msgpack), the first schema built (zod).
      for (const heavy of [
        'undici',
        'yaml',
        'semver',
        'pino',
        'piscina',
        'commander',
        'ws',
        'find-my-way',
        '@msgpack/msgpack',
        'zod',
      ]) {
        expect(names, `${entry} imports ${heavy}`).not.toContain(heavy);
      }
      expect(loaded, `${entry} imports cockatiel's index`).not.toContain('cockatiel');
    }
  });

  it('imports the main entry without running what only its first use needs', () => {
    // What the import leaves in the CommonJS module cache (each of these is CommonJS, or loaded
    // through require()), before and after the first gateway is made and its options checked.
    const script = `
      import { createRequire } from 'node:module';
      const { PluginGateway } = await import(${JSON.stringify(path.join(dist, 'index.js'))});
      const cache = createRequire(import.meta.url).cache;
      const loaded = () => ['zod', 'find-my-way', '@msgpack/msgpack', 'yaml', 'piscina'].filter(
        (name) => Object.keys(cache).some((f) => f.includes('/node_modules/' + name + '/')));
      const atImport = loaded();
      new PluginGateway({ logger: false, pluginTimeout: '2s' });
      console.log(JSON.stringify({ atImport, afterOptions: loaded() }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual({ atImport: [], afterOptions: ['zod'] });
  });

  /**
   * Every module a fresh host resolves through import (a resolve hook writes each URL to a file) or
   * require (the CommonJS cache), from importing the main entry to `stop()`, while a gateway made with
   * `options` serves a worker and a process plugin.
   */
  function loadedWhileServing(options: string): string[] {
    const dir = mkdtempSync(path.join(tmpdir(), 'pgw-peers-'));
    const log = path.join(dir, 'resolved.txt');
    const hooks = path.join(dir, 'hooks.mjs');
    writeFileSync(
      hooks,
      `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, resolved.url + '\\n');
  return resolved;
}`,
    );
    const script = `
      import { register, createRequire } from 'node:module';
      register(${JSON.stringify(pathToFileURL(hooks).href)});
      const { PluginGateway } = await import(${JSON.stringify(path.join(dist, 'index.js'))});
      const gateway = new PluginGateway({ logger: false, warm: true, ...${options} });
      await gateway.load(${JSON.stringify(path.join(root, 'bench/plugins/echo'))});
      await gateway.load(${JSON.stringify(path.join(root, 'test/fixtures/proc-echo'))});
      await gateway.start();
      const post = (p) => gateway.handle({ method: 'POST', path: p, headers: {}, body: { n: 1 } });
      const codes = [(await post('/echo')).statusCode, (await post('/echo/a')).statusCode];
      await gateway.stop();
      console.log(JSON.stringify({ codes, required: Object.keys(createRequire(import.meta.url).cache) }));`;
    try {
      const out = JSON.parse(
        execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
      ) as { codes: number[]; required: string[] };
      expect(out.codes).toEqual([200, 200]);
      const loaded = [...readFileSync(log, 'utf8').split('\n'), ...out.required];
      expect(
        loaded.some((f) => f.includes('/node_modules/piscina/')),
        'the log saw Piscina',
      ).toBe(true);
      return Object.keys(pkg.peerDependencies).filter((peer) =>
        loaded.some((f) => f.includes(`/node_modules/${peer}/`)),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('loads no optional peer while a gateway serves worker and process plugins', () => {
    expect(loadedWhileServing('{ tracing: false }')).toEqual([]);
    // Tracing is on by default: the OpenTelemetry API, when installed, is loaded with the gateway to
    // see whether an SDK is registered (docs/guide/operating.md). Nothing else.
    expect(loadedWhileServing('{}')).toEqual(['@opentelemetry/api']);
  });

  it('answers veza --version without loading the core', () => {
    const graph = importGraph('cli.js');
    const core = filesContaining('var PluginGateway = class', '.js').map((f) => path.join(dist, f));
    for (const file of core) expect(graph.files, 'cli.js loads the core').not.toContain(file);
    expect([...graph.packages]).toEqual([]);
    const out = execFileSync(process.execPath, [path.join(dist, 'cli.js'), '--version'], {
      encoding: 'utf8',
    });
    expect(out).toBe(`${pkg.version}\n`);
  });

  it('publishes no source maps, and stays under 2.4 MB unpacked', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
      encoding: 'utf8',
    });
    const [packed] = JSON.parse(out) as [{ unpackedSize: number; files: { path: string }[] }];
    expect(packed.files.filter((f) => f.path.endsWith('.map'))).toEqual([]);
    // Issue 24's goal is 2.5 MB: 2.82 MB with a CommonJS copy of the core and two copies of the
    // declarations, 1.87 MB with one of each (docs/decisions/0250; 2.01 MB with what merged since,
    // the code check's thread entry among it).
    // 2.22 MB after round 8: WebSockets in both native SDKs, peer channels, the Go wasm envelope
    // reader (with its tests, copied into Go wasm plugins) and ~100 KB more of docs.
    // 2.35 MB after round 9: the gateway's own Extism host and kernel, the adapters' gathering, the
    // peer channel's batches, and ~60 KB more of docs (threat model, performance).
    // 2.45 MB after round 10 (~85 KB of docs); the decision records (216 KB, for contributors) are
    // left out of the package since: 2.25 MB.
    // The ceiling keeps it from growing unseen; raise it with the reason when a feature needs the bytes.
    expect(packed.unpackedSize).toBeLessThanOrEqual(2.4 * 1000 * 1000);
  });
});
