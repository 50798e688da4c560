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
import { PluginLoadError, WasmModuleError } from '../../errors.js';
import { fieldLocation, type Manifest } from '../../manifest/manifest.js';
import { checkSourceInThread } from './check-thread.js';
import { codeError } from './code-error.js';
import type { SourceFindings } from './source-check.js';

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
 * no route handles, at the endpoint in plugin.yaml; see `source-check.ts`).
 * @throws {WasmModuleError} for a wasm module that does not compile.
 * @throws {PluginLoadError} for a native program that is gone or no longer executable.
 */
export async function checkPluginCode(code: CodeToCheck): Promise<CodeWarning[]> {
  const plugin = code.manifest.name;
  if (code.command) {
    await checkNative(code, code.command[0]!);
    return [];
  }
  if (code.wasm) {
    try {
      await (globalThis as unknown as { WebAssembly: WasmCompiler }).WebAssembly.compile(code.wasm);
    } catch (error) {
      throw new WasmModuleError(`${code.mainPath}: ${(error as Error).message}`, {
        cause: error,
        plugin,
      });
    }
    return [];
  }
  // Parsing and resolving take milliseconds a plugin: off the host's event loop, one thread for all.
  const found = await checkSourceInThread({
    plugin,
    dir: code.dir,
    mainPath: code.mainPath,
    mainUrl: code.mainUrl,
  });
  assertDefinition(code, found);
  return undeclaredRoutes(code, found);
}

/** Something the check found that does not stop the plugin, said once at `start()`. */
export interface CodeWarning {
  /** `file:line:column: what`, then what to do. */
  message: string;
}

/** Routes the default export defines that plugin.yaml does not declare: served by nothing. */
function undeclaredRoutes(code: CodeToCheck, found: SourceFindings): CodeWarning[] {
  if (!found || 'what' in found || !found.routes) return [];
  const declared = new Set(code.manifest.endpoints.map((e) => `${e.method} ${e.path}`));
  const extra = found.routes.filter((key) => !declared.has(key));
  if (extra.length === 0) return [];
  const { file, line, column } = found.location;
  return [
    {
      message: `${file}:${line}:${column}: routes that plugin.yaml does not declare are not served: ${extra.join(', ')} — add them under endpoints in ${path.basename(code.manifestPath)}`,
    },
  ];
}

/** The code's undeclared route that looks like `key` (same method, same number of segments). */
function lookalike(key: string, routes: string[], declared: Set<string>): string | undefined {
  const [method, route] = key.split(' ');
  const segments = route!.split('/').length;
  return routes.find((other) => {
    const [otherMethod, otherRoute] = other.split(' ');
    return (
      !declared.has(other) && otherMethod === method && otherRoute!.split('/').length === segments
    );
  });
}

/** Throws for a problem found in the default export, or for an endpoint its routes do not handle. */
function assertDefinition(code: CodeToCheck, found: SourceFindings): void {
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
  const declared = new Set(code.manifest.endpoints.map((e) => `${e.method} ${e.path}`));
  const near = lookalike(key, routes, declared);
  throw codeError(
    plugin,
    { file: file!, line: Number(line), column: Number(column) },
    `endpoint "${key}" has no handler in ${path.basename(code.mainPath)} (its definition is at line ${found.location.line})`,
    near
      ? `the code defines '${near}' instead: make the two the same`
      : `add '${key}': (req, ctx) => ({ statusCode: 200 }) to its ${endpoint.websocket ? 'websockets' : 'routes'}`,
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
