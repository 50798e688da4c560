/**
 * The plugin's source files as the static code check reads them: only regular files of the plugin's
 * own folder (outside `node_modules`), each within a size bound, each read as Node would read it
 * (an ES module or CommonJS, by its extension and its package scope's `"type"`).
 * @module
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  realpathSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { getLineInfo } from 'acorn';
import type { CodeLocation } from '../../errors.js';

/**
 * A source file larger than this is not parsed (its imports are not followed): real plugin files are
 * far smaller, and every other plugin's check waits behind this one's parse.
 */
export const MAX_SOURCE_BYTES = 4 * 1024 * 1024;

/** How Node reads a file: as an ES module, as CommonJS, or by what its syntax shows (no `"type"`). */
export type ModuleFormat = 'module' | 'commonjs' | 'detect';

/** Extensions the check parses as JavaScript. */
const JAVASCRIPT = /\.(m|c)?js$/;

export function isJavaScript(file: string): boolean {
  return JAVASCRIPT.test(file);
}

/** Whether `child` (a real path) is `parent` or inside it. */
export function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** A file the plugin's folder holds as its own code (not a package it installed). */
export function isOwnSource(root: string, file: string): boolean {
  return (
    isWithin(root, file) && !path.relative(root, file).split(path.sep).includes('node_modules')
  );
}

/**
 * The file's text when it is a regular file of at most {@link MAX_SOURCE_BYTES}; undefined when it is
 * larger (not checked). `O_NONBLOCK` keeps a FIFO from blocking the open; nothing but a regular file
 * is read.
 * @returns `null` when the file does not exist or is not a regular file.
 */
export function readSource(file: string): string | undefined | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) return null;
    if (info.size > MAX_SOURCE_BYTES) return undefined;
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Whether `file` is a regular file (links followed). */
export function isRegularFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** `.mjs` → module, `.cjs` → CommonJS, `.js` → the nearest package.json's `"type"`. */
export function moduleFormat(file: string): ModuleFormat {
  if (file.endsWith('.mjs')) return 'module';
  if (file.endsWith('.cjs')) return 'commonjs';
  const pkg = nearestPackageJson(path.dirname(file));
  if (pkg === undefined) return 'detect';
  let type: unknown;
  try {
    type = (JSON.parse(readSource(pkg) ?? '{}') as { type?: unknown }).type;
  } catch {
    return 'detect';
  }
  return type === 'module' ? 'module' : type === 'commonjs' ? 'commonjs' : 'detect';
}

export function nearestPackageJson(dir: string): string | undefined {
  for (let current = dir; ; current = path.dirname(current)) {
    const candidate = path.join(current, 'package.json');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(current) === current) return undefined;
  }
}

/**
 * What to do about `import`/`export` in `file` when Node reads it as CommonJS. The nearest
 * package.json may be the host app's, above the plugin (`root`): changing that one would break the host.
 */
export function esModuleHint(file: string, root: string): string {
  const pkg = nearestPackageJson(path.dirname(file));
  const scope =
    pkg !== undefined && isWithin(root, path.dirname(pkg))
      ? `set "type": "module" in ${pkg}`
      : `add a package.json holding {"type": "module"} to ${root}` +
        (pkg === undefined ? '' : ` (the nearest one, ${pkg}, is outside the plugin)`);
  return `${scope}, or name the file .mjs (and plugin.yaml's \`main\` with it)`;
}

/** The 1-based line and column of `offset` in `text`. */
export function locate(file: string, text: string, offset: number): CodeLocation {
  const { line, column } = getLineInfo(text, offset);
  return { file, line, column: column + 1 };
}

/** The real path, or undefined when there is none. */
export function realPath(file: string): string | undefined {
  try {
    return realpathSync(file);
  } catch {
    return undefined;
  }
}
