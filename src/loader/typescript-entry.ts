/**
 * TypeScript plugins: a `main` ending in `.ts`, `.mts` or `.cts` is bundled with esbuild when the plugin
 * is loaded, and its threads import the result as a `data:` URL with an inline source map, so stack
 * traces and load errors point at the `.ts` lines. Node's own type stripping (Node 23.6+, not 20) is not
 * relied on: the same plugin loads the same way on every supported Node. esbuild is an optional peer
 * dependency, imported only here and only for such a plugin.
 * @module
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PluginCodeError, TypeScriptUnavailableError } from '../errors.js';

/** Entry files the gateway transpiles. */
export const TYPESCRIPT_ENTRY = /\.[cm]?tsx?$/;

interface EsbuildMessage {
  text: string;
  location: { file: string; line: number; column: number; lineText: string } | null;
}

interface Esbuild {
  build(options: Record<string, unknown>): Promise<{
    outputFiles: { path: string; text: string }[];
  }>;
}

let esbuild: Promise<Esbuild> | undefined;

function loadEsbuild(plugin: string): Promise<Esbuild> {
  esbuild ??= import('esbuild' as string).then(
    (mod: { default?: Esbuild } & Esbuild) => mod.default ?? mod,
    (cause: unknown) => {
      esbuild = undefined;
      throw new TypeScriptUnavailableError(
        `plugin "${plugin}" has a TypeScript entry and esbuild is not installed: run \`npm i -D esbuild\` in the host's project`,
        { cause, plugin },
      );
    },
  );
  return esbuild;
}

/**
 * Bundles a TypeScript entry and everything it imports (node built-ins stay imports) into one ES
 * module, as a `data:` URL with its source map inline (sources as absolute `file:` URLs).
 * @throws {TypeScriptUnavailableError} when esbuild is not installed.
 * @throws {PluginCodeError} for a syntax error or an import that cannot be resolved, at its `.ts` line.
 */
export async function compileTypeScriptEntry(mainPath: string, plugin: string): Promise<string> {
  const { build } = await loadEsbuild(plugin);
  const dir = path.dirname(mainPath);
  const outfile = path.join(dir, '__pgw_entry__.mjs');
  let outputFiles: { path: string; text: string }[];
  try {
    ({ outputFiles } = await build({
      entryPoints: [mainPath],
      absWorkingDir: dir,
      outfile,
      bundle: true,
      write: false,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'external',
      sourcesContent: false,
      logLevel: 'silent',
      plugins: [stayInside(dir)],
      // CommonJS code bundled into an ES module calls `require` for built-ins: give it one.
      banner: {
        js: `import { createRequire as __pgwCreateRequire } from 'node:module'; const require = __pgwCreateRequire(${JSON.stringify(mainPath)});`,
      },
    }));
  } catch (error) {
    throw codeErrorOf(error, dir, plugin);
  }
  const code = outputFiles.find((f) => f.path.endsWith('.mjs'))!.text;
  const map = JSON.parse(outputFiles.find((f) => f.path.endsWith('.map'))!.text) as {
    sources: string[];
  };
  map.sources = map.sources.map((source) => pathToFileURL(path.resolve(dir, source)).href);
  const inlineMap = Buffer.from(JSON.stringify(map)).toString('base64');
  // Spelled in two parts: tools that read this module's own source map would take it for one.
  const body = `${code.replace(/\/\/# sourceMappingURL=\S+\s*$/, '')}\n${'//#'} sourceMappingURL=data:application/json;base64,${inlineMap}\n`;
  return `data:text/javascript;base64,${Buffer.from(body).toString('base64')}`;
}

/**
 * The bundler runs in the host, with the host's rights: it may read only what the plugin's threads may
 * read themselves — its folder, `node_modules` folders above it and this library's build (its SDK) — or a
 * plugin would import the host's files (`import env from '../../app/.env.json'`) into its own code.
 */
function stayInside(dir: string) {
  const root = realpathSync(dir);
  const library = LIBRARY_ROOT;
  const allowed = (file: string) => {
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      return true; // esbuild reports a file that does not exist itself
    }
    if (isWithin(root, real) || (library !== undefined && isWithin(library, real))) return true;
    const modules = real.lastIndexOf(`${path.sep}node_modules${path.sep}`);
    return modules >= 0 && isWithin(real.slice(0, modules), root);
  };
  return {
    name: 'pgw-stay-inside',
    setup(build: {
      onLoad(
        options: { filter: RegExp },
        callback: (args: { path: string }) => OnLoadResult | undefined,
      ): void;
    }) {
      build.onLoad({ filter: /.*/ }, (args) =>
        allowed(args.path)
          ? withoutForeignMaps(args.path, allowed)
          : {
              errors: [
                {
                  text: `"${args.path}" is outside the plugin's folder: a plugin may import only its own files and packages`,
                },
              ],
            },
      );
    },
  };
}

/** What an esbuild `onLoad` callback returns. */
type OnLoadResult =
  { errors: { text: string }[] } | { contents: string; loader: string; resolveDir: string };

/** The loaders esbuild gives these files by default, for the files it reads a linked source map of. */
const MAPPED_LOADERS: Record<string, string> = {
  '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.jsx': 'jsx', '.ts': 'ts', '.mts': 'ts', '.cts': 'ts',
  '.tsx': 'tsx', '.css': 'css',
}; // prettier-ignore
/** `//# sourceMappingURL=…` (or `//@`, `/*#`): esbuild reads the file it names, past any `onLoad`. */
const MAP_COMMENT = /(\/\/|\/\*)([#@][ \t]*sourceMappingURL)=(?!data:)([^\s*'"`]*)/g;

/**
 * The file's text with every linked source map that is not one of the plugin's own readable files
 * unlinked (`sourceMappingURL=/dev/zero` had the host's esbuild read without end; a host file shaped
 * like a source map had its `sources` copied into the plugin's code), or undefined (esbuild reads the
 * file itself) when it links none. Only a regular file is read.
 */
function withoutForeignMaps(
  file: string,
  allowed: (file: string) => boolean,
): OnLoadResult | undefined {
  const loader = MAPPED_LOADERS[path.extname(file).toLowerCase()];
  if (!loader || !existsSync(file)) return undefined;
  if (!statSync(file).isFile()) {
    return { errors: [{ text: `"${file}" is not a regular file` }] };
  }
  const text = readFileSync(file, 'utf8');
  let foreign = false;
  const contents = text.replace(MAP_COMMENT, (comment, open: string, name: string, url: string) => {
    let target: string;
    try {
      target = url.startsWith('file:') ? fileURLToPath(url) : path.resolve(path.dirname(file), url);
    } catch {
      target = '';
    }
    const own = target !== '' && existsSync(target) && allowed(target) && statSync(target).isFile();
    if (own) return comment;
    foreign = true;
    return `${open}${name} `; // no longer a link; the same length keeps every column where it was
  });
  return foreign ? { contents, loader, resolveDir: path.dirname(file) } : undefined;
}

/** This package's `dist/`, where `@veza/plugin-gateway/sdk` resolves (found by its `package.json`). */
const LIBRARY_ROOT = ((): string | undefined => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return path.join(realpathSync(dir), 'dist');
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
})();

function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function codeErrorOf(error: unknown, dir: string, plugin: string): Error {
  const first = (error as { errors?: EsbuildMessage[] }).errors?.[0];
  if (!first) return error as Error;
  const where = first.location;
  const location = where
    ? { file: path.resolve(dir, where.file), line: where.line, column: where.column + 1 }
    : undefined;
  const unresolved = /^Could not resolve "([^"]+)"/.exec(first.text);
  const hint = unresolved
    ? unresolved[1]!.startsWith('.')
      ? 'check the path of the import'
      : `install it in the plugin's folder: npm i ${packageName(unresolved[1]!)}`
    : 'fix the code at that line';
  const at = location ? `${location.file}:${location.line}:${location.column}: ` : '';
  return new PluginCodeError(
    `plugin "${plugin}" cannot load its code: ${at}${first.text} — ${hint}`,
    { cause: error, plugin, location, hint },
  );
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
export function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/**
 * The plugin's files with `mainUrl` set when its entry is TypeScript (bundled here); other entries are
 * returned as they are.
 * @throws {TypeScriptUnavailableError} when esbuild is not installed.
 * @throws {PluginCodeError} for a syntax error or an import that cannot be resolved.
 */
export async function withEntryUrl<T extends { mainPath: string; manifest: { name: string } }>(
  files: T,
): Promise<T & { mainUrl?: string }> {
  if (!TYPESCRIPT_ENTRY.test(files.mainPath)) return files;
  return { ...files, mainUrl: await compileTypeScriptEntry(files.mainPath, files.manifest.name) };
}
