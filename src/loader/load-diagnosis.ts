/**
 * Why a plugin's code would not load, at its line: the host reads the failure its harness reported
 * (Node's own errors often name no file: an ES module's syntax error has no location at all on Node 20)
 * and finds the file, line and column, and what to do. Runs on the failure path only, and never blocks
 * the host: the one check that needs Node's parser (`node --check`) runs in a child process.
 * @module
 */
import { execFile } from 'node:child_process';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PluginCodeError, type CodeLocation } from '../errors.js';
import type { TaskFailure } from '../shared/task-failure.js';
import { esModuleHint } from './code-check/source-files.js';
import { packageName } from './typescript-entry.js';

/** What the harness says when the module has no default export (`harness/plugin-export.ts`). */
export const NO_DEFAULT_EXPORT = 'has no default export';

interface Diagnosis {
  what: string;
  hint: string;
  location?: CodeLocation;
}

/**
 * The located error for a boot failure caused by the plugin's code, or undefined when the failure is
 * something else (`initialize()` threw, for one).
 */
export async function diagnoseLoadFailure(
  failure: TaskFailure,
  mainPath: string,
  plugin: string,
): Promise<PluginCodeError | undefined> {
  const stack = failure.stack ?? failure.message;
  const found = await diagnose(stack, failure.message, mainPath);
  if (!found) return undefined;
  const { location } = found;
  const at = location ? `${location.file}:${location.line}:${location.column}: ` : '';
  const cause = new Error(failure.message);
  if (failure.stack) cause.stack = failure.stack;
  return new PluginCodeError(
    `plugin "${plugin}" cannot load its code: ${at}${found.what} — ${found.hint}`,
    { cause, plugin, location, hint: found.hint },
  );
}

async function diagnose(
  stack: string,
  message: string,
  mainPath: string,
): Promise<Diagnosis | undefined> {
  const moduleType = /Cannot use import statement outside a module|Unexpected token 'export'/.exec(
    message,
  );
  if (moduleType) {
    const location = syntaxLocation(stack) ?? (await checkSyntax(mainPath, stack));
    const file = location?.file ?? mainPath;
    return {
      what: `${message}: Node reads this file as CommonJS`,
      hint: esModuleHint(file, path.dirname(mainPath)),
      location,
    };
  }
  // Node 20.19+ sees the import/export of a file its package scope calls CommonJS and tries to
  // require() it as an ES module from the harness's import(): a "cycle", which names no line.
  const requiredEsm = /Cannot require\(\) ES Module ([^\n]{1,4096}?) in a cycle/.exec(message);
  if (requiredEsm) {
    const file = requiredEsm[1]!.startsWith('file:')
      ? fileURLToPath(requiredEsm[1]!)
      : requiredEsm[1]!;
    if (readText(file, path.dirname(mainPath)) === undefined) return undefined;
    return {
      what: 'this file uses import/export, but Node reads it as CommonJS',
      hint: esModuleHint(file, path.dirname(mainPath)),
      location: firstModuleSyntax(file, path.dirname(mainPath)),
    };
  }
  if (/^SyntaxError/m.test(stack) && /^SyntaxError: /.test(firstErrorLine(stack))) {
    return {
      what: firstErrorLine(stack),
      hint: 'fix the syntax at that line',
      location: syntaxLocation(stack) ?? (await checkSyntax(mainPath, stack)),
    };
  }
  const missing = /Cannot find (package|module) '([^']+)' imported from (.+?)\s*$/m.exec(message);
  if (missing) {
    const [, kind, specifier, importer] = missing;
    const file = importer!.startsWith('file:') ? fileURLToPath(importer!) : importer!;
    // The text comes from the plugin's thread: name no file outside its folder as the fault's place.
    if (readText(file, path.dirname(mainPath)) === undefined) return undefined;
    const written = kind === 'package' ? specifier! : path.basename(specifier!);
    return {
      what: `cannot find ${kind} "${kind === 'package' ? specifier : path.relative(path.dirname(file), specifier!)}"`,
      hint:
        kind === 'package'
          ? `install it in the plugin's folder: npm i ${packageName(specifier!)}`
          : 'check the path (an ES module import names the file with its extension: "./file.js")',
      location: findInFile(file, written, path.dirname(mainPath)) ?? { file, line: 1, column: 1 },
    };
  }
  if (/^PluginDefinitionError: /m.test(stack)) {
    const what = firstErrorLine(stack).replace(/^PluginDefinitionError: /, '');
    if (what.includes(NO_DEFAULT_EXPORT)) {
      return {
        what,
        hint: 'end the file with `export default definePlugin({ routes: { ... } })`',
        location: lastExport(mainPath),
      };
    }
    return {
      what,
      hint: 'pass definePlugin() an object of hooks and "METHOD /path" routes, each a function',
      location: frameIn(stack, path.dirname(mainPath)),
    };
  }
  return undefined;
}

function firstErrorLine(stack: string): string {
  return stack.split('\n').find((l) => /^\w*Error[:\s]/.test(l)) ?? stack.split('\n')[0]!;
}

/** CommonJS and `node --check` print `file:line`, the source line and a caret line above the error. */
function syntaxLocation(text: string): CodeLocation | undefined {
  const lines = text.split('\n');
  const head = /^(.+):(\d+)$/.exec(lines[0] ?? '');
  if (!head || !/[/\\]/.test(head[1]!)) return undefined;
  const file = head[1]!.startsWith('file:') ? fileURLToPath(head[1]!) : head[1]!;
  const caret = (lines[2] ?? '').indexOf('^');
  return { file, line: Number(head[2]), column: caret >= 0 ? caret + 1 : 1 };
}

/**
 * Node's own check of the file (`node --check`), which locates the syntax error. Only for an error Node
 * raised while compiling (no frame of the plugin's code on its stack): a `SyntaxError` the plugin threw
 * itself is located by its stack, and costs no process.
 */
function checkSyntax(file: string, stack: string): Promise<CodeLocation | undefined> {
  const frames = stack.split('\n').filter((l) => /^\s+at /.test(l));
  if (frames.some((l) => !/\(?node:/.test(l.replace(/^\s+at [^(]*\(/, '(')))) {
    return Promise.resolve(frameIn(stack, path.dirname(file)));
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--check', file],
      { encoding: 'utf8', timeout: 10_000, maxBuffer: 64 * 1024 },
      (error, _stdout, stderr) => resolve(error ? syntaxLocation(stderr) : undefined),
    );
  });
}

/** Source files are small; the failure's text comes from the plugin's thread and may name any file. */
const MAX_SOURCE_BYTES = 4 * 1024 * 1024;

/** A regular file of the plugin's folder, read; anything else is not read at all. */
function readText(file: string, dir: string): string | undefined {
  try {
    const rel = path.relative(realpathSync(dir), realpathSync(file));
    if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
    const info = statSync(file);
    if (!info.isFile() || info.size > MAX_SOURCE_BYTES) return undefined;
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function locationOf(file: string, text: string, index: number): CodeLocation {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  return { file, line, column: index - before.lastIndexOf('\n') };
}

/** Where `specifier` is written in quotes in `file`. */
function findInFile(file: string, specifier: string, dir: string): CodeLocation | undefined {
  const text = readText(file, dir);
  if (text === undefined) return undefined;
  const match = new RegExp(`['"\`]([^'"\`]*/)?${escape(specifier)}['"\`/]`).exec(text);
  return match ? locationOf(file, text, match.index) : undefined;
}

/** The file's first `import` or `export` statement (line 1 without one). */
function firstModuleSyntax(file: string, dir: string): CodeLocation {
  const text = readText(file, dir) ?? '';
  const match = /^(import|export)\b/m.exec(text);
  return match ? locationOf(file, text, match.index) : { file, line: 1, column: 1 };
}

/** The file's last `export` or `module.exports`, where a default export belongs (line 1 without one). */
function lastExport(file: string): CodeLocation {
  const text = readText(file, path.dirname(file)) ?? '';
  let index = -1;
  for (const match of text.matchAll(/^(export\b|module\.exports\b)/gm)) index = match.index;
  return index < 0 ? { file, line: 1, column: 1 } : locationOf(file, text, index);
}

/** The first stack frame in the plugin's folder. */
function frameIn(stack: string, dir: string): CodeLocation | undefined {
  for (const match of stack.matchAll(/\(?((?:file:\/\/)?\/[^():\s]+):(\d+):(\d+)\)?$/gm)) {
    const file = match[1]!.startsWith('file:') ? fileURLToPath(match[1]!) : match[1]!;
    if (!path.relative(dir, file).startsWith('..') && !file.includes('/node_modules/')) {
      return { file, line: Number(match[2]), column: Number(match[3]) };
    }
  }
  return undefined;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
