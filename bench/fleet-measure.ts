/**
 * The forwarded-vs-local measurement of `npm run bench:fleet`, run where the entry gateway lives: in the
 * benchmark's own process (loopback), or in `fleet-entry.ts` on a host of its own (`BENCH_NETNS=1`).
 * Three paths, interleaved over rounds: `gateway.handle()` of `GET /profiles/7` on a gateway that runs
 * the plugin itself (local), on one whose plugin runs on the owner gateway (forwarded), and one bare
 * HTTP round trip (undici → `node:http`) to a server on the owner's host (the hop). Sequential latency
 * is tinybench; throughput is 64 in flight; CPU is user + system time of every thread of each process
 * (`process.cpuUsage()` here, `/proc/<pid>/stat` for the other), per request.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Bench } from 'tinybench';
import { Pool } from 'undici';
import { PluginGateway } from '../src/index.js';
import { EtcdRegistry } from '../src/registry/etcd.js';
import { ioOf } from './process-usage.js';

const here = import.meta.dirname;
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

export const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** CPU time (user + system, all threads) a process has used, in µs, from /proc. */
export function cpuOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}

/** Read and write system calls of a process (every thread), from /proc/<pid>/io. */
function syscallsOf(pid: number | undefined): { reads: number; writes: number } {
  if (pid === undefined) return { reads: 0, writes: 0 };
  const io = ioOf(pid);
  return { reads: io.syscr, writes: io.syscw };
}

export interface PathRow {
  name: string;
  p50: number;
  p99: number;
  rps: number;
  /** CPU µs per request of the process that calls. */
  cpu: number;
  /** CPU µs per request of the process that answers (0 when it is the same). */
  remoteCpu: number;
  /** Read and write system calls per request of the process that answers (0 when the same). */
  remoteReads: number;
  remoteWrites: number;
}

export interface ForwardingSetup {
  /** etcd's endpoint, where the owner registered `profiles`. */
  etcd: string;
  namespace: string;
  /** `node.address` of the entry gateway (it serves nothing here). */
  nodeAddress: string;
  /** The fleet's secret; without one, the gateways run `insecure: 'private-network'`. */
  secret?: string;
  ownerPid: number;
  /** The bare server on the owner's host, `http://host:port`. */
  rawOrigin: string;
  rawPid: number;
  rounds: number;
  benchMs: number;
  throughputMs: number;
}

async function latency(
  name: string,
  call: () => Promise<unknown>,
  setup: ForwardingSetup,
  remotePid?: number,
): Promise<PathRow> {
  for (let i = 0; i < 1000; i++) await call();
  const bench = new Bench({ time: setup.benchMs, warmupTime: 300 });
  bench.add(name, call);
  await bench.run();
  const r = bench.tasks[0]!.result as { latency: { p50: number; p99: number } };
  let done = 0;
  const until = performance.now() + setup.throughputMs;
  const cpu0 = process.cpuUsage();
  const remote0 = cpuOf(remotePid);
  const io0 = syscallsOf(remotePid);
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < until) {
        await call();
        done++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const io = syscallsOf(remotePid);
  return {
    name,
    p50: r.latency.p50 * 1000,
    p99: r.latency.p99 * 1000,
    rps: done / (setup.throughputMs / 1000),
    cpu: (cpu.user + cpu.system) / done,
    remoteCpu: (cpuOf(remotePid) - remote0) / done,
    remoteReads: (io.reads - io0.reads) / done,
    remoteWrites: (io.writes - io0.writes) / done,
  };
}

export const PATHS = [
  'gateway.handle(), plugin on this gateway (local)',
  'gateway.handle(), plugin on another gateway (forwarded)',
  'bare HTTP round trip to another process (undici → node:http)',
] as const;

/** Runs the three paths, interleaved over rounds; medians per path, in {@link PATHS} order. */
export async function measureForwarding(setup: ForwardingSetup): Promise<PathRow[]> {
  const node = setup.secret ? { secret: setup.secret } : { insecure: 'private-network' as const };
  const entry = new PluginGateway({
    logger: false,
    registry: new EtcdRegistry({ endpoints: setup.etcd.split(','), namespace: setup.namespace }),
    node: { id: 'entry', address: setup.nodeAddress, ...node },
  });
  await entry.start();
  const request = { method: 'GET', path: '/profiles/7', headers: {}, userId: 456 };
  while ((await entry.handle(request)).statusCode !== 200)
    await new Promise((r) => setTimeout(r, 50));
  const alone = new PluginGateway({ logger: false });
  await alone.load(path.join(here, '../test/fixtures/profiles'), { config: { node: 'alone' } });
  await alone.start();
  const pool = new Pool(setup.rawOrigin, { connections: 32 });
  const calls: [string, () => Promise<unknown>, number | undefined][] = [
    [PATHS[0], () => alone.handle(request), undefined],
    [PATHS[1], () => entry.handle(request), setup.ownerPid],
    [
      PATHS[2],
      async () => {
        const res = await pool.request({ method: 'POST', path: '/', body: '{"id":"7"}' });
        await res.body.json();
      },
      setup.rawPid,
    ],
  ];
  const samples = new Map<string, PathRow[]>();
  try {
    for (let round = 0; round < setup.rounds; round++) {
      for (const [name, call, pid] of calls) {
        samples.set(name, [...(samples.get(name) ?? []), await latency(name, call, setup, pid)]);
      }
    }
  } finally {
    await Promise.all([entry.stop(), alone.stop(), pool.close()]);
  }
  return PATHS.map((name) => {
    const s = samples.get(name)!;
    return {
      name,
      p50: median(s.map((x) => x.p50)),
      p99: median(s.map((x) => x.p99)),
      rps: median(s.map((x) => x.rps)),
      cpu: median(s.map((x) => x.cpu)),
      remoteCpu: median(s.map((x) => x.remoteCpu)),
      remoteReads: median(s.map((x) => x.remoteReads)),
      remoteWrites: median(s.map((x) => x.remoteWrites)),
    };
  });
}

/** The bare server of the hop: answers any request with a small JSON body, on `host:port`. */
export function rawServerScript(host: string, port: number): string {
  return `require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => s.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"7","node":"raw"}')); }).listen(${port}, '${host}', () => console.log(JSON.stringify({ ready: true })))`;
}
