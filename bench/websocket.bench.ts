/**
 * `npm run bench:websocket`: WebSocket echo through a worker plugin (the gateway's node listener and
 * live thread) against a bare `ws` server echoing on its main thread, side by side in one run. Each
 * server and each load runs in a process of its own (`websocket-server.ts`, `websocket-load.ts`);
 * variants alternate within each round. ROUNDS (default 2), BENCH_SECONDS (default 5) and CONNECTIONS
 * (default 50) set the run; prints a markdown table.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const here = import.meta.dirname;
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
const variants = ['bare', 'gateway', 'forwarded'] as const;

function line(child: ChildProcess): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (data: Buffer) => resolve(JSON.parse(String(data))));
    child.once('exit', (code) => reject(new Error(`exited ${code}`)));
  });
}

async function measure(variant: string) {
  const server = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(here, 'websocket-server.ts'), variant],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const { port } = await line(server);
  const cpu = () => {
    const answer = line(server);
    server.stdin!.write('cpu\n');
    return answer;
  };
  const before = (await cpu()).cpuUs!;
  const load = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(here, 'websocket-load.ts'),
      String(port),
      String(SECONDS),
      String(CONNECTIONS),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const result = await line(load);
  const after = (await cpu()).cpuUs!;
  server.kill();
  return {
    perSecond: result.messages! / SECONDS,
    p50: result.p50!,
    p99: result.p99!,
    cpuUs: (after - before) / result.messages!,
  };
}

const runs: Record<string, Awaited<ReturnType<typeof measure>>[]> = {
  bare: [],
  gateway: [],
  forwarded: [],
};
for (let round = 0; round < ROUNDS; round++) {
  for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
    runs[variant]!.push(await measure(variant));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const bare = median(runs.bare!.map((r) => r.perSecond));
console.log(
  `\nWebSocket echo, ${CONNECTIONS} connections, ${SECONDS} s × ${ROUNDS} rounds (medians)\n`,
);
console.log('| variant | messages/s | × bare | p50 ms | p99 ms | server CPU µs/message |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const variant of variants) {
  const r = runs[variant]!;
  const rate = median(r.map((x) => x.perSecond));
  console.log(
    `| ${variant} | ${Math.round(rate)} | ${(rate / bare).toFixed(2)} | ${median(r.map((x) => x.p50)).toFixed(2)} | ${median(r.map((x) => x.p99)).toFixed(2)} | ${median(r.map((x) => x.cpuUs)).toFixed(1)} |`,
  );
}
