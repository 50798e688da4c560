/**
 * The check `start()` makes of a lazy plugin's code without running it, so that a broken plugin fails
 * at `start()` rather than at its first request: JavaScript (worker and process plugins) is parsed and
 * its imports resolved from the plugin's folder, and its default export read as far as the source
 * shows it; a TypeScript entry was bundled at load (esbuild: syntax and imports), and its bundle is read
 * the same way; a wasm module is compiled (validated, never instantiated); a native program must still
 * be an executable file (its folder is hashed by its runtime before the program starts: ADR 0230).
 * @module
 */
import { access, constants, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse, type Program } from 'acorn';
import { resolve } from 'import-meta-resolve';
import { PluginLoadError, WasmModuleError } from '../../errors.js';
import { fieldLocation, type Manifest } from '../../manifest/manifest.js';
import { readDefaultExport } from './default-export.js';
import { codeError, MAX_PARSED_BYTES, parseModuleGraph, type ParsedFile } from './module-graph.js';
import { realPath } from './source-files.js';

/** The engine's compiler, which validates a module without instantiating it (off the event loop). */
interface WasmCompiler {
  compile(bytes: Uint8Array): Promise<unknown>;
}

/** What the check reads of a plugin. */
export interface CodeToCheck {
  manifest: Manifest;
  manifestText: string;
  manifestPath: string;
  dir: string;
  mainPath: string;
  /** The bundled TypeScript entry (`data:` URL), when `main` is TypeScript. */
  mainUrl?: string | undefined;
  /** A native plugin's command line. */
  command?: string[] | undefined;
  /** A wasm plugin's module, as the gateway will hand it to its threads. */
  wasm?: Uint8Array | undefined;
}

/**
 * Checks the plugin's code without running it.
 * @throws {PluginCodeError} at the file, line and column of what would not load (or, for an endpoint
 * no route handles, at the endpoint in plugin.yaml).
 * @throws {WasmModuleError} for a wasm module that does not compile.
 * @throws {PluginLoadError} for a native program that is gone or no longer executable.
 */
export async function checkPluginCode(code: CodeToCheck): Promise<void> {
  const plugin = code.manifest.name;
  if (code.command) return checkNative(code, code.command[0]!);
  if (code.wasm) {
    try {
      await (globalThis as unknown as { WebAssembly: WasmCompiler }).WebAssembly.compile(code.wasm);
    } catch (error) {
      throw new WasmModuleError(`${code.mainPath}: ${(error as Error).message}`, {
        cause: error,
        plugin,
      });
    }
    return;
  }
  if (code.mainUrl?.startsWith('data:')) return checkBundle(code);
  const graph = parseModuleGraph(code.mainPath, code.dir, plugin);
  const entry = graph.get(realPath(code.mainPath) ?? code.mainPath);
  if (!entry) return; // CommonJS: what it exports is known once it runs
  assertDefinition(code, readDefaultExport(entry, graph, ownModule(graph)));
}

/** A TypeScript entry's bundle (syntax and imports were checked when esbuild made it, at load). */
function checkBundle(code: CodeToCheck): void {
  const url = code.mainUrl!;
  const text = Buffer.from(url.slice(url.indexOf(',') + 1), 'base64').toString();
  if (text.length > MAX_PARSED_BYTES) return; // its boot tells, as for a large own file
  let program: Program;
  try {
    program = parse(text, { ecmaVersion: 'latest', sourceType: 'module' });
  } catch {
    return; // esbuild wrote what this parser does not read: the boot will tell
  }
  const found = readDefaultExport(
    { file: code.mainPath, text, program },
    new Map(),
    () => undefined,
  );
  // Places in the bundle mean nothing to the author: name the entry file.
  if (found) found.location = { file: code.mainPath, line: 1, column: 1 };
  assertDefinition(code, found);
}

/** Resolves a re-export to one of the parsed modules of the plugin. */
function ownModule(graph: ReadonlyMap<string, ParsedFile>) {
  return (specifier: string, from: ParsedFile): ParsedFile | undefined => {
    try {
      const url = resolve(specifier, pathToFileURL(from.file).href);
      if (!url.startsWith('file:')) return undefined;
      return graph.get(realPath(fileURLToPath(url)) ?? '');
    } catch {
      return undefined;
    }
  };
}

/** Throws for a problem found in the default export, or for an endpoint its routes do not handle. */
function assertDefinition(code: CodeToCheck, found: ReturnType<typeof readDefaultExport>): void {
  const plugin = code.manifest.name;
  if (!found) return;
  if ('what' in found) throw codeError(plugin, found.location, found.what, found.hint);
  const routes = found.routes;
  if (!routes) return;
  const i = code.manifest.endpoints.findIndex((e) => !routes.includes(`${e.method} ${e.path}`));
  if (i < 0) return;
  const endpoint = code.manifest.endpoints[i]!;
  const key = `${endpoint.method} ${endpoint.path}`;
  const where = fieldLocation(code.manifestText, code.manifestPath, ['endpoints', i, 'path']);
  const [file, line, column] = /^(.*):(\d+):(\d+) /.exec(where)!.slice(1);
  throw codeError(
    plugin,
    { file: file!, line: Number(line), column: Number(column) },
    `endpoint "${key}" has no handler in ${path.basename(code.mainPath)} (its definition is at line ${found.location.line})`,
    `add '${key}': (req, ctx) => ({ statusCode: 200 }) to its ${endpoint.websocket ? 'websockets' : 'routes'}`,
  );
}

/**
 * The program is still there and executable. Its folder's content is not hashed here: the process
 * runtime hashes it, in parallel with the sandbox coming up, before the program is sent `start`.
 */
async function checkNative(code: CodeToCheck, program: string): Promise<void> {
  const plugin = code.manifest.name;
  const where = fieldLocation(code.manifestText, code.manifestPath, ['runtime', 'command', 0]);
  try {
    if (!(await stat(program)).isFile()) throw new Error('not a file');
    await access(program, constants.X_OK);
  } catch (cause) {
    throw new PluginLoadError(`${where}: "${program}" is no longer an executable file`, {
      cause,
      plugin,
    });
  }
}
