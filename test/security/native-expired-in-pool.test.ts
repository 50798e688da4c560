/**
 * A Rust plugin reads the tasks the gateway wrote together and queues them for its 16 task threads. A
 * task whose deadline passes while it waits for a thread has been answered `timeout` to its caller, so
 * its handler must never run (a charge made after the client was told it failed, then retried). The
 * session is played over a socket pair by the crate's own test (sdk/rust/tests/expired_in_pool.rs):
 * 16 slow tasks fill the threads, a 17th with a 300 ms deadline waits behind them.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { cargoReason } from '../services/native-build.js';
import { usable } from '../services/toolchains.js';

const root = path.resolve(import.meta.dirname, '../..');
const cargo = usable('the Rust SDK queue test', cargoReason(), 'install Rust by rustup');

it.runIf(cargo)(
  'a Rust task that expired while it waited for a thread never runs its handler',
  () => {
    const run = spawnSync('cargo', ['test', '--quiet', '--test', 'expired_in_pool'], {
      cwd: path.join(root, 'sdk/rust'),
      encoding: 'utf8',
      timeout: 600_000,
      env: { ...process.env, CARGO_TARGET_DIR: path.join(root, '.cache/cargo-target') },
    });
    const out = `${run.stdout}\n${run.stderr}`;
    expect(out, out.slice(-2000)).toMatch(/test result: ok\. 1 passed/);
  },
  600_000,
);
