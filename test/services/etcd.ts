import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBinary, freePort, killService, waitForPort } from './common.js';

/** A real etcd (Debian's etcd-server) on free loopback ports, with a data folder that survives restarts. */
export class EtcdServer {
  #child: ChildProcess | undefined;
  readonly dataDir = mkdtempSync(path.join(os.tmpdir(), 'pgw-etcd-'));
  private constructor(
    readonly port: number,
    readonly peerPort: number,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<EtcdServer> {
    const server = new EtcdServer(await freePort(), await freePort());
    await server.restart();
    return server;
  }

  async restart(): Promise<void> {
    const bin = findBinary('etcd')!;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    this.#child = spawn(
      bin,
      [
        '--name',
        'pgw-test',
        '--data-dir',
        this.dataDir,
        '--listen-client-urls',
        this.endpoint,
        '--advertise-client-urls',
        this.endpoint,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `pgw-test=${peer}`,
        '--log-level',
        'error',
      ],
      { stdio: 'ignore', env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch } },
    );
    await waitForPort(this.port, 10_000);
  }

  async stop(): Promise<void> {
    await killService(this.#child);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
