import { accessSync, constants } from 'node:fs';
import { spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

/** Absolute path of an installed binary, or undefined. */
export function findBinary(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Whether a service's tests can run: the binary is installed and runs (`--version` exits 0). With
 * `PGW_REQUIRE_SERVICES` set (CI), a missing or broken binary is an error; otherwise the tests are
 * skipped and the reason printed.
 */
export function serviceAvailable(
  binary: string,
  install: string,
  /** The arguments of a command that must exit 0 when the tool works (`openssl version`). */
  probe: readonly string[] = ['--version'],
): boolean {
  const bin = findBinary(binary);
  const version = bin ? spawnSync(bin, probe, { encoding: 'utf8', timeout: 30_000 }) : undefined;
  if (version?.status === 0) return true;
  const why = bin
    ? `${bin} ${probe.join(' ')} failed (${version?.error?.message ?? `exit ${version?.status}`})`
    : `${binary} is not installed`;
  if (process.env.PGW_REQUIRE_SERVICES) {
    throw new Error(`${binary} is required (PGW_REQUIRE_SERVICES is set): ${why}: ${install}`);
  }
  console.warn(`skipping the ${binary} tests: ${why} (${install})`);
  return false;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until)
      throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Kills a service process with SIGKILL (what a crash looks like) and waits for it to go. */
export async function killService(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}
