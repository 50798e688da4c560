/**
 * The plugin's own modules, parsed (never run): from its entry, every file it imports statically
 * inside its folder, each parsed as Node would read it; every import resolved as Node's ES module
 * resolution would (relative files, packages from the plugin's folder, `exports` maps, built-ins).
 * @module
 */
import { statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse, type Program } from 'acorn';
import { resolve } from 'import-meta-resolve';
import { codeError } from './code-error.js';
import { packageName } from '../typescript-entry.js';
import {
  isJavaScript,
  isOwnSource,
  isRegularFile,
  locate,
  moduleFormat,
  esModuleHint,
  readSource,
  realPath,
} from './source-files.js';

/** Own files followed from one entry; past it the rest is found when the code loads. */
export const MAX_FILES = 256;

/**
 * Source text parsed for one plugin, all files together: a parsed tree holds tens of times its text,
 * and the check's thread has a bounded heap (and checks one plugin at a time). Past it the rest is found
 * when the code loads.
 */
export const MAX_PARSED_BYTES = 2 * 1024 * 1024;

/**
 * Imports resolved for one plugin (each distinct specifier from each folder once): a resolution may walk
 * a package's whole `exports` map, so a plugin of many distinct imports of a huge one would hold the
 * check's thread for hours. Past it the rest are found when the code loads.
 */
export const MAX_RESOLUTIONS = 512;

/** Largest package.json the resolution may read (real ones are a few KiB). */
export const MAX_PACKAGE_JSON_BYTES = 1024 * 1024;

/** One parsed source file. */
export interface ParsedFile {
  file: string;
  text: string;
  program: Program;
}

/**
 * Parses the entry and the plugin's own files it imports, and resolves every import.
 * @returns the parsed ES modules by real path (CommonJS files are checked for syntax only).
 * @throws {PluginCodeError} for a syntax error, ES module syntax Node would read as CommonJS, or an
 * import that does not resolve to a file, at its line.
 */
export function parseModuleGraph(
  entry: string,
  dir: string,
  plugin: string,
  resolved: Map<string, string | undefined> = new Map(),
): Map<string, ParsedFile> {
  const root = realPath(dir) ?? dir;
  const parsed = new Map<string, ParsedFile>();
  const queue = [realPath(entry) ?? entry];
  const seen = new Set(queue);
  let parsedBytes = 0;
  while (queue.length > 0 && seen.size <= MAX_FILES) {
    const file = queue.shift()!;
    const text = readSource(file);
    if (text === null) {
      throw codeError(plugin, undefined, `${file} is not a file`, 'check `main` in plugin.yaml');
    }
    // Too large to parse here (alone, or past the plugin's budget): its load finds what is wrong.
    if (text === undefined || parsedBytes + text.length > MAX_PARSED_BYTES) continue;
    parsedBytes += text.length;
    const program = parseFile(file, text, plugin, root);
    if (program?.sourceType !== 'module') continue;
    parsed.set(file, { file, text, program });
    for (const { specifier, offset } of staticImports(program)) {
      const key = resolutionKey(specifier, file);
      if (!resolved.has(key) && resolved.size >= MAX_RESOLUTIONS) continue;
      const target = resolved.has(key)
        ? resolved.get(key)
        : resolveImport(specifier, file, text, offset, plugin);
      resolved.set(key, target);
      if (target === undefined || seen.has(target)) continue;
      if (isOwnSource(root, target) && isJavaScript(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  return parsed;
}

/**
 * Where `resolved` (filled by {@link parseModuleGraph}) keeps what `specifier` led to from `file`: the
 * only resolutions a later reading of the graph may use (each guarded, and counted in the budget).
 */
export const resolutionKey = (specifier: string, file: string): string =>
  `${path.dirname(file)}\0${specifier}`;

/** The specifiers of a module's `import … from`, `export … from` and `import '…'`, where written. */
function staticImports(program: Program): { specifier: string; offset: number }[] {
  const found: { specifier: string; offset: number }[] = [];
  for (const node of program.body) {
    if (
      (node.type === 'ImportDeclaration' ||
        node.type === 'ExportAllDeclaration' ||
        node.type === 'ExportNamedDeclaration') &&
      node.source &&
      typeof node.source.value === 'string'
    ) {
      found.push({ specifier: node.source.value, offset: node.source.start });
    }
  }
  return found;
}

/** acorn's own word for running out of stack (else a `RangeError`). */
const STACK_SPENT = /^Not enough stack space/;

const PARSE = { ecmaVersion: 'latest', allowHashBang: true } as const;

/**
 * The file parsed as Node would read it; undefined when the parser ran out of stack (nesting deeper
 * than any real code: left to the boot, which parses it with V8).
 * @throws {PluginCodeError} at the syntax error, or at the first `import`/`export` of a file Node
 * reads as CommonJS.
 */
function parseFile(file: string, text: string, plugin: string, root: string): Program | undefined {
  try {
    return parseByFormat(file, text, plugin, root);
  } catch (error) {
    if (error instanceof RangeError) return undefined;
    throw error;
  }
}

function parseByFormat(file: string, text: string, plugin: string, root: string): Program {
  const format = moduleFormat(file);
  if (format === 'module') return parseAs(file, text, 'module', plugin);
  let script: Program | undefined;
  let scriptError: unknown;
  try {
    script = parse(text, { ...PARSE, sourceType: 'script', allowReturnOutsideFunction: true });
  } catch (error) {
    if (error instanceof RangeError || STACK_SPENT.test((error as Error).message)) {
      throw new RangeError('parser stack');
    }
    scriptError = error;
  }
  if (script) return script;
  let module: Program | undefined;
  try {
    module = parse(text, { ...PARSE, sourceType: 'module' });
  } catch (error) {
    if (error instanceof RangeError || STACK_SPENT.test((error as Error).message)) {
      throw new RangeError('parser stack');
    }
    // Not a module either: the script's error is the one to show.
  }
  const esm = module?.body.find((n) => /^(Import|Export)/.test(n.type));
  if (module && format === 'detect') return module;
  if (module && esm) {
    throw codeError(
      plugin,
      locate(file, text, esm.start),
      'this file uses import/export, but Node reads it as CommonJS (Cannot use import statement outside a module)',
      esModuleHint(file, root),
    );
  }
  throw syntaxError(file, text, scriptError, plugin);
}

function parseAs(file: string, text: string, sourceType: 'module', plugin: string): Program {
  try {
    return parse(text, { ...PARSE, sourceType });
  } catch (error) {
    throw syntaxError(file, text, error, plugin);
  }
}

/** acorn's error as a located `SyntaxError` (naming the unexpected token as Node does). */
function syntaxError(file: string, text: string, error: unknown, plugin: string): Error {
  const at = (error as { pos?: unknown }).pos;
  if (!(error instanceof SyntaxError) || typeof at !== 'number') return error as Error;
  const message = error.message.replace(/ \(\d+:\d+\)$/, '');
  if (STACK_SPENT.test(message)) return new RangeError(message);
  const token = text.slice(at).match(/^\S{1,40}?(?=\s|$|[;,)\]}])|^\S/)?.[0];
  const what =
    message === 'Unexpected token' && token ? `Unexpected token '${token}'` : `${message}`;
  return codeError(
    plugin,
    locate(file, text, at),
    `SyntaxError: ${what}`,
    'fix the syntax at that line',
  );
}

/**
 * The real path the import leads to (undefined for a built-in or a non-file URL).
 * @throws {PluginCodeError} when it resolves to nothing.
 */
function resolveImport(
  specifier: string,
  file: string,
  text: string,
  offset: number,
  plugin: string,
): string | undefined {
  if (isBuiltin(specifier)) return undefined;
  const relative = specifier.startsWith('.') || specifier.startsWith('/');
  const missing = (detail?: string) =>
    codeError(
      plugin,
      locate(file, text, offset),
      relative
        ? `cannot find module "${specifier.replace(/^\.\//, '')}"`
        : `cannot find package "${specifier}"${detail ? ` (${detail})` : ''}`,
      relative
        ? 'check the path (an ES module import names the file with its extension: "./file.js")'
        : `install it in the plugin's folder: npm i ${packageName(specifier)}`,
    );
  const unsafe = unsafePackageJson(path.dirname(file), relative ? undefined : specifier);
  if (unsafe !== undefined) {
    throw codeError(
      plugin,
      locate(file, text, offset),
      `${unsafe} is not a regular file of at most ${MAX_PACKAGE_JSON_BYTES} bytes`,
      'a package.json the import would read must be a plain file',
    );
  }
  let url: string;
  try {
    url = resolve(specifier, pathToFileURL(file).href);
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw missing(code === 'ERR_MODULE_NOT_FOUND' ? undefined : (error as Error).message);
  }
  if (!url.startsWith('file:')) return undefined;
  const target = realPath(fileURLToPath(url));
  if (target === undefined || !isRegularFile(target)) throw missing();
  return target;
}

/**
 * The first package.json that resolving from `dir` would read and that is not a plain, small file (a
 * link to `/dev/zero`, a FIFO, a huge file): the resolver reads them whole, in the check's thread. Those
 * are the package scopes above `dir`, and for a package, its folder in each `node_modules` above.
 */
function unsafePackageJson(dir: string, specifier: string | undefined): string | undefined {
  const name = specifier === undefined ? undefined : packageName(specifier);
  for (let current = dir; ; current = path.dirname(current)) {
    const candidates = [path.join(current, 'package.json')];
    if (name !== undefined)
      candidates.push(path.join(current, 'node_modules', name, 'package.json'));
    for (const candidate of candidates) {
      let info;
      try {
        info = statSync(candidate);
      } catch {
        continue;
      }
      if (!info.isFile() || info.size > MAX_PACKAGE_JSON_BYTES) return candidate;
    }
    if (path.dirname(current) === current) return undefined;
  }
}
