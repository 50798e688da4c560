/**
 * `npm run bench:http`: for each of node:http, Fastify and Express, the gateway's adapter against the
 * same framework handing the request to a Piscina pool tuned like the gateway's (bench/http-server.ts),
 * side by side in one run. Each server runs in a process of its own, and so does autocannon (a closed
 * loop of 50 connections, `-c 50`), one process per measurement. Two request shapes: the message
 * (POST of a small JSON body) and the URL only (GET). Variants alternate within each round.
 * ROUNDS (default 1) and BENCH_SECONDS (default 5) set the length; prints a markdown table.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const here = import.meta.dirname;
const autocannon = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
const ROUNDS = Number(process.env.ROUNDS ?? 1);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const frameworks = (process.env.FRAMEWORKS ?? 'node,fastify,express').split(',');
const shapes = ['message', 'url'] as const;
const variants = ['by-hand', 'handle', 'adapter'] as const;

interface Run {
  rps: number;
  /** CPU time of the server process (all its threads) per request, µs. */
  cpuUs: number;
  p50: number;
  p99: number;
}

async function startServer(framework: string, variant: string): Promise<[ChildProcess, number]> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(here, 'http-server.ts'), framework, variant],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (line: Buffer) => resolve(JSON.parse(String(line)).port));
    child.once('exit', (code) => reject(new Error(`${framework} ${variant} exited ${code}`)));
  });
  return [child, port];
}

function serverCpu(server: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    server.stdout!.once('data', (line: Buffer) => resolve(JSON.parse(String(line)).cpuUs));
    server.stdin!.write('cpu\n');
  });
}

function load(
  port: number,
  shape: (typeof shapes)[number],
): Promise<Omit<Run, 'cpuUs'> & { total: number }> {
  const args = ['-c', '50', '-d', String(SECONDS), '-j', '--renderStatusCodes'];
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
for (let round = 0; round < ROUNDS; round++) {
  for (const framework of frameworks) {
    for (const shape of shapes) {
      const order = round % 2 === 0 ? [...variants] : [...variants].reverse();
      for (const variant of order) {
        const [server, port] = await startServer(framework, variant);
        try {
          // A short warm-up (JIT, the plugin's thread), then the measured run.
          await load(port, shape).catch(() => undefined);
          const cpu0 = await serverCpu(server);
          const { total, ...measured } = await load(port, shape);
          const run = { ...measured, cpuUs: ((await serverCpu(server)) - cpu0) / total };
          const key = `${framework} ${shape} ${variant}`;
          results.set(key, [...(results.get(key) ?? []), run]);
          console.error(key, JSON.stringify(run));
        } finally {
          server.kill('SIGTERM');
        }
      }
    }
  }
}

console.log(
  `Node ${process.version}, ${ROUNDS} round(s) of ${SECONDS} s, autocannon -c 50, medians; ` +
    `"pool": the framework hands the request to a tuned Piscina pool by hand; "handle()": by hand to ` +
    `gateway.handle(); "adapter": the gateway's adapter. CPU: the server process, all threads.\n`,
);
console.log(
  '| framework | shape | req/s pool / handle() / adapter | adapter ÷ pool | p99 ms pool / handle() / adapter | ×p99 | CPU µs/req pool / handle() / adapter |',
);
console.log('| --- | --- | --- | ---: | --- | ---: | --- |');
for (const framework of frameworks) {
  for (const shape of shapes) {
    const of = (variant: string, pick: (r: Run) => number): number =>
      median(results.get(`${framework} ${shape} ${variant}`)!.map(pick));
    const [pr, hr, ar] = variants.map((v) => of(v, (r) => r.rps));
    const [pp, hp, ap] = variants.map((v) => of(v, (r) => r.p99));
    const [pc, hc, ac] = variants.map((v) => of(v, (r) => r.cpuUs));
    const round = (x: number): number => Math.round(x);
    console.log(
      `| ${framework} | ${shape} | ${round(pr!)} / ${round(hr!)} / ${round(ar!)} | ×${(ar! / pr!).toFixed(2)} ` +
        `| ${pp} / ${hp} / ${ap} | ×${(ap! / pp!).toFixed(2)} | ${round(pc!)} / ${round(hc!)} / ${round(ac!)} |`,
    );
  }
}
