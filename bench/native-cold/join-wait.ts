/**
 * What the join shell's cgroup writes cost a cold start (docs/decisions/0310), as root on a v1 host:
 * a fresh bash joins three new groups the way the shell did before (`$$` to each `cgroup.procs`) and
 * the way it does now (`0` to each `tasks`), alternated, each after GAP_MS idle (default 300). bash
 * reads its own `/proc/self/schedstat` around the writes: the time it slept — wall time that was
 * neither on a CPU nor waiting for one, the kernel's RCU grace period — is what a loaded machine does
 * not distort (the reading is within a scheduler tick), and how many times it went to sleep during the
 * writes (its voluntary context switches, read around them with builtins: a count). Prints
 * the medians of wall and sleep per kind, in µs, and the sleeps.
 *
 *   node --import tsx bench/native-cold/join-wait.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findCgroupBases } from '../../src/loader/process/cgroup-mounts.js';

const N = Number(process.env.N ?? 15);
const GAP_MS = Number(process.env.GAP_MS ?? 300);
const bases = findCgroupBases();
if (bases.version !== 'v1')
  throw new Error(`a v1 cgroup host is needed (this one: ${bases.version})`);

// schedstat: time on a CPU, time waiting for one (ns). The writes are the only thing timed.
const script = [
  'while read k v; do [ "$k" = voluntary_ctxt_switches: ] && v0=$v; done < /proc/$$/status',
  'read r0 w0 _ < /proc/self/schedstat; t0=${EPOCHREALTIME/./}',
  'kind=$1; shift',
  'for g in "$@"; do if [ "$kind" = before ]; then echo $$ > "$g/cgroup.procs"; else echo 0 > "$g/tasks"; fi; done',
  't1=${EPOCHREALTIME/./}; read r1 w1 _ < /proc/self/schedstat',
  'while read k v; do [ "$k" = voluntary_ctxt_switches: ] && v1=$v; done < /proc/$$/status',
  'echo $(( t1 - t0 )) $(( (t1 - t0) - (r1 - r0 + w1 - w0) / 1000 )) $(( v1 - v0 ))',
].join('; ');

const rows: Record<string, { wall: number[]; slept: number[]; sleeps: number[] }> = {};
for (let i = 0; i < N; i++) {
  for (const kind of ['before', 'now']) {
    const groups = Object.values(bases.bases).map((base) =>
      path.join(base, `pgw-join-wait-${process.pid}-${i}-${kind}`),
    );
    for (const dir of groups) mkdirSync(dir);
    try {
      await sleep(GAP_MS);
      const out = execFileSync('/bin/bash', ['-c', script, 'join', kind, ...groups], {
        encoding: 'utf8',
      });
      const [wall, slept, sleeps] = out.trim().split(' ').map(Number) as [number, number, number];
      const row = (rows[kind] ??= { wall: [], slept: [], sleeps: [] });
      row.wall.push(wall);
      row.slept.push(slept);
      row.sleeps.push(sleeps);
    } finally {
      await sleep(50);
      for (const dir of groups) rmdirSync(dir);
    }
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
for (const [kind, row] of Object.entries(rows)) {
  const total = row.sleeps.reduce((a, b) => a + b, 0);
  console.log(
    `${kind}: median wall ${median(row.wall)} µs, median asleep ${median(row.slept)} µs (±1 scheduler tick), ${total} sleeps in ${row.sleeps.length} joins`,
  );
}
console.log(`${N} joins each, alternated; load average ${os.loadavg()[0]!.toFixed(1)}`);
