/**
 * `parseManifest()`: YAML text to a validated, deep-frozen {@link Manifest}, or a
 * {@link ManifestInvalidError} that lists every problem as `plugin.yaml:LINE:COL field: message`.
 * @module
 */
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import type { Document, LineCounter, Node } from 'yaml';
import type { core } from 'zod';
import { ManifestInvalidError, type ManifestProblem } from '../errors.js';
import { deepFreeze } from '../shared/deep-freeze.js';
import { knownKeysLater, suggestKey } from '../shared/schema-keys.js';
import { manifestSchema, type Manifest } from './schema.js';

const MANIFEST_KEYS = knownKeysLater(manifestSchema);

/**
 * The YAML parser, loaded at the first manifest rather than with the gateway: it was a sixth of what
 * importing the package cost, and a host that loads no plugin from a folder never needs it.
 * Synchronously (`require`), since `parseManifest()` is synchronous.
 */
let yamlModule: typeof Yaml | undefined;
const yaml = (): typeof Yaml =>
  (yamlModule ??= createRequire(import.meta.url)('yaml') as typeof Yaml);

export type { Manifest } from './schema.js';

/** The largest manifest read or parsed, in bytes: checked before parsing. */
export const MAX_MANIFEST_BYTES = 256 * 1024;
/** How deep a manifest's mappings and lists may nest (the schema itself needs 4 levels). */
export const MAX_MANIFEST_DEPTH = 16;
/** How many aliases (`*name`) a manifest may expand: a few are fine, a "billion laughs" is not. */
export const MAX_MANIFEST_ALIASES = 16;

/** Options of {@link parseManifest}. */
export interface ParseManifestOptions {
  /**
   * Name of the file the text came from, used in every problem's location.
   * @default 'plugin.yaml'
   */
  file?: string;
}

/** What to do about the YAML errors a hand-written manifest meets most. */
const YAML_HINTS: Partial<Record<string, string>> = {
  TAB_AS_INDENT: 'indent with spaces, not tabs',
  BAD_INDENT: 'the fields of one mapping start at the same column (two spaces more per level)',
  MISSING_CHAR: 'check the indentation and the `-` of each list item',
  MULTILINE_IMPLICIT_KEY: 'check the indentation of this line and the one above',
  BLOCK_AS_IMPLICIT_KEY: 'check the indentation of this line and the one above',
};

/**
 * Validates a manifest without loading it.
 * @throws {ManifestInvalidError} `PGW_ERR_MANIFEST_INVALID`, with every problem located.
 * @example
 * const manifest = parseManifest(fs.readFileSync('plugin.yaml', 'utf8'), { file: 'plugin.yaml' });
 */
export function parseManifest(text: string, options: ParseManifestOptions = {}): Manifest {
  const file = options.file ?? 'plugin.yaml';
  const refuse = (message: string, line = 1, col = 1, cause?: unknown) =>
    new ManifestInvalidError([{ file, line, col, path: '', message }], { cause });
  // Length first: a byte count walks the whole string.
  if (text.length > MAX_MANIFEST_BYTES || Buffer.byteLength(text) > MAX_MANIFEST_BYTES) {
    throw refuse(`larger than ${MAX_MANIFEST_BYTES / 1024} KiB`);
  }
  const { LineCounter, parseDocument } = yaml();
  const lines = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, {
      lineCounter: lines,
      prettyErrors: false,
      uniqueKeys: true,
      logLevel: 'error',
    });
  } catch (cause) {
    throw refuse('cannot be parsed as YAML', 1, 1, cause);
  }
  if (doc.errors.length > 0) {
    // One syntax error cascades into many: the first says what there is to fix.
    const error = doc.errors[0]!;
    const at = lines.linePos(error.pos[0]);
    const hint = YAML_HINTS[error.code];
    const message = firstLine(error.message) + (hint ? ` — ${hint}` : '');
    throw new ManifestInvalidError([{ file, line: at.line, col: at.col, path: '', message }]);
  }
  const deep = tooDeep(doc.contents);
  if (deep) {
    const at = position(deep, lines);
    throw refuse(`nested more than ${MAX_MANIFEST_DEPTH} levels deep`, at.line, at.col);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_MANIFEST_ALIASES });
  } catch (cause) {
    // yaml throws a ReferenceError for an alias bomb or an alias to nothing.
    throw refuse(
      `its aliases expand too far or point nowhere (at most ${MAX_MANIFEST_ALIASES} aliases)`,
      1,
      1,
      cause,
    );
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ManifestInvalidError([
      { file, line: 1, col: 1, path: '', message: 'expected a mapping of manifest fields' },
    ]);
  }
  const parsed = manifestSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((issue) => locate(issue, doc, lines, file));
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ManifestInvalidError(problems, { cause: parsed.error });
  }
  return deepFreeze(parsed.data);
}

/** The first node nested deeper than {@link MAX_MANIFEST_DEPTH}, walked without recursion. */
function tooDeep(root: unknown): Node | undefined {
  const { isCollection, isPair } = yaml();
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (!isCollection(node)) continue;
    if (depth > MAX_MANIFEST_DEPTH) return node;
    for (const item of node.items) {
      if (isPair(item)) stack.push([item.key, depth + 1], [item.value, depth + 1]);
      else stack.push([item, depth + 1]);
    }
  }
  return undefined;
}

function locate(
  issue: core.$ZodIssue,
  doc: Document,
  lines: LineCounter,
  file: string,
): ManifestProblem[] {
  const { isMap, isPair, isScalar } = yaml();
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const parent = doc.getIn(issue.path, true) ?? doc.contents;
    return issue.keys.map((key) => {
      const pair = isMap(parent)
        ? parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key)
        : undefined;
      const node = pair && isScalar(pair.key) ? pair.key : (parent as Node | null);
      return {
        file,
        ...position(node, lines),
        path: [...path, key].join('.'),
        message: `unknown key "${key}"${suggestKey(MANIFEST_KEYS(), issue.path, key)}`,
      };
    });
  }
  // A missing field has no node of its own: point at the closest ancestor that exists.
  let node: unknown;
  for (let depth = issue.path.length; depth >= 0 && node == null; depth--) {
    node = depth === 0 ? doc.contents : doc.getIn(issue.path.slice(0, depth), true);
  }
  return [
    {
      file,
      ...position(node as Node | null, lines),
      path: path.join('.'),
      message: describe(issue),
    },
  ];
}

/**
 * `plugin.yaml:LINE:COL field` for a field of a manifest that parsed, for errors found after parsing
 * (an entry file that does not exist, a runtime that is not available).
 */
export function fieldLocation(text: string, file: string, path: (string | number)[]): string {
  const { LineCounter, isMap, isScalar, parseDocument } = yaml();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const pair =
    path.length > 0 ? (doc.getIn(path.slice(0, -1), true) ?? doc.contents) : doc.contents;
  const last = path[path.length - 1];
  const keyNode = isMap(pair)
    ? pair.items.find((p) => isScalar(p.key) && p.key.value === last)?.value
    : undefined;
  const at = position((keyNode as Node | undefined) ?? (pair as Node | null), lines);
  return `${file}:${at.line}:${at.col} ${path.join('.')}`;
}

function describe(issue: core.$ZodIssue): string {
  if (issue.code !== 'invalid_type') return issue.message;
  const input = (issue as { input?: unknown }).input;
  if (input === undefined) return `is required (${issue.expected})`;
  const got =
    input === null
      ? 'null'
      : Array.isArray(input)
        ? 'a list'
        : `${typeof input} ${JSON.stringify(input)}`;
  return `expected ${issue.expected}, got ${got}${typeof input === 'number' && issue.expected === 'string' ? ' (quote it)' : ''}`;
}

function position(
  node: Node | null | undefined,
  lines: LineCounter,
): { line: number; col: number } {
  const offset = node?.range?.[0];
  if (offset === undefined) return { line: 1, col: 1 };
  const at = lines.linePos(offset);
  return { line: at.line, col: at.col };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}
