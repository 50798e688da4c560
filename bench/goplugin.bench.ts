/**
 * Our plugin protocol against HashiCorp go-plugin (gRPC over a Unix socket, its handshake on stdout), the
 * same Go echo handler behind each (bench/goplugin: echo-pgw on sdk/go, echo-grpc on go-plugin v1.8.0),
 * driven from one Go host process (bench/goplugin/driver) in the same run, alternating over rounds,
 * without a sandbox on either side: sequential p50 and mean, CPU per request of the host and the plugin,
 * throughput with 64 in flight. The gateway's own overhead is bench:native's; this one compares the wires.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const source = path.join(import.meta.dirname, 'goplugin');
const out = mkdtempSync(path.join(os.tmpdir(), 'pgw-bench-goplugin-'));
try {
  execFileSync('go', ['build', '-o', out + path.sep, './...'], {
    cwd: source,
    stdio: 'inherit',
    env: { ...process.env, CGO_ENABLED: '0' },
  });
  execFileSync(
    path.join(out, 'driver'),
    [
      '-pgw',
      path.join(out, 'echo-pgw'),
      '-grpc',
      path.join(out, 'echo-grpc'),
      '-rounds',
      process.env.BENCH_ROUNDS ?? '5',
      '-sequential',
      process.env.BENCH_SEQUENTIAL ?? '3000',
      '-throughput',
      `${process.env.BENCH_THROUGHPUT_MS ?? 1500}ms`,
    ],
    { stdio: 'inherit' },
  );
} finally {
  rmSync(out, { recursive: true, force: true });
}
