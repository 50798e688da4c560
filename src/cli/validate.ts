/**
 * `veza plugin validate [DIR]`: the manifest, then the code: what its source says (routes against
 * `endpoints`, `ctx.publish` types against `permissions.events.publish`, `ctx.call` services against
 * `dependencies`, `ctx.fetch` hosts against `permissions.network`), then the code loaded in a gateway of
 * its own (syntax, imports, module type, default export, handlers). Every problem at `file:line:col`.
 * @module
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isManifestInvalidError, isPluginCodeError, isPluginLoadError } from '../errors.js';
import { fieldLocation } from '../manifest/manifest.js';
import { readPluginFiles, type PluginFiles } from '../manifest/plugin-files.js';
import { matchesEventPattern } from '../shared/event-pattern.js';
import { TestGateway } from '../testing/index.js';
import { buildNative } from './native-build.js';
import { buildWasmPlugin, WasmBuildFailure } from './wasm-build.js';

/** One problem, where it is. */
export interface Problem {
  /** Absolute path of the file. */
  file: string;
  /** 1-based line (0 when the problem has no place). */
  line: number;
  /** 1-based column. */
  col: number;
  /** `error` fails validation; `warning` does not. */
  severity: 'error' | 'warning';
  /** What is wrong, and what to do. */
  message: string;
}

/** What `validate` found. */
export interface Validation {
  /** The plugin's folder. */
  dir: string;
  /** The plugin's name, when its manifest could be read. */
  name?: string;
  /** True when no problem is an error. */
  ok: boolean;
  /** Every problem found. */
  problems: Problem[];
}

/** Validates the plugin in `dir`. */
export async function validatePlugin(dirArg: string): Promise<Validation> {
  const dir = path.resolve(dirArg);
  try {
    await buildWasmPlugin(dir);
  } catch (error) {
    if (!(error instanceof WasmBuildFailure)) throw error;
    return result(dir, undefined, [
      { file: error.file, line: 1, col: 1, severity: 'error', message: error.message },
    ]);
  }
  let files: PluginFiles;
  try {
    // A Go or Rust plugin is built first: its manifest names the binary.
    await buildNative(dir);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return result(dir, undefined, [locatedIn(message, path.join(dir, 'plugin.yaml'))]);
  }
  try {
    files = await readPluginFiles(dir);
  } catch (error) {
    if (isManifestInvalidError(error)) {
      return result(
        dir,
        undefined,
        error.problems.map((p) => ({
          file: p.file,
          line: p.line,
          col: p.col,
          severity: 'error' as const,
          message: p.path ? `${p.path}: ${p.message}` : p.message,
        })),
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    return result(dir, undefined, [locatedIn(message, path.join(dir, 'plugin.yaml'))]);
  }
  const { manifest } = files;
  const problems: Problem[] = [];
  // The source checks read JavaScript; a native plugin's program is a binary or another language.
  if (manifest.runtime.type !== 'wasm' && !files.command) {
    problems.push(...(await sourceProblems(files)));
  }
  problems.push(...(await loadProblems(files)));
  return result(dir, manifest.name, dedupe(problems));
}

function result(dir: string, name: string | undefined, problems: Problem[]): Validation {
  return { dir, name, ok: !problems.some((p) => p.severity === 'error'), problems };
}

/** `"/path/plugin.yaml:3:5 main: …"` → a problem at that place; else at the file's start. */
function locatedIn(message: string, fallback: string): Problem {
  const at = /^(\/[^:]+):(\d+):(\d+)\s*(.*)$/s.exec(message);
  return at
    ? { file: at[1]!, line: Number(at[2]), col: Number(at[3]), severity: 'error', message: at[4]! }
    : { file: fallback, line: 1, col: 1, severity: 'error', message };
}

const ROUTE = /['"`](GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (\/[^'"`]*)['"`]\s*:/g;
const PUBLISH = /\.publish\(\s*\{\s*type:\s*['"`]([^'"`$]+)['"`]/g;
const CALL = /\.call\(\s*['"`]([^'"`$]+)['"`]/g;
const FETCH = /\.fetch\(\s*['"`](https?:\/\/[^'"`$/]+)/g;

/** What the entry file's source says, against the manifest. */
async function sourceProblems(files: PluginFiles): Promise<Problem[]> {
  const { manifest, manifestText, manifestPath, mainPath } = files;
  const source = await readFile(mainPath, 'utf8');
  const problems: Problem[] = [];
  const at = (index: number) => position(source, index);
  const declared = manifest.endpoints.map((e) => `${e.method} ${e.path}`);
  const inCode = new Set<string>();
  for (const m of source.matchAll(ROUTE)) {
    const key = `${m[1]} ${m[2]}`;
    inCode.add(key);
    if (!declared.includes(key)) {
      problems.push({
        file: mainPath,
        ...at(m.index),
        severity: 'error',
        message: `route "${key}" is not declared in plugin.yaml (the gateway will not serve it): add it under endpoints`,
      });
    }
  }
  if (inCode.size > 0) {
    manifest.endpoints.forEach((endpoint, i) => {
      const key = `${endpoint.method} ${endpoint.path}`;
      if (inCode.has(key)) return;
      problems.push({
        ...yamlAt(manifestText, manifestPath, ['endpoints', i]),
        severity: 'error',
        message: `endpoint "${key}" has no handler in ${path.basename(mainPath)}: add '${key}': (req, ctx) => ({ statusCode: 200 }) to its routes`,
      });
    });
  }
  const { publish } = manifest.permissions.events;
  for (const m of source.matchAll(PUBLISH)) {
    if (publish.some((p) => matchesEventPattern(m[1]!, p))) continue;
    problems.push({
      file: mainPath,
      ...at(m.index + 1),
      severity: 'error',
      message: `ctx.publish() of "${m[1]}" is not permitted: add it to permissions.events.publish in plugin.yaml`,
    });
  }
  const services = new Set(manifest.dependencies.map((d) => d.service));
  for (const m of source.matchAll(CALL)) {
    if (services.has(m[1]!)) continue;
    problems.push({
      file: mainPath,
      ...at(m.index + 1),
      severity: 'error',
      message: `ctx.call() to "${m[1]}" is not permitted: add { service: ${m[1]} } to dependencies in plugin.yaml`,
    });
  }
  for (const m of source.matchAll(FETCH)) {
    const host = new URL(m[1]!).host;
    const hostname = new URL(m[1]!).hostname;
    if (manifest.permissions.network.some((g) => g === host || g === hostname)) continue;
    problems.push({
      file: mainPath,
      ...at(m.index + 1),
      severity: 'error',
      message: `ctx.fetch() to ${host} is not permitted: add "${host}" to permissions.network in plugin.yaml`,
    });
  }
  return problems;
}

/** The plugin loaded in a gateway of its own: what only running its code shows. */
async function loadProblems(files: PluginFiles): Promise<Problem[]> {
  // A native plugin runs only inside bubblewrap; a JavaScript one is checked without it.
  const gateway = new TestGateway({ sandbox: { bwrap: !!files.command }, bootTimeout: '20s' });
  try {
    await gateway.start();
    await gateway.load(files.dir);
    return gateway.logs
      .filter(
        (l) =>
          l.level === 'warn' &&
          l.plugin_id === files.manifest.name &&
          typeof l.msg === 'string' &&
          // The source check reports undeclared routes at their line.
          !l.msg.includes('does not declare') &&
          // This check's own choice of no bubblewrap, not the plugin's: a gateway runs it in bwrap.
          !l.msg.includes('the gateway option sandbox.bwrap is false'),
      )
      .map((l) => ({
        file: files.manifestPath,
        line: 1,
        col: 1,
        severity: 'warning' as const,
        message: l.msg!,
      }));
  } catch (error) {
    if (isPluginCodeError(error)) {
      const where = error.location;
      return [
        {
          file: where?.file ?? files.mainPath,
          line: where?.line ?? 1,
          col: where?.column ?? 1,
          severity: 'error',
          message: error.message.replace(
            /^plugin "[^"]+" cannot load its code: (\/\S+:\d+:\d+: )?/,
            '',
          ),
        },
      ];
    }
    const message = error instanceof Error ? error.message : String(error);
    const missing = /declares endpoints in plugin.yaml that its routes do not handle: (.+)$/.exec(
      message,
    );
    if (isPluginLoadError(error) && missing) {
      return missing[1]!.split(', ').map((key) => {
        const i = files.manifest.endpoints.findIndex((e) => `${e.method} ${e.path}` === key);
        return {
          ...yamlAt(files.manifestText, files.manifestPath, ['endpoints', Math.max(0, i)]),
          severity: 'error' as const,
          message: `endpoint "${key}" has no handler in the plugin's routes`,
        };
      });
    }
    return [{ ...locatedIn(message, files.mainPath) }];
  } finally {
    await gateway.close();
  }
}

function position(text: string, index: number): { line: number; col: number } {
  const before = text.slice(0, index);
  return { line: before.split('\n').length, col: index - before.lastIndexOf('\n') };
}

function yamlAt(
  text: string,
  file: string,
  field: (string | number)[],
): { file: string; line: number; col: number } {
  const at = /:(\d+):(\d+) /.exec(fieldLocation(text, file, field));
  return { file, line: at ? Number(at[1]) : 1, col: at ? Number(at[2]) : 1 };
}

/** The same place and message once (the source check and the load may both see a fault). */
function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.file}:${p.line}:${p.message.slice(0, 40)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** `file:line:col: severity: message`, the format editors and CI read. */
export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.severity}: ${p.message}`;
}
