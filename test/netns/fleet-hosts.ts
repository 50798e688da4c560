/**
 * A fleet on separate test hosts: a three-member etcd cluster (hosts e1, e2, e3) and gateways on hosts
 * of their own, each started as a process inside its network namespace. The test process is the client.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBinary } from '../services/common.js';
import type { TestNetwork } from './network.js';

export const FLEET_SECRET = 'netns-fleet-secret-of-at-least-32-characters';
const root = path.resolve(import.meta.dirname, '..', '..');

export class EtcdCluster {
  readonly #members = new Map<string, ChildProcess>();
  readonly #dirs = new Map<string, string>();
  readonly #token = `pgw-${Math.random().toString(36).slice(2)}`;

  constructor(
    readonly network: TestNetwork,
    readonly names: readonly string[],
  ) {}

  get endpoints(): string[] {
    return this.names.map((name) => `http://${this.network.host(name).address}:2379`);
  }

  start(name: string): void {
    const dir = this.#dirs.get(name) ?? mkdtempSync(path.join(os.tmpdir(), `pgw-netns-${name}-`));
    this.#dirs.set(name, dir);
    const cluster = this.names
      .map((member) => `${member}=http://${this.network.host(member).address}:2380`)
      .join(',');
    const address = this.network.host(name).address;
    const child = this.network.spawn(
      name,
      findBinary('etcd')!,
      [
        '--name',
        name,
        '--data-dir',
        dir,
        '--listen-client-urls',
        `http://${address}:2379`,
        '--advertise-client-urls',
        `http://${address}:2379`,
        '--listen-peer-urls',
        `http://${address}:2380`,
        '--initial-advertise-peer-urls',
        `http://${address}:2380`,
        '--initial-cluster',
        cluster,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        this.#token,
        '--heartbeat-interval',
        '100',
        '--election-timeout',
        '1000',
        '--log-level',
        'error',
      ],
      { stdio: 'ignore', env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch } },
    );
    this.#members.set(name, child);
  }

  kill(name: string): Promise<void> {
    const child = this.#members.get(name);
    this.#members.delete(name);
    if (!child || child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** Each live member's view: its id and the leader it follows (etcd's maintenance status, over HTTP). */
  async status(name: string): Promise<{ member: string; leader: string } | undefined> {
    try {
      const res = await fetch(
        `http://${this.network.host(name).address}:2379/v3/maintenance/status`,
        {
          method: 'POST',
          body: '{}',
          signal: AbortSignal.timeout(500),
        },
      );
      const body = (await res.json()) as { header: { member_id: string }; leader: string };
      return { member: body.header.member_id, leader: body.leader };
    } catch {
      return undefined;
    }
  }

  /** The name of the member that leads, once the live members agree on one. */
  async leader(): Promise<string | undefined> {
    const views = await Promise.all(
      this.names.map(async (name) => ({ name, view: await this.status(name) })),
    );
    const live = views.filter((v) => v.view);
    const leaders = new Set(live.map((v) => v.view!.leader));
    if (leaders.size !== 1 || [...leaders][0] === '0') return undefined;
    return live.find((v) => v.view!.member === [...leaders][0])?.name;
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.#members.keys()].map((name) => this.kill(name)));
    for (const dir of this.#dirs.values()) rmSync(dir, { recursive: true, force: true });
  }
}

export interface GatewayHost {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `test/netns/gateway-host.ts` on a host and waits for its ready line. */
export async function startGatewayHost(
  network: TestNetwork,
  name: string,
  etcd: EtcdCluster,
  env: Record<string, string> = {},
): Promise<GatewayHost> {
  const host = network.host(name);
  const child = network.spawn(
    name,
    process.execPath,
    ['--import', 'tsx', path.join(root, 'test/netns/gateway-host.ts')],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        NODE_ID: name,
        HOST_ADDRESS: host.address,
        ETCD: etcd.endpoints.join(','),
        FLEET_SECRET,
        ...env,
      },
    },
  );
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`gateway ${name} did not start in 30 s`)),
      30_000,
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      if (buffered.includes('"ready":true')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway ${name} exited with ${code} before it was ready`));
    });
  });
  return {
    name,
    url: `http://${host.address}:8080`,
    child,
    // A gateway stops within its stopTimeout; past 10 s (say, cut off from etcd) it is killed.
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

export interface Answer {
  status: number;
  ms: number;
  body: unknown;
  /** The client gave up (`timeoutMs` passed with no answer). */
  hung?: true;
}

/** One request from the client host; never throws, never waits past `timeoutMs`. */
export async function send(url: string, method = 'GET', timeoutMs = 10_000): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await fetch(url, { method, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, ms: performance.now() - started, body };
  } catch (error) {
    const hung = (error as Error).name === 'TimeoutError';
    return {
      status: 0,
      ms: performance.now() - started,
      body: String(error),
      ...(hung ? { hung: true as const } : {}),
    };
  }
}

/** Polls `check` until it returns a value or `timeoutMs` passes; resolves with the value and the time. */
export async function waitUntil<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs: number,
  everyMs = 100,
): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return { value, ms: performance.now() - started };
    if (performance.now() - started > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
