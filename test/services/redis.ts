import { spawn, type ChildProcess } from 'node:child_process';
import { findBinary, freePort, killService, waitForPort } from './common.js';

export { findBinary, freePort, serviceAvailable } from './common.js';

/** A real redis-server on a free loopback port, without persistence. */
export class RedisServer {
  #child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.restart();
    return server;
  }

  async restart(): Promise<void> {
    const bin = findBinary('redis-server')!;
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ];
    this.#child = spawn(bin, args, { stdio: 'ignore' });
    await waitForPort(this.port);
  }

  async stop(): Promise<void> {
    await killService(this.#child);
  }
}
