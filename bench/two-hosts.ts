/**
 * "Two hosts" on one machine for the fleet benchmarks (`BENCH_NETNS=1`): each gateway in a process of
 * its own, in a network namespace of its own (test/netns/network.ts: an `eth0` per host on a bridge),
 * pinned to a core of its own with `taskset`; etcd on a third namespace; the benchmark itself (the
 * load, the orchestration) in the root namespace, reaching every host over its own link.
 *
 * What this emulates: separate network stacks (each hop crosses two veth links and a bridge, with a
 * real TCP handshake, real Nagle/ACK behaviour and no loopback shortcuts) and separate CPUs (the two
 * gateways never preempt each other). What it does not: separate memory buses and caches (the cores
 * share them), separate kernels (one scheduler, one softirq budget: a packet's receive work runs on
 * whichever core sends it), a physical wire (no serialisation delay, no NIC offloads, no loss), or an
 * idle machine (other processes may still run on either core).
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { EtcdCluster, waitUntil } from '../test/netns/fleet-hosts.js';
import { netnsUnavailable, TestNetwork } from '../test/netns/network.js';

/** Whether the two-hosts mode was asked for. */
export const TWO_HOSTS = process.env.BENCH_NETNS === '1';

/** Why the two-hosts mode cannot run here (not root, no `ip`, no `taskset`, one core), or undefined. */
export function twoHostsUnavailable(): string | undefined {
  for (const tool of ['ip', 'taskset']) {
    try {
      execFileSync('which', [tool], { stdio: 'ignore' });
    } catch {
      return `\`${tool}\` is missing (apt-get install iproute2 util-linux)`;
    }
  }
  if (os.availableParallelism() < 2) return 'two hosts need two cores to pin to';
  return netnsUnavailable();
}

/** Prints why the mode is skipped and exits 0 when it cannot run. */
export function requireTwoHosts(bench: string): void {
  const why = twoHostsUnavailable();
  if (why === undefined) return;
  console.log(`${bench}: skipping the two-hosts mode (BENCH_NETNS=1): ${why}`);
  process.exit(0);
}

export interface TwoHosts {
  readonly network: TestNetwork;
  /** etcd's client endpoint, on the `registry` host. */
  readonly etcd: string;
  /** The address of a host (`a` or `b`). */
  address(host: 'a' | 'b'): string;
  /** Starts `command args` on a host, pinned to its core (`a` → core 0, `b` → core 1). */
  spawn(host: 'a' | 'b', command: string, args: string[], options?: SpawnOptions): ChildProcess;
  destroy(): Promise<void>;
}

const CORE = { a: 0, b: 1 } as const;

/** Builds the network (hosts `a`, `b`, `registry`) and starts a one-member etcd on `registry`. */
export async function twoHosts(): Promise<TwoHosts> {
  const network = TestNetwork.create(['a', 'b', 'registry']);
  const etcd = new EtcdCluster(network, ['registry']);
  try {
    etcd.start('registry');
    await waitUntil(() => etcd.status('registry'), 15_000);
  } catch (error) {
    await etcd.destroy();
    await network.destroy();
    throw error;
  }
  const destroy = async () => {
    await etcd.destroy();
    await network.destroy();
  };
  // Interrupted, it still removes its namespaces and processes.
  process.once('SIGINT', () => void destroy().finally(() => process.exit(130)));
  return {
    network,
    etcd: etcd.endpoints[0]!,
    address: (host) => network.host(host).address,
    spawn: (host, command, args, options) => {
      const child = network.spawn(
        host,
        'taskset',
        ['-c', String(CORE[host]), command, ...args],
        options,
      );
      return child;
    },
    destroy,
  };
}

/** The cores a process's threads may run on (from `/proc`), to show the pinning took. */
export function allowedCores(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return /Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1] ?? '?';
}

/** Resolves with the first line a child prints that parses as JSON with `key`. */
export function jsonLine<T>(child: ChildProcess, key: string, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`no "${key}" line in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let end: number;
      while ((end = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        try {
          const value = JSON.parse(line) as Record<string, unknown>;
          if (key in value) {
            clearTimeout(timer);
            child.stdout!.off('data', onData);
            resolve(value as T);
            return;
          }
        } catch {
          // not a JSON line
        }
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before printing "${key}"`));
    });
  });
}
