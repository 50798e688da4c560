/**
 * The part of the code check that parses: a JavaScript plugin's own modules are parsed and their
 * imports resolved from its folder (`module-graph.ts`), and its default export read as far as the
 * source shows it (`default-export.ts`); a TypeScript entry's bundle (esbuild checked its syntax and
 * imports at load) is read the same way. It runs in the code check's thread (`check-thread.ts`), so
 * that milliseconds of parsing a plugin never hold the host's event loop.
 * @module
 */
import { parse, type Program } from 'acorn';
import { readDefaultExport, type ExportProblem, type KnownDefinition } from './default-export.js';
import {
  MAX_PARSED_BYTES,
  parseModuleGraph,
  resolutionKey,
  type ParsedFile,
} from './module-graph.js';
import { realPath } from './source-files.js';

/** What the parsing part reads of a plugin (plain data: it crosses to the check's thread). */
export interface SourceToCheck {
  plugin: string;
  dir: string;
  mainPath: string;
  /** The bundled TypeScript entry (`data:` URL), when `main` is TypeScript. */
  mainUrl?: string | undefined;
}

/** What the source shows of the default export (undefined: nothing can be known statically). */
export type SourceFindings = ExportProblem | KnownDefinition | undefined;

/**
 * Parses the plugin's source and reads its default export.
 * @throws {PluginCodeError} for a syntax error, ES module syntax Node would read as CommonJS, or an
 * import that resolves to nothing, at its file, line and column.
 */
export function checkSource(code: SourceToCheck): SourceFindings {
  if (code.mainUrl?.startsWith('data:')) return readBundle(code.mainPath, code.mainUrl);
  const resolved = new Map<string, string | undefined>();
  const graph = parseModuleGraph(code.mainPath, code.dir, code.plugin, resolved);
  const entry = graph.get(realPath(code.mainPath) ?? code.mainPath);
  if (!entry) return undefined; // CommonJS: what it exports is known once it runs
  // A re-export is followed only where the graph's guarded resolution led (never resolved again here).
  const ownModule = (specifier: string, from: ParsedFile) =>
    graph.get(resolved.get(resolutionKey(specifier, from.file)) ?? '');
  return readDefaultExport(entry, graph, ownModule);
}

/** A TypeScript entry's bundle (syntax and imports were checked when esbuild made it, at load). */
function readBundle(mainPath: string, url: string): SourceFindings {
  const text = Buffer.from(url.slice(url.indexOf(',') + 1), 'base64').toString();
  if (text.length > MAX_PARSED_BYTES) return undefined; // its boot tells, as for a large own file
  let program: Program;
  try {
    program = parse(text, { ecmaVersion: 'latest', sourceType: 'module' });
  } catch {
    return undefined; // esbuild wrote what this parser does not read: the boot will tell
  }
  const found = readDefaultExport({ file: mainPath, text, program }, new Map(), () => undefined);
  // Places in the bundle mean nothing to the author: name the entry file.
  if (found) found.location = { file: mainPath, line: 1, column: 1 };
  return found;
}
