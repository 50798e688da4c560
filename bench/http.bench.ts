/**
 * `npm run bench:http`: for each of node:http, Fastify and Express, the gateway's adapter against the
 * same framework handing the request to a Piscina pool tuned like the gateway's (bench/http-server.ts),
 * side by side in one run; for node:http also against the same echo inline on the main thread. Each
 * server runs in a process of its own, and so does autocannon (a closed loop of 50 connections,
 * `-c 50`), one process per measurement. Two request shapes: the message (POST of a small JSON body)
 * and the URL only (GET). Variants alternate within each round (the order reversed every other round).
 * BENCH_ROUNDS (or ROUNDS; default 1), BENCH_SECONDS (default 5) and WARM_SECONDS (default 2) set
 * the length, FRAMEWORKS and VARIANTS (comma lists) what runs; PROFILE_DIR writes a `--cpu-prof`
 * profile of every server there (its main thread: a plugin's thread runs with the gateway's own
 * `execArgv`, not the server's). Prints a markdown table; the second counts the main thread apart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const here = import.meta.dirname;
const autocannon = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? process.env.ROUNDS ?? 1);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARM_SECONDS = Number(process.env.WARM_SECONDS ?? 2);
const frameworks = (process.env.FRAMEWORKS ?? 'node,fastify,express').split(',');
const shapes = ['message', 'url'] as const;
const allVariants = (process.env.VARIANTS ?? 'by-hand,handle,adapter,inline').split(',');
/** `inline` (no isolation) is the anchor of the node:http goal only. */
const variantsOf = (framework: string): string[] =>
  allVariants.filter((v) => v !== 'inline' || framework === 'node');
const profileDir = process.env.PROFILE_DIR;

interface Run {
  rps: number;
  /** CPU time of the server process (all its threads) per request, µs. */
  cpuUs: number;
  /** Of it, the server's main thread (the rest: the plugin's thread or the pool's). */
  mainUs: number;
  /** `postMessage` calls of the server's main thread per request (thread hops). */
  posts: number;
  p50: number;
  p99: number;
}

async function startServer(framework: string, variant: string): Promise<[ChildProcess, number]> {
  const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const child = spawn(
    process.execPath,
    [...profile, '--import', 'tsx', path.join(here, 'http-server.ts'), framework, variant],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (line: Buffer) => resolve(JSON.parse(String(line)).port));
    child.once('exit', (code) => reject(new Error(`${framework} ${variant} exited ${code}`)));
  });
  return [child, port];
}

function serverCounts(
  server: ChildProcess,
): Promise<{ cpuUs: number; mainUs: number; posted: number }> {
  return new Promise((resolve) => {
    server.stdout!.once('data', (line: Buffer) => resolve(JSON.parse(String(line))));
    server.stdin!.write('cpu\n');
  });
}

function load(
  port: number,
  shape: (typeof shapes)[number],
  seconds = SECONDS,
): Promise<Omit<Run, 'cpuUs' | 'mainUs' | 'posts'> & { total: number }> {
  const args = ['-c', '50', '-d', String(seconds), '-j', '--renderStatusCodes'];
  if (shape === 'message') {
    args.push('-m', 'POST', '-H', 'content-type=application/json');
    args.push('-b', JSON.stringify({ userId: 456, trackIds: [101, 202, 303, 404] }));
  }
  args.push(`http://127.0.0.1:${port}/echo`);
  const child = spawn(process.execPath, [autocannon, ...args], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c));
  return new Promise((resolve, reject) => {
    child.once('exit', () => {
      try {
        const r = JSON.parse(out) as {
          requests: { average: number; total: number };
          latency: { p50: number; p99: number };
          non2xx: number;
          errors: number;
        };
        if (r.non2xx > 0 || r.errors > 0)
          throw new Error(`${r.non2xx} non-2xx, ${r.errors} errors`);
        resolve({
          rps: r.requests.average,
          p50: r.latency.p50,
          p99: r.latency.p99,
          total: r.requests.total,
        });
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results = new Map<string, Run[]>();
const loads: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const framework of frameworks) {
    for (const shape of shapes) {
      loads.push(os.loadavg()[0]!);
      const variants = variantsOf(framework);
      const order = round % 2 === 0 ? [...variants] : [...variants].reverse();
      for (const variant of order) {
        const [server, port] = await startServer(framework, variant);
        try {
          // A short warm-up (JIT, the plugin's thread), then the measured run.
          await load(port, shape, WARM_SECONDS).catch(() => undefined);
          const before = await serverCounts(server);
          const { total, ...measured } = await load(port, shape);
          const after = await serverCounts(server);
          const run: Run = {
            ...measured,
            cpuUs: (after.cpuUs - before.cpuUs) / total,
            mainUs: (after.mainUs - before.mainUs) / total,
            posts: (after.posted - before.posted) / total,
          };
          const key = `${framework} ${shape} ${variant}`;
          results.set(key, [...(results.get(key) ?? []), run]);
          console.error(key, JSON.stringify(run));
        } finally {
          server.kill('SIGTERM');
          if (server.exitCode === null && server.signalCode === null)
            await new Promise((resolve) => server.once('exit', resolve));
        }
      }
    }
  }
}

const round0 = (x: number): number => Math.round(x);
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined ? '–' : `×${(a / b).toFixed(2)}`;
const cells = (xs: (number | undefined)[]): string =>
  xs.map((x) => (x === undefined ? '–' : round0(x))).join(' / ');
console.log(
  `Node ${process.version}, ${ROUNDS} round(s) of ${SECONDS} s, autocannon -c 50, medians; load ` +
    `average (1 min) over the run ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}; ` +
    `"pool": the framework hands the request to a tuned Piscina pool by hand; "handle()": by hand to ` +
    `gateway.handle(); "adapter": the gateway's adapter; "inline": the echo on the main thread ` +
    `(node:http only). CPU: the server process, all threads, per request; posts: the server main ` +
    `thread's postMessage calls per request.\n`,
);
console.log(
  '| framework | shape | req/s pool / handle() / adapter / inline | adapter ÷ pool | adapter ÷ inline | p99 ms pool / handle() / adapter / inline | p99 adapter ÷ pool | CPU µs/req pool / handle() / adapter / inline | posts/req pool / handle() / adapter |',
);
console.log('| --- | --- | --- | ---: | ---: | --- | ---: | --- | --- |');
for (const framework of frameworks) {
  for (const shape of shapes) {
    const of = (variant: string, pick: (r: Run) => number): number | undefined => {
      const runs = results.get(`${framework} ${shape} ${variant}`);
      return runs === undefined ? undefined : median(runs.map(pick));
    };
    const order = ['by-hand', 'handle', 'adapter', 'inline'];
    const [pr, hr, ar, ir] = order.map((v) => of(v, (r) => r.rps));
    const p99 = order.map((v) => of(v, (r) => r.p99));
    const cpu = order.map((v) => of(v, (r) => r.cpuUs));
    const posts = order.slice(0, 3).map((v) => of(v, (r) => r.posts)?.toFixed(2) ?? '–');
    console.log(
      `| ${framework} | ${shape} | ${cells([pr, hr, ar, ir])} | ${ratio(ar, pr)} | ${ratio(ar, ir)} ` +
        `| ${cells(p99)} | ${ratio(p99[2], p99[0])} | ${cells(cpu)} | ${posts.join(' / ')} |`,
    );
  }
}

// Every variant as measured, a build named after `@` included (a change against the code before it).
console.log(
  '\n| framework | shape | variant | req/s | p50 ms | p99 ms | CPU µs/req | of it main thread | posts/req | runs |',
);
console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [key, runs] of results) {
  const [framework, shape, variant] = key.split(' ');
  const m = (pick: (r: Run) => number): number => median(runs.map(pick));
  console.log(
    `| ${framework} | ${shape} | ${variant} | ${round0(m((r) => r.rps))} | ${m((r) => r.p50)} ` +
      `| ${m((r) => r.p99)} | ${m((r) => r.cpuUs).toFixed(1)} | ${m((r) => r.mainUs).toFixed(1)} ` +
      `| ${m((r) => r.posts).toFixed(2)} | ${runs.length} |`,
  );
}
