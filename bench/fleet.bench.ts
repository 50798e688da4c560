/**
 * `npm run bench:fleet`: what a fleet costs, with a real etcd started on a free loopback port.
 *
 * 1. Registration → routable: a record put into the registry by one client until another gateway has the
 *    route (the moment it logs "remote instances changed"), median over repeats; on etcd and, as the
 *    floor, on the in-process memory registry.
 * 2. Forwarded vs local: `gateway.handle()` of the same endpoint when the plugin runs on another gateway
 *    process (HTTP over loopback, peer protocol) and when it runs locally, side by side with a bare
 *    loopback round trip (undici to a `node:http` server in another process answering similar JSON) as
 *    the baseline of one hop. Sequential (tinybench) and 64 in flight, interleaved rounds
 *    (`fleet-measure.ts`).
 *
 * `BENCH_NETNS=1` (root, `ip`, `taskset`): part 2 only, on "two hosts" (`two-hosts.ts`): the owner and
 * the bare server on host b pinned to core 1, the entry gateway and its caller on host a pinned to core
 * 0, etcd on a third namespace, the fleet signing its calls. `BENCH_CPU_PROF=DIR` writes a CPU profile
 * of the owner and of the entry (`--cpu-prof`) into DIR.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MemoryRegistry, PluginGateway, type DiscoveryRegistry } from '../src/index.js';
import { EtcdRegistry } from '../src/registry/etcd.js';
import { EtcdServer } from '../test/services/etcd.js';
import { freePort } from '../test/services/common.js';
import { FLEET_SECRET } from '../test/netns/fleet-hosts.js';
import {
  PATHS,
  measureForwarding,
  median,
  rawServerScript,
  type ForwardingSetup,
  type PathRow,
} from './fleet-measure.js';
import { allowedCores, jsonLine, requireTwoHosts, TWO_HOSTS, twoHosts } from './two-hosts.js';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BENCH_MS = Number(process.env.BENCH_TIME_MS ?? 2000);
const THROUGHPUT_MS = Number(process.env.BENCH_THROUGHPUT_MS ?? 1500);
const here = import.meta.dirname;
const PROFILE_DIR = process.env.BENCH_CPU_PROF;
/** Node flags of the gateway processes: a CPU profile each when asked. */
const nodeFlags = (name: string) =>
  PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(PROFILE_DIR, name)}`] : [];

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

/** Ends a gateway process the way its host would (SIGTERM: it stops and writes its profile). */
function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

const f = (n: number) => n.toFixed(1);
function table(rows: PathRow[]): string[] {
  const [local, forwarded, hop] = rows as [PathRow, PathRow, PathRow];
  return [
    `${ROUNDS} interleaved rounds, medians; sequential: tinybench ${BENCH_MS} ms; 64 in flight for ${THROUGHPUT_MS} ms`,
    '',
    '| path | sequential p50 (µs) | sequential p99 (µs) | 64 in flight (req/s) | CPU / request, this process (µs) | CPU / request, other process (µs) | other process: reads / writes per request |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${f(r.p50)} | ${f(r.p99)} | ${Math.round(r.rps)} | ${f(r.cpu)} | ${r.remoteCpu ? f(r.remoteCpu) : '–'} | ${r.remoteCpu ? `${r.remoteReads.toFixed(2)} / ${r.remoteWrites.toFixed(2)}` : '–'} |`,
    ),
    '',
    `forwarded / bare hop: p50 ×${(forwarded.p50 / hop.p50).toFixed(2)} (goal ≤ 1.5), throughput ×${(forwarded.rps / hop.rps).toFixed(2)} (goal ≥ 0.8); owner CPU per forwarded call / local request ×${(forwarded.remoteCpu / local.cpu).toFixed(2)} (goal ≤ 1.5)`,
    `forwarded − local: ${f(forwarded.p50 - local.p50)} µs p50; forwarded − bare hop − local: ${f(forwarded.p50 - hop.p50 - local.p50)} µs (CPU columns: user + system time of all threads during the 64-in-flight run, divided by the requests)`,
  ];
}

const machine = () => {
  const cpu = os.cpus();
  return `date: ${new Date().toISOString()}; node ${process.version}; ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}; ${Math.round(os.totalmem() / 2 ** 30)} GiB; load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
};
const timing = { rounds: ROUNDS, benchMs: BENCH_MS, throughputMs: THROUGHPUT_MS };

/** Part 2 on two hosts: every process in a namespace of its own, each gateway on a core of its own. */
async function onTwoHosts(): Promise<void> {
  requireTwoHosts('bench:fleet');
  const hosts = await twoHosts();
  try {
    const b = hosts.address('b');
    const owner = hosts.spawn(
      'b',
      process.execPath,
      [...nodeFlags('owner'), '--import', 'tsx', path.join(here, '../test/netns/gateway-host.ts')],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: {
          ...process.env,
          NODE_ID: 'owner',
          HOST_ADDRESS: b,
          ETCD: hosts.etcd,
          FLEET_SECRET,
          PLUGINS: 'profiles',
        },
      },
    );
    await jsonLine(owner, 'ready');
    const raw = hosts.spawn('b', process.execPath, ['-e', rawServerScript(b, 8081)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await jsonLine(raw, 'ready');
    const setup: ForwardingSetup = {
      etcd: hosts.etcd,
      namespace: 'netns',
      nodeAddress: `http://${hosts.address('a')}:8080`,
      secret: FLEET_SECRET,
      ownerPid: owner.pid!,
      rawOrigin: `http://${b}:8081`,
      rawPid: raw.pid!,
      ...timing,
    };
    const entry = hosts.spawn(
      'a',
      process.execPath,
      [...nodeFlags('entry'), '--import', 'tsx', path.join(here, 'fleet-entry.ts')],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, FLEET_SETUP: JSON.stringify(setup) },
      },
    );
    const { rows, cores } = await jsonLine<{ rows: PathRow[]; cores: string }>(
      entry,
      'rows',
      600_000,
    );
    const pinned = `owner on cores ${allowedCores(owner.pid!)}, bare server ${allowedCores(raw.pid!)}, entry ${cores}`;
    await Promise.all([stopProcess(owner), stopProcess(raw)]);
    console.log(
      [
        machine(),
        `two hosts (BENCH_NETNS=1): a = entry gateway + its caller, b = owner gateway + bare server, each host a network namespace; ${pinned}; etcd on a third namespace; calls signed (node.secret)`,
        ...table(rows.map((r, i) => ({ ...r, name: PATHS[i]! }))),
      ].join('\n'),
    );
  } finally {
    await hosts.destroy();
  }
}

if (TWO_HOSTS) {
  await onTwoHosts();
  process.exit(0);
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
    [...nodeFlags('owner'), '--import', 'tsx', path.join(here, '../test/fleet-process.ts')],
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
  await jsonLine(owner, 'ready');
  // Baseline: one bare loopback round trip to another process carrying a similar JSON answer.
  const rawPort = await freePort();
  const raw = spawn(process.execPath, ['-e', rawServerScript('127.0.0.1', rawPort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await jsonLine(raw, 'ready');
  const rows = await measureForwarding({
    etcd: etcd.endpoint,
    namespace: 'hop',
    nodeAddress: `http://127.0.0.1:${await freePort()}`,
    ownerPid: owner.pid!,
    rawOrigin: `http://127.0.0.1:${rawPort}`,
    rawPid: raw.pid!,
    ...timing,
  });
  await Promise.all([stopProcess(owner), stopProcess(raw)]);
  console.log(
    [
      `${machine()}; etcd ${etcd.endpoint}`,
      '',
      `registration → routable, ${REPEATS} repeats: etcd median ${f(median(etcdTimes))} ms (min ${f(Math.min(...etcdTimes))}, max ${f(Math.max(...etcdTimes))}); memory registry median ${f(median(memoryTimes) * 1000)} µs`,
      'one machine, loopback, threads not pinned; calls unsigned (insecure: private-network)',
      ...table(rows),
    ].join('\n'),
  );
} finally {
  await etcd.destroy();
}
