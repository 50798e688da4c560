// The README, ARCHITECTURE.md and docs/ as a reader meets them: every link leads somewhere that exists
// (a file of the repository, a heading or an anchor in it), and every TypeScript sample compiles against
// the package's published types.
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repoUrl = /^https:\/\/github\.com\/veza\/plugin-gateway\/(?:blob|tree)\/main\/([^#]+)(#.*)?$/;

function markdownFiles(): string[] {
  const found = ['README.md', 'ARCHITECTURE.md', 'CHANGELOG.md'].filter((f) =>
    existsSync(path.join(root, f)),
  );
  const walk = (dir: string): void => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.md')) found.push(rel);
    }
  };
  walk('docs');
  return found;
}

/** Markdown without its fenced code blocks (a `](x)` in a code sample is not a link). */
function prose(text: string): string {
  return text.replace(/^```[^\n]*\n[\s\S]*?^```[ \t]*$/gm, '');
}

/** GitHub's heading anchors (lower case, punctuation dropped, spaces to dashes, -1 -2 for repeats). */
function anchorsOf(file: string): Set<string> {
  const text = prose(readFileSync(path.join(root, file), 'utf8'));
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of text.matchAll(/^#{1,6} +(.+?)\s*$/gm)) {
    const plain = heading!.replace(/<a id="[^"]*"><\/a>/g, '');
    const slug = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\- _]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  for (const [, id] of text.matchAll(/<a id="([^"]+)"/g)) anchors.add(id!);
  return anchors;
}

describe('documentation links', () => {
  const files = markdownFiles();

  it('finds the front door, the architecture map and the guide', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('ARCHITECTURE.md');
    expect(files).toContain('docs/README.md');
    expect(files.some((f) => f.startsWith('docs/decisions/'))).toBe(true);
  });

  it('indexes every decision record', () => {
    const index = readFileSync(path.join(root, 'docs/decisions/README.md'), 'utf8');
    const records = readdirSync(path.join(root, 'docs/decisions')).filter((f) =>
      /^\d{4}-.*\.md$/.test(f),
    );
    expect(records.filter((f) => !index.includes(`](${f})`))).toEqual([]);
  });

  it.each(files)('%s links only to files and anchors that exist', (file) => {
    const text = prose(readFileSync(path.join(root, file), 'utf8'));
    const broken: string[] = [];
    for (const [, link] of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      let target: string;
      let fragment: string | undefined;
      const inRepo = repoUrl.exec(link!);
      if (inRepo) {
        target = inRepo[1]!;
        fragment = inRepo[2]?.slice(1);
      } else if (/^[a-z]+:/i.test(link!)) {
        continue; // another site: not ours to check offline
      } else {
        const [pathPart, hash] = link!.split('#', 2);
        target = pathPart
          ? path.posix.normalize(path.posix.join(path.posix.dirname(file), pathPart))
          : file;
        fragment = hash;
      }
      const full = path.join(root, target.replace(/\/$/, ''));
      if (!existsSync(full)) {
        broken.push(`${link} (no ${target})`);
        continue;
      }
      if (fragment && statSync(full).isFile() && target.endsWith('.md')) {
        if (!anchorsOf(target).has(fragment))
          broken.push(`${link} (no heading #${fragment} in ${target})`);
      }
    }
    expect(broken).toEqual([]);
  });
});

/** Names the samples use without declaring them: what a reader already has in the app around them. */
const ambient = `
type Gateway = import('@veza/plugin-gateway').PluginGateway;
declare const gateway: Gateway;
declare const app: import('fastify').FastifyInstance & import('express').Express;
declare const express: typeof import('express').default;
declare const http: typeof import('node:http');
declare const exporter: import('@opentelemetry/sdk-trace-base').SpanExporter;
declare const histogram: { observe(value: number): void };
declare const management: import('@veza/plugin-gateway/management').Management;
declare const redis: import('ioredis').Redis;
declare const registry: import('@veza/plugin-gateway').DiscoveryRegistry;
declare function prices(path: string): Promise<unknown>;
declare const PluginGateway: typeof import('@veza/plugin-gateway').PluginGateway;
declare const packPlugin: typeof import('@veza/plugin-gateway').packPlugin;
declare const redisStreams: typeof import('@veza/plugin-gateway').redisStreams;
declare const createRequestListener: typeof import('@veza/plugin-gateway/node').createRequestListener;
declare const createManagement: typeof import('@veza/plugin-gateway/management').createManagement;
declare const generateKeyPairSync: typeof import('node:crypto').generateKeyPairSync;
`;

describe('documentation samples', () => {
  const dir = path.join(root, 'test', '.doc-samples');
  const samples: { name: string; from: string }[] = [];

  // dist/ is built by test/global-setup.ts before any test file runs.
  beforeAll(() => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'ambient.d.ts'), ambient);
    for (const file of markdownFiles()) {
      const text = readFileSync(path.join(root, file), 'utf8');
      let index = 0;
      for (const match of text.matchAll(/^```ts\n([\s\S]*?)^```/gm)) {
        const line = text.slice(0, match.index).split('\n').length;
        const name = `${file.replace(/[/.]/g, '_')}_${++index}.ts`;
        // Each sample is a module of its own (top-level await, its own imports).
        writeFileSync(path.join(dir, name), `${match[1]}\nexport {};\n`);
        samples.push({ name, from: `${file}:${line}` });
      }
    }
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('compile against the published types', () => {
    expect(samples.length).toBeGreaterThan(10);
    const program = ts.createProgram(
      [path.join(dir, 'ambient.d.ts'), ...samples.map((s) => path.join(dir, s.name))],
      {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        strict: true,
        skipLibCheck: true,
        noEmit: true,
        types: ['node'],
        // Samples show fragments of an app: a name declared and not used there is not a mistake.
        noUnusedLocals: false,
      },
    );
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const sample = samples.find((s) => d.file?.fileName.endsWith(s.name));
      const where =
        sample && d.file && d.start !== undefined
          ? `${sample.from} (+${d.file.getLineAndCharacterOfPosition(d.start).line + 1})`
          : (d.file?.fileName ?? 'program');
      return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(problems).toEqual([]);
  });
});

describe('the options reference', () => {
  it('has one row per option of new PluginGateway(), and no row for an option that does not exist', async () => {
    const { optionsSchema } = await import('../src/core/options.js');
    const text = readFileSync(path.join(root, 'docs/reference/api.md'), 'utf8');
    const section = text.slice(
      text.indexOf('## `new PluginGateway(options?)`'),
      text.indexOf('\n## ', text.indexOf('## `new PluginGateway(options?)`') + 5),
    );
    const documented = [...section.matchAll(/^\| `([A-Za-z]+)` +\|/gm)].map((m) => m[1]!).sort();
    expect(documented).toEqual(Object.keys(optionsSchema.shape).sort());
  });
});

describe('the code map', () => {
  it('names only files that exist: each `file.ts` of ARCHITECTURE.md is one of the repository', () => {
    const text = readFileSync(path.join(root, 'ARCHITECTURE.md'), 'utf8');
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
        if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.'))
          continue;
        const rel = path.posix.join(dir, entry.name);
        if (entry.isDirectory()) walk(rel);
        else files.push(rel);
      }
    };
    for (const dir of ['src', 'test', 'docs', 'scripts', 'sdk', 'bench', 'deploy']) walk(dir);
    files.push(...readdirSync(root).filter((f) => statSync(path.join(root, f)).isFile()));
    const named = [...text.matchAll(/`([\w./-]+\.(?:ts|md|cjs|mjs|sh))`/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(100);
    const missing = named.filter((n) => !files.some((f) => f === n || f.endsWith(`/${n}`)));
    expect(missing).toEqual([]);
  });
});

describe('the API reference', () => {
  const text = readFileSync(path.join(root, 'docs/reference/api.md'), 'utf8');

  it('names every public member of PluginGateway, and no member it does not have', async () => {
    const { PluginGateway } = await import('../src/index.js');
    const members = Object.getOwnPropertyNames(PluginGateway.prototype).filter(
      (n) => n !== 'constructor',
    );
    expect(members.filter((m) => !new RegExp(`gateway\\.${m}\\b`).test(text))).toEqual([]);
    const named = new Set([...text.matchAll(/`gateway\.([A-Za-z]+)/g)].map((m) => m[1]!));
    expect([...named].filter((n) => !members.includes(n))).toEqual([]);
  });

  it('lists every event of GatewayEvents under Events, and none that is not one', () => {
    const source = readFileSync(path.join(root, 'src/core/gateway-events.ts'), 'utf8');
    const body = source.slice(source.indexOf('export interface GatewayEvents'));
    const events = [...body.slice(0, body.indexOf('\n}')).matchAll(/^ {2}'([a-z:-]+)'/gm)].map(
      (m) => m[1]!,
    );
    expect(events.length).toBeGreaterThan(10);
    const section = text.slice(
      text.indexOf('## Events'),
      text.indexOf('\n## ', text.indexOf('## Events') + 5),
    );
    const listed = [...section.matchAll(/^- .*$/gm)].flatMap((line) =>
      [...line[0].matchAll(/`'([a-z:-]+)'`/g)].map((m) => m[1]!),
    );
    expect([...new Set(listed)].sort()).toEqual([...events].sort());
  });
});
