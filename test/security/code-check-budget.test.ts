/**
 * The static code check of a lazy plugin parses on the host's event loop, and a parsed tree holds tens of
 * times its text: a plugin of a few dense 4 MiB modules held the host for seconds and 815 MB before
 * the check had a budget. Now it parses at most MAX_PARSED_BYTES of a plugin's source, all files
 * together; what lies past it is found when the code loads.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_PARSED_BYTES, parseModuleGraph } from '../../src/loader/code-check/module-graph.js';

const scratch = mkdtempSync(path.join(import.meta.dirname, '..', '.code-check-budget-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A module of about 4 MiB of dense array literal: the costliest text to parse. */
const dense = (n: number) => `export const a${n} = [${'0,'.repeat(2 * 1024 * 1024 - 64)}0];\n`;

describe('the start() code check against a parser bomb', () => {
  it('parses at most its budget of a plugin of dense 4 MiB modules, and still reads the entry', () => {
    const dir = path.join(scratch, 'bomb');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
    const imports: string[] = [];
    for (let i = 0; i < 4; i++) {
      writeFileSync(path.join(dir, `part${i}.js`), dense(i));
      imports.push(`import { a${i} } from './part${i}.js';`);
    }
    writeFileSync(
      path.join(dir, 'index.js'),
      `${imports.join('\n')}\nexport default { routes: { 'GET /x': () => ({ statusCode: 200 }) } };\n`,
    );
    const graph = parseModuleGraph(path.join(dir, 'index.js'), dir, 'bomb');
    const parsed = [...graph.values()].reduce((n, f) => n + f.text.length, 0);
    expect(parsed).toBeLessThanOrEqual(MAX_PARSED_BYTES);
    expect([...graph.keys()].map((f) => path.basename(f))).toEqual(['index.js']);
  }, 120_000);
});
