/**
 * `npm run bench:fleet`: what a fleet costs, with a real etcd started on a free loopback port.
 *
 * 1. Registration → routable: a record put into the registry by one client until another gateway has the
 *    route (the moment it logs "remote instances changed"), median over repeats; on etcd and, as the
 *    floor, on the in-process memory registry.
 * 2. Forwarded vs local: `gateway.handle()` of the same endpoint when the plugin runs on another gateway
 *    process (HTTP over loopback, peer protocol) and when it runs locally, side by side with a bare
 *    loopback round trip (undici to a `node:http` server in another process answering similar JSON) as
 *    the baseline of one hop. Sequential (tinybench) and 64 in flight, interleaved rounds.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Bench } from 'tinybench';
import { Pool } from 'undici';
import { MemoryRegistry, PluginGateway, type DiscoveryRegistry } from '../src/index.js';
import { EtcdRegistry } from '../src/registry/etcd.js';
import { EtcdServer } from '../test/services/etcd.js';
import { freePort } from '../test/services/common.js';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BENCH_MS = Number(process.env.BENCH_TIME_MS ?? 2000);
const THROUGHPUT_MS = Number(process.env.BENCH_THROUGHPUT_MS ?? 1500);
const here = import.meta.dirname;
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** A gateway that notes when each remote service becomes routable. */
function watchingGateway(registry: DiscoveryRegistry, routable: Map<string, number>) {
  const note = (obj: object, msg?: string) => {
    const o = obj as { plugin_id?: string; instances?: number };
    if (msg === 'remote instances changed' && o.instances && !routable.has(o.plugin_id!)) {
      routable.set(o.plugin_id!, performance.now());
    }
  };
  return new PluginGateway({
    registry,
    node: { id: 'watcher', address: 'http://127.0.0.1:9', insecure: 'private-network' },
    logger: { debug() {}, info: note, warn() {}, error() {}, isLevelEnabled: () => true },
  });
}

async function registrationToRoutable(
  publisher: DiscoveryRegistry,
  watcherRegistry: DiscoveryRegistry,
): Promise<number[]> {
  const routable = new Map<string, number>();
  const gateway = watchingGateway(watcherRegistry, routable);
  await gateway.start();
  await new Promise((r) => setTimeout(r, 300));
  const times: number[] = [];
  for (let n = 0; n < REPEATS; n++) {
    const service = `bench-${n}`;
    const started = performance.now();
    await publisher.register({
      id: `${service}#1`,
      service,
      version: '1.0.0',
      nodeId: 'publisher',
      address: 'http://127.0.0.1:9',
      endpoints: [{ method: 'GET', path: `/${service}`, auth: 'none', roles: [] }],
      status: 'active',
      metadata: {},
    });
    while (!routable.has(service)) await new Promise((r) => setImmediate(r));
    times.push(routable.get(service)! - started);
  }
  await gateway.stop();
  return times;
}

/** CPU time (user + system, all threads) a process has used, in µs, from /proc. */
function cpuOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}

async function latency(name: string, call: () => Promise<unknown>, remotePid?: number) {
  for (let i = 0; i < 1000; i++) await call();
  const bench = new Bench({ time: BENCH_MS, warmupTime: 300 });
  bench.add(name, call);
  await bench.run();
  const r = bench.tasks[0]!.result as { latency: { p50: number; p99: number } };
  let done = 0;
  const until = performance.now() + THROUGHPUT_MS;
  const cpu0 = process.cpuUsage();
  const remote0 = cpuOf(remotePid);
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < until) {
        await call();
        done++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return {
    name,
    p50: r.latency.p50 * 1000,
    p99: r.latency.p99 * 1000,
    rps: done / (THROUGHPUT_MS / 1000),
    cpu: (cpu.user + cpu.system) / done,
    remoteCpu: (cpuOf(remotePid) - remote0) / done,
  };
}

const etcd = await EtcdServer.start();
try {
  const memory = new MemoryRegistry();
  const memoryTimes = await registrationToRoutable(memory, memory);
  const publisher = new EtcdRegistry({ endpoints: etcd.endpoint, namespace: 'bench' });
  const watcher = new EtcdRegistry({ endpoints: etcd.endpoint, namespace: 'bench' });
  const etcdTimes = await registrationToRoutable(publisher, watcher);
  await publisher.close();

  // The owner: another process running the echo plugin, registered in etcd.
  const owner = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(here, '../test/fleet-process.ts')],
    {
      env: {
        ...process.env,
        ETCD: etcd.endpoint,
        NAMESPACE: 'hop',
        NODE_ID: 'owner',
        PLUGINS: 'profiles',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise((resolve) => owner.stdout!.once('data', resolve));
  const entry = new PluginGateway({
    logger: false,
    registry: new EtcdRegistry({ endpoints: etcd.endpoint, namespace: 'hop' }),
    node: {
      id: 'entry',
      address: `http://127.0.0.1:${await freePort()}`,
      insecure: 'private-network',
    },
  });
  await entry.start();
  const request = { method: 'GET', path: '/profiles/7', headers: {}, userId: 456 };
  while ((await entry.handle(request)).statusCode !== 200)
    await new Promise((r) => setTimeout(r, 50));
  const alone = new PluginGateway({ logger: false });
  await alone.load(path.join(here, '../test/fixtures/profiles'), { config: { node: 'alone' } });
  await alone.start();

  // Baseline: one bare loopback round trip to another process carrying a similar JSON answer.
  const rawPort = await freePort();
  const raw = spawn(
    process.execPath,
    [
      '-e',
      `require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => s.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"7","node":"raw"}')); }).listen(${rawPort}, '127.0.0.1', () => console.log('ready'))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise((resolve) => raw.stdout!.once('data', resolve));
  const pool = new Pool(`http://127.0.0.1:${rawPort}`, { connections: 32 });
  const paths = [
    ['gateway.handle(), plugin on this gateway (local)', () => alone.handle(request)],
    [
      'gateway.handle(), plugin on another gateway (forwarded)',
      () => entry.handle(request),
      owner.pid,
    ],
    [
      'bare loopback HTTP round trip to another process (undici → node:http)',
      async () => {
        const res = await pool.request({ method: 'POST', path: '/', body: '{"id":"7"}' });
        await res.body.json();
      },
      raw.pid,
    ],
  ] as const;
  // Interleaved rounds, medians: this VM swings between runs.
  const samples = new Map<string, Awaited<ReturnType<typeof latency>>[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, call, pid] of paths) {
      samples.set(name, [...(samples.get(name) ?? []), await latency(name, call, pid)]);
    }
  }
  const row = (name: string) => {
    const s = samples.get(name)!;
    return {
      name,
      p50: median(s.map((x) => x.p50)),
      p99: median(s.map((x) => x.p99)),
      rps: median(s.map((x) => x.rps)),
      cpu: median(s.map((x) => x.cpu)),
      remoteCpu: median(s.map((x) => x.remoteCpu)),
    };
  };
  const [local, forwarded, hop] = paths.map(([name]) => row(name)) as [
    ReturnType<typeof row>,
    ReturnType<typeof row>,
    ReturnType<typeof row>,
  ];

  owner.kill('SIGKILL');
  await Promise.all([entry.stop(), alone.stop()]);
  raw.kill();
  await pool.close();

  const cpu = os.cpus();
  const f = (n: number) => n.toFixed(1);
  console.log(
    [
      `date: ${new Date().toISOString()}; node ${process.version}; ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}; ${Math.round(os.totalmem() / 2 ** 30)} GiB; etcd ${etcd.endpoint}`,
      '',
      `registration → routable, ${REPEATS} repeats: etcd median ${f(median(etcdTimes))} ms (min ${f(Math.min(...etcdTimes))}, max ${f(Math.max(...etcdTimes))}); memory registry median ${f(median(memoryTimes) * 1000)} µs`,
      `${ROUNDS} interleaved rounds, medians; sequential: tinybench ${BENCH_MS} ms; 64 in flight for ${THROUGHPUT_MS} ms`,
      '',
      '| path | sequential p50 (µs) | sequential p99 (µs) | 64 in flight (req/s) | CPU / request, this process (µs) | CPU / request, other process (µs) |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...[local, forwarded, hop].map(
        (r) =>
          `| ${r.name} | ${f(r.p50)} | ${f(r.p99)} | ${Math.round(r.rps)} | ${f(r.cpu)} | ${r.remoteCpu ? f(r.remoteCpu) : '–'} |`,
      ),
      '',
      `forwarded − local: ${f(forwarded.p50 - local.p50)} µs p50 (×${(forwarded.p50 / local.p50).toFixed(2)}); forwarded − bare hop − local: ${f(forwarded.p50 - hop.p50 - local.p50)} µs (CPU columns: user + system time of all threads during the 64-in-flight run, divided by the requests)`,
    ].join('\n'),
  );
} finally {
  await etcd.destroy();
}
