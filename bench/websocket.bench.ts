/**
 * `npm run bench:websocket`: WebSocket echo through a worker plugin (the gateway's node listener and
 * live thread) against a bare `ws` server echoing on its main thread, side by side in one run. Each
 * server and each load runs in a process of its own (`websocket-server.ts`, `websocket-load.ts`);
 * variants alternate within each round. ROUNDS (default 2), BENCH_SECONDS (default 5) and CONNECTIONS
 * (default 50) set the run; prints a markdown table.
 *
 * `BENCH_NETNS=1` (root, `ip`, `taskset`): on "two hosts" (`two-hosts.ts`). The servers of `bare` and
 * `gateway`, and the owner of `forwarded`, run on host b pinned to core 1; the forwarded variant's
 * caller gateway is a process of its own on host a pinned to core 0, the two gateways finding each
 * other through etcd on a third namespace; the load runs in the root namespace, unpinned, and reaches
 * the servers over its own link. Server CPU sums every server process of the variant.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { allowedCores, jsonLine, requireTwoHosts, TWO_HOSTS, twoHosts } from './two-hosts.js';

const here = import.meta.dirname;
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
const variants = ['bare', 'gateway', 'forwarded'] as const;
type Variant = (typeof variants)[number];

if (TWO_HOSTS) requireTwoHosts('bench:websocket');
const hosts = TWO_HOSTS ? await twoHosts() : undefined;

/** A server process on a host (two hosts) or on loopback, with its `cpu` query. */
async function startServer(role: string, host?: 'a' | 'b') {
  const args = ['--import', 'tsx', path.join(here, 'websocket-server.ts'), role];
  const options: SpawnOptions = {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: hosts
      ? { ...process.env, HOST_ADDRESS: hosts.address(host!), ETCD: hosts.etcd }
      : process.env,
  };
  const child: ChildProcess = hosts
    ? hosts.spawn(host!, process.execPath, args, options)
    : spawn(process.execPath, args, options);
  const { port } = await jsonLine<{ port: number }>(child, 'port');
  return {
    child,
    address: hosts ? hosts.address(host!) : '127.0.0.1',
    port,
    cpuUs: async () => {
      const answer = jsonLine<{ cpuUs: number }>(child, 'cpuUs');
      child.stdin!.write('cpu\n');
      return (await answer).cpuUs;
    },
  };
}

/** The server processes of a variant; the first is the one clients connect to. */
async function serversOf(variant: Variant) {
  if (!hosts) return [await startServer(variant)];
  if (variant !== 'forwarded') return [await startServer(variant, 'b')];
  const owner = await startServer('forwarded-owner', 'b');
  return [await startServer('forwarded-caller', 'a'), owner];
}

const pinning = new Set<string>();

async function measure(variant: Variant) {
  const servers = await serversOf(variant);
  if (hosts)
    for (const s of servers)
      pinning.add(`${variant} ${s.address}: cores ${allowedCores(s.child.pid!)}`);
  const cpu = async () =>
    (await Promise.all(servers.map((s) => s.cpuUs()))).reduce((a, b) => a + b);
  const before = await cpu();
  const load = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(here, 'websocket-load.ts'),
      String(servers[0]!.port),
      String(SECONDS),
      String(CONNECTIONS),
      servers[0]!.address,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const result = await jsonLine<{ messages: number; p50: number; p99: number }>(
    load,
    'messages',
    (SECONDS + 60) * 1000,
  );
  const after = await cpu();
  for (const s of servers) s.child.kill();
  await Promise.all(servers.map((s) => new Promise((r) => s.child.once('exit', r))));
  return {
    perSecond: result.messages / SECONDS,
    p50: result.p50,
    p99: result.p99,
    cpuUs: (after - before) / result.messages,
  };
}

const runs: Record<string, Awaited<ReturnType<typeof measure>>[]> = {
  bare: [],
  gateway: [],
  forwarded: [],
};
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
      runs[variant]!.push(await measure(variant));
    }
  }
} finally {
  await hosts?.destroy();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const bare = median(runs.bare!.map((r) => r.perSecond));
const where = hosts
  ? `two hosts (BENCH_NETNS=1; ${[...pinning].join('; ')}; the load in the root namespace, unpinned)`
  : 'one machine, loopback, not pinned';
console.log(
  `\nWebSocket echo, ${CONNECTIONS} connections, ${SECONDS} s × ${ROUNDS} rounds (medians); ${where}; load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}\n`,
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
