/**
 * `veza plugin test [DIR]`: the plugin loaded in an embedded gateway, its health check, then its own
 * test files (`*.test.{js,mjs,ts,mts}` beside its manifest) run with `node --test` — TypeScript ones
 * bundled with esbuild first — and a report with timings. `--watch` runs it again on every change.
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { TypeScriptUnavailableError } from '../errors.js';
import { TYPESCRIPT_ENTRY } from '../loader/typescript-entry.js';
import { TestGateway } from '../testing/index.js';
import { colour, ms, say } from './output.js';
import { formatProblem, validatePlugin } from './validate.js';
import { nativeBuildOf, testNative } from './native-build.js';

/** One step of the report. */
export interface TestStep {
  /** `validate`, `load`, `health` or a test file's name. */
  step: string;
  /** Whether it passed. */
  ok: boolean;
  /** How long it took, ms. */
  durationMs: number;
  /** What went wrong, or what it found. */
  detail?: string;
}

/** The report of one run. */
export interface TestReport {
  /** The plugin's folder. */
  dir: string;
  /** True when every step passed. */
  ok: boolean;
  /** The steps, in order. */
  steps: TestStep[];
  /** The whole run, ms. */
  durationMs: number;
}

const TEST_FILE = /\.test\.(js|mjs|cjs|ts|mts)$/;

/** Runs the steps; `quiet` leaves the test runner's own output out. */
export async function testPluginDir(dirArg: string, quiet = false): Promise<TestReport> {
  const dir = path.resolve(dirArg);
  const started = performance.now();
  const steps: TestStep[] = [];
  const timed = async (step: string, run: () => Promise<string | undefined>) => {
    const t0 = performance.now();
    try {
      const detail = await run();
      steps.push({ step, ok: true, durationMs: performance.now() - t0, detail });
      return true;
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      steps.push({ step, ok: false, durationMs: performance.now() - t0, detail });
      return false;
    }
  };
  const valid = await timed('validate', async () => {
    const { ok, problems } = await validatePlugin(dir);
    if (!ok) throw new Error(problems.map(formatProblem).join('\n'));
    return problems.length > 0 ? problems.map(formatProblem).join('\n') : undefined;
  });
  if (valid) {
    const native = await nativeBuildOf(dir);
    // A native plugin runs only inside bubblewrap; a JavaScript one is tested without it.
    const gateway = new TestGateway({ sandbox: { bwrap: native !== undefined } });
    await gateway.start();
    try {
      let name = '';
      const loaded = await timed('load', async () => {
        const plugin = await gateway.load(dir);
        name = plugin.name;
        return `${plugin.name}@${plugin.info.version} (${plugin.info.runtime})`;
      });
      if (loaded) {
        await timed('health', async () => {
          const info = gateway.gateway.get(name);
          const health = info?.health_check.last;
          if (health && health.status === 'unhealthy') {
            throw new Error(`unhealthy: ${JSON.stringify(health.details ?? {})}`);
          }
          return health?.status ?? 'healthy';
        });
      }
    } finally {
      await gateway.close();
    }
    if (native) {
      await timed(native.toolchain === 'go' ? 'go test' : 'cargo test', () => testNative(dir));
    }
    for (const file of await testFiles(dir)) {
      await timed(path.relative(dir, file), () => runTestFile(dir, file, quiet));
    }
  }
  return {
    dir,
    ok: steps.every((s) => s.ok),
    steps,
    durationMs: performance.now() - started,
  };
}

async function testFiles(dir: string): Promise<string[]> {
  return (await readdir(dir))
    .filter((f) => TEST_FILE.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Runs one test file with `node --test` in its folder; resolves with its summary line. */
async function runTestFile(dir: string, file: string, quiet: boolean): Promise<string> {
  const runnable = TYPESCRIPT_ENTRY.test(file) ? await bundleTest(dir, file) : file;
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=spec', runnable], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        output.push(chunk);
        if (!quiet) process.stderr.write(chunk);
      });
    }
    child.on('error', reject);
    child.on('close', resolve);
  });
  const text = output.join('');
  const count = (label: string) => text.match(new RegExp(`(?:ℹ|#) ${label} (\\d+)`))?.[1];
  const summary = `${count('pass') ?? '?'} passed, ${count('fail') ?? '?'} failed`;
  if (code !== 0) throw new Error(`${summary}${quiet ? `\n${text.trim()}` : ''}`);
  return summary;
}

/**
 * A TypeScript test bundled into `.veza/` beside it (packages stay imports, resolved from the plugin's
 * folder), with `import.meta.dirname` and `url` still those of the `.ts` file.
 */
async function bundleTest(dir: string, file: string): Promise<string> {
  let esbuild: { build(options: Record<string, unknown>): Promise<unknown> };
  try {
    esbuild = (await import('esbuild' as string)) as typeof esbuild;
  } catch (cause) {
    throw new TypeScriptUnavailableError(
      `${path.basename(file)} is TypeScript and esbuild is not installed: npm i -D esbuild`,
      { cause },
    );
  }
  const outdir = path.join(dir, '.veza');
  await mkdir(outdir, { recursive: true });
  const outfile = path.join(outdir, path.basename(file).replace(/\.m?ts$/, '.mjs'));
  await esbuild.build({
    entryPoints: [file],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'silent',
    define: {
      'import.meta.dirname': JSON.stringify(path.dirname(file)),
      'import.meta.filename': JSON.stringify(file),
      'import.meta.url': JSON.stringify(pathToFileURL(file).href),
    },
  });
  // A `package.json` of type module so Node reads the bundle as one whatever the plugin's says.
  const pkg = path.join(outdir, 'package.json');
  if (!(await readFile(pkg, 'utf8').catch(() => '')))
    await writeFile(pkg, '{ "type": "module" }\n');
  return outfile;
}

/** Prints the report. */
export function printReport(report: TestReport): void {
  say();
  for (const s of report.steps) {
    const mark = s.ok ? colour.green('✓') : colour.red('✗');
    say(
      `${mark} ${s.step.padEnd(28)} ${colour.dim(ms(s.durationMs).padStart(9))}${s.detail && s.ok ? `  ${colour.dim(s.detail.split('\n')[0]!)}` : ''}`,
    );
    if (!s.ok && s.detail) for (const line of s.detail.split('\n')) say(`    ${line}`);
  }
  say();
  const verdict = report.ok ? colour.green('passed') : colour.red('failed');
  say(`${verdict} in ${ms(report.durationMs)}`);
}
