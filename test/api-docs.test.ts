/**
 * Every export of the package's entry points, and every public member of the classes and interfaces
 * it exports (inherited ones and a class's static side included), carries a TSDoc comment with a
 * summary. Object types written inline (`retry?: { attempts?: number }`, the variants of a union type
 * alias) are described by the comment of the property or alias that holds them.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const src = path.join(root, 'src') + path.sep;

/** The source of each entry point: package.json `exports` → the tsup `dts.entry` that builds its types. */
function entryPoints(): Map<string, string> {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, string | { import: { types: string } }>;
  };
  const config = ts.createSourceFile(
    'tsup.config.ts',
    readFileSync(path.join(root, 'tsup.config.ts'), 'utf8'),
    ts.ScriptTarget.Latest,
    true,
  );
  const dtsEntries = new Map<string, string>();
  const keyOf = (name: ts.PropertyName) =>
    ts.isIdentifier(name) || ts.isStringLiteral(name) ? name.text : undefined;
  const visit = (node: ts.Node): void => {
    // `const subpaths = { … }`, which the config hands to `dts: { entry: subpaths }`.
    if (
      ts.isVariableDeclaration(node) &&
      ts.isIdentifier(node.name) &&
      node.name.text === 'subpaths' &&
      node.initializer !== undefined &&
      ts.isObjectLiteralExpression(node.initializer)
    ) {
      for (const p of node.initializer.properties) {
        if (ts.isPropertyAssignment(p) && ts.isStringLiteral(p.initializer)) {
          dtsEntries.set(keyOf(p.name)!, p.initializer.text);
        }
      }
    }
    if (
      ts.isPropertyAssignment(node) &&
      keyOf(node.name) === 'entry' &&
      ts.isObjectLiteralExpression(node.initializer) &&
      ts.isPropertyAssignment(node.parent.parent) &&
      keyOf(node.parent.parent.name) === 'dts'
    ) {
      for (const p of node.initializer.properties) {
        if (ts.isPropertyAssignment(p) && ts.isStringLiteral(p.initializer)) {
          dtsEntries.set(keyOf(p.name)!, p.initializer.text);
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(config);
  const entries = new Map<string, string>();
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') continue; // ./package.json
    const name = target.import.types.replace(/^\.\/dist\//, '').replace(/\.d\.ts$/, '');
    const file = dtsEntries.get(name);
    if (file === undefined)
      throw new Error(`${subpath}: tsup.config.ts has no dts entry "${name}"`);
    entries.set(subpath, path.join(root, file));
  }
  return entries;
}

/** True when `node` has a `/** ... *\/` comment whose summary says something. */
function hasSummary(node: ts.Node): boolean {
  const target = ts.isVariableDeclaration(node) ? node.parent.parent : node;
  return ts
    .getJSDocCommentsAndTags(target)
    .some((doc) => ts.isJSDoc(doc) && (ts.getTextOfJSDocComment(doc.comment)?.trim() ?? '') !== '');
}

/** `file:line`, for the failure message. */
function where(node: ts.Node): string {
  const sf = node.getSourceFile();
  const { line } = sf.getLineAndCharacterOfPosition(node.getStart());
  return `${path.relative(root, sf.fileName)}:${line + 1}`;
}

function isPublic(decl: ts.Declaration): boolean {
  const name = ts.getNameOfDeclaration(decl);
  if (name && ts.isPrivateIdentifier(name)) return false;
  if (ts.isConstructorDeclaration(decl)) return false;
  const hidden = ts.ModifierFlags.Private | ts.ModifierFlags.Protected;
  return (ts.getCombinedModifierFlags(decl) & hidden) === 0;
}

function undocumented(entries: string[]): { exports: number; members: number; missing: string[] } {
  const program = ts.createProgram(entries, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const seen = new Set<ts.Node>();
  const missing: string[] = [];
  let exports = 0;
  let members = 0;

  const checkMember = (owner: string, decls: readonly ts.Declaration[]): void => {
    const own = decls.filter((d) => d.getSourceFile().fileName.startsWith(src) && isPublic(d));
    if (own.length === 0 || own.some((d) => seen.has(d))) return;
    own.forEach((d) => seen.add(d));
    members++;
    if (!own.some(hasSummary)) {
      const name = ts.getNameOfDeclaration(own[0]!)?.getText() ?? '?';
      missing.push(`member ${owner}.${name} (${where(own[0]!)})`);
    }
  };

  for (const entry of entries) {
    const sf = program.getSourceFile(entry);
    if (!sf) throw new Error(`${entry} is not in the program`);
    const moduleSymbol = checker.getSymbolAtLocation(sf)!;
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol =
        exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const decls = (symbol.declarations ?? []).filter((d) =>
        d.getSourceFile().fileName.startsWith(src),
      );
      if (decls.length === 0 || seen.has(decls[0]!)) continue;
      decls.forEach((d) => seen.add(d));
      exports++;
      if (!decls.some(hasSummary)) {
        missing.push(`export ${exported.name} (${where(decls[0]!)})`);
      }

      // Members, inherited ones included; a class's static side too.
      const types: ts.Type[] = [];
      if (symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface)) {
        types.push(checker.getDeclaredTypeOfSymbol(symbol));
      }
      if (symbol.flags & ts.SymbolFlags.Class) {
        types.push(checker.getTypeOfSymbol(symbol));
      }
      for (const type of types) {
        for (const property of checker.getPropertiesOfType(type)) {
          if (property.name === 'prototype') continue;
          checkMember(exported.name, property.declarations ?? []);
        }
      }
    }
  }
  return { exports, members, missing };
}

describe('API documentation', () => {
  const entries = entryPoints();

  it('finds every entry point of package.json in tsup.config.ts', () => {
    expect([...entries.keys()]).toEqual(
      expect.arrayContaining(['.', './sdk', './node', './prometheus', './registry/etcd']),
    );
    for (const file of entries.values()) expect(existsSync(file), file).toBe(true);
  });

  it('documents every export and every public member', () => {
    const { exports, members, missing } = undocumented([...new Set(entries.values())]);
    expect(exports).toBeGreaterThan(50);
    expect(members).toBeGreaterThan(200);
    expect(missing, 'exports and public members without a TSDoc summary').toEqual([]);
  });
});
