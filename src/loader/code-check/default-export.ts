/**
 * What a static reading of the entry module can say about its default export: that there is one, that
 * it is not a function or a primitive, and — when it is written as `definePlugin({ … })` or an object
 * literal (directly, or through a top-level `const`) — that its `routes` and `websockets` are
 * functions and objects and cover the manifest's endpoints. Anything computed (a call to something
 * else, a spread, a computed key, an import) is left to the boot, which sees the real value.
 * @module
 */
import type {
  Expression,
  Identifier,
  ObjectExpression,
  Program,
  Property,
  SpreadElement,
} from 'acorn';
import type { CodeLocation } from '../../errors.js';
import { NO_DEFAULT_EXPORT } from '../load-diagnosis.js';
import { locate } from './source-files.js';
import type { ParsedFile } from './module-graph.js';

/** A problem with the default export, where it is. */
export interface ExportProblem {
  what: string;
  hint: string;
  location: CodeLocation;
}

/** What is known of the plugin definition: the route keys it defines, or nothing (not knowable). */
export interface KnownDefinition {
  /** `"METHOD /path"` keys of `routes` and `websockets`; undefined when they cannot all be known. */
  routes: string[] | undefined;
  /** Where the definition object is written. */
  location: CodeLocation;
}

const DEFINITION_HINT =
  'pass definePlugin() an object of hooks and "METHOD /path" routes, each a function';
const HOOKS = new Set(['initialize', 'start', 'stop', 'healthCheck', 'handleEvent']);
/** Where the SDK is imported from (`definePlugin`, under any local name). */
const SDK = /(^|\/)plugin-gateway\/sdk$|^\.{1,2}\/.*sdk(\/index)?(\.[cm]?js)?$/;

/**
 * The default export of `entry`, as far as the source shows it.
 * @returns a problem, or what is known of the definition (undefined: nothing can be known statically).
 */
export function readDefaultExport(
  entry: ParsedFile,
  graph: ReadonlyMap<string, ParsedFile>,
  resolveOwn: (specifier: string, from: ParsedFile) => ParsedFile | undefined,
  depth = 0,
): ExportProblem | KnownDefinition | undefined {
  const { program, file, text } = entry;
  const at = (offset: number) => locate(file, text, offset);
  for (const node of program.body) {
    if (node.type === 'ExportDefaultDeclaration') {
      const declaration = node.declaration;
      if (declaration.type === 'FunctionDeclaration' || declaration.type === 'ClassDeclaration') {
        return notAPlugin(file, 'function', at(declaration.start));
      }
      return valueOf(declaration, entry, 0);
    }
    if (node.type !== 'ExportNamedDeclaration') continue;
    for (const spec of node.specifiers) {
      if (nameOf(spec.exported) !== 'default') continue;
      if (node.source) {
        // `export { default } from './impl.js'`: read that module's, when it is the plugin's own.
        const other = resolveOwn(String(node.source.value), entry);
        if (!other || depth > 8 || nameOf(spec.local) !== 'default') return undefined;
        return readDefaultExport(other, graph, resolveOwn, depth + 1);
      }
      const local = spec.local;
      return local.type === 'Identifier' ? bindingValue(local, entry) : undefined;
    }
  }
  // (`export * from` never re-exports a default: still none.)
  const last = [...program.body].reverse().find((n) => n.type.startsWith('Export'));
  return {
    what: `${file} ${NO_DEFAULT_EXPORT}`,
    hint: 'end the file with `export default definePlugin({ routes: { ... } })`',
    location: last ? at(last.start) : { file, line: 1, column: 1 },
  };
}

function nameOf(node: Identifier | { type: 'Literal'; value?: unknown }): string {
  return node.type === 'Identifier' ? node.name : String(node.value);
}

function notAPlugin(file: string, kind: string, location: CodeLocation): ExportProblem {
  return {
    what: `the default export of ${file} is a ${kind}, not a plugin: export default definePlugin({ ... })`,
    hint: DEFINITION_HINT,
    location,
  };
}

/** What an expression exported as default is, as far as it can be known. */
function valueOf(
  expression: Expression,
  entry: ParsedFile,
  depth: number,
): ExportProblem | KnownDefinition | undefined {
  const at = (offset: number) => locate(entry.file, entry.text, offset);
  switch (expression.type) {
    case 'ObjectExpression':
      return definitionOf(expression, entry);
    case 'ArrowFunctionExpression':
    case 'FunctionExpression':
    case 'ClassExpression':
      return notAPlugin(entry.file, 'function', at(expression.start));
    case 'Literal':
    case 'TemplateLiteral': {
      const value = expression.type === 'Literal' ? expression.value : '';
      if (value === null) {
        return {
          what: `${entry.file} ${NO_DEFAULT_EXPORT}`,
          hint: 'end the file with `export default definePlugin({ routes: { ... } })`',
          location: at(expression.start),
        };
      }
      return notAPlugin(entry.file, typeof value, at(expression.start));
    }
    case 'Identifier':
      return depth > 8 ? undefined : bindingValue(expression, entry, depth + 1);
    case 'CallExpression': {
      const [argument] = expression.arguments;
      if (!isDefinePlugin(expression.callee, entry.program) || !argument) return undefined;
      if (argument.type === 'ObjectExpression') return definitionOf(argument, entry);
      if (argument.type === 'Identifier') {
        const bound = bindingValue(argument, entry, depth + 1);
        return bound && 'routes' in bound ? bound : undefined;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** `definePlugin` imported from the SDK (any local name), or a function of that name (a bundle's). */
function isDefinePlugin(callee: Expression | { type: string }, program: Program): boolean {
  if (callee.type !== 'Identifier') return false;
  const name = (callee as Identifier).name;
  for (const node of program.body) {
    if (node.type !== 'ImportDeclaration' || !SDK.test(String(node.source.value))) continue;
    for (const spec of node.specifiers) {
      if (spec.type !== 'ImportSpecifier' || spec.local.name !== name) continue;
      return nameOf(spec.imported) === 'definePlugin';
    }
  }
  return /^definePlugin\d*$/.test(name);
}

/** The value a top-level `const`/`let`/`var`/`function`/`class` of that name is declared with. */
function bindingValue(
  id: Identifier,
  entry: ParsedFile,
  depth = 0,
): ExportProblem | KnownDefinition | undefined {
  for (const node of entry.program.body) {
    const declaration =
      node.type === 'ExportNamedDeclaration' && node.declaration ? node.declaration : node;
    if (
      (declaration.type === 'FunctionDeclaration' || declaration.type === 'ClassDeclaration') &&
      declaration.id?.name === id.name
    ) {
      return notAPlugin(entry.file, 'function', locate(entry.file, entry.text, declaration.start));
    }
    if (declaration.type !== 'VariableDeclaration') continue;
    for (const d of declaration.declarations) {
      if (d.id.type !== 'Identifier' || d.id.name !== id.name) continue;
      // `let`/`var` may be reassigned before the export is read: only a `const` is known.
      if (declaration.kind !== 'const' || !d.init) return undefined;
      return valueOf(d.init, entry, depth);
    }
  }
  return undefined;
}

/** The object handed to `definePlugin()` (or exported as is): its hooks and routes. */
function definitionOf(
  object: ObjectExpression,
  entry: ParsedFile,
): ExportProblem | KnownDefinition {
  const location = locate(entry.file, entry.text, object.start);
  const at = (offset: number) => locate(entry.file, entry.text, offset);
  let routes: string[] | undefined = [];
  const seen = new Set<string>();
  for (const property of object.properties) {
    const key = staticKey(property);
    if (key === undefined) {
      routes = undefined; // a spread or computed key may bring routes
      continue;
    }
    seen.add(key);
    const value = (property as Property).value as Expression;
    if (HOOKS.has(key) && isNotCallable(value)) {
      return {
        what: `definePlugin(): "${key}" must be a function, got ${kindOf(value)}`,
        hint: DEFINITION_HINT,
        location: at(property.start),
      };
    }
    if (key !== 'routes' && key !== 'websockets') continue;
    if (value.type !== 'ObjectExpression') {
      routes = undefined;
      continue;
    }
    for (const route of value.properties) {
      const routeKey = staticKey(route);
      if (routeKey === undefined) {
        routes = undefined;
        continue;
      }
      routes?.push(routeKey);
      const handler = (route as Property).value as Expression;
      const wrong = key === 'routes' ? isNotCallable(handler) : isPrimitive(handler);
      if (wrong) {
        return {
          what:
            key === 'routes'
              ? `definePlugin(): route "${routeKey}" must be a function, got ${kindOf(handler)}`
              : `definePlugin(): websocket "${routeKey}" must be an object of handlers (open, message, close)`,
          hint: DEFINITION_HINT,
          location: at(route.start),
        };
      }
    }
  }
  return { routes, location };
}

function staticKey(property: Property | SpreadElement): string | undefined {
  if (property.type !== 'Property' || property.computed) return undefined;
  const key = property.key;
  if (key.type === 'Identifier') return key.name;
  return key.type === 'Literal' && typeof key.value === 'string' ? key.value : undefined;
}

/** A value that is certainly not a function: a literal, an object, an array, a template. */
function isNotCallable(value: Expression): boolean {
  return (
    isPrimitive(value) || value.type === 'ObjectExpression' || value.type === 'ArrayExpression'
  );
}

function isPrimitive(value: Expression): boolean {
  return (
    (value.type === 'Literal' && value.value !== null) ||
    value.type === 'TemplateLiteral' ||
    value.type === 'ArrayExpression'
  );
}

function kindOf(value: Expression): string {
  if (value.type === 'Literal') return typeof value.value;
  if (value.type === 'TemplateLiteral') return 'string';
  return 'object';
}
