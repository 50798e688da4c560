/**
 * Where the owner's CPU per forwarded call goes (issue 24, decision 0380): an owner gateway in a
 * process of its own (`peer-owner-child.ts`), called over real loopback peer channels (unsigned, 64 in
 * flight, the bench's `GET /profiles/7`), against variants of the owner that do only part of its work
 * on the same kind of channel, and the owner's own local `gateway.handle()` of the same call at 64 in
 * flight. Everything alternates over rounds; CPU µs per call of the owner process (all threads, and
 * its main thread, `/proc/<pid>/task/<tid>/schedstat`) and its read / write system calls per call
 * (`/proc/<pid>/io`), medians.
 *
 * - local: `gateway.handle()` inside the owner (its own driver loop included, as in `bench:fleet`);
 * - transport: frames read and a canned answer written back (nothing parsed, no plugin);
 * - transport + JSON envelope: the call's envelope parsed and checked, the answer written as JSON;
 * - forwarded: the real thing, the peer door and the plugin behind it;
 * - forwarded, traced: the same with the entry's hop `traceparent` in the envelope, as an entry that
 *   traces (the default) sends it.
 *
 *   npx tsx bench/peer-owner.micro.ts      (BENCH_ROUNDS, default 5; BENCH_WINDOW_MS, default 1500)
 */
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { PeerChannels, type PeerChannel } from '../src/fleet/peer-channel-client.js';
import { peerCall } from '../src/fleet/peer-protocol.js';
import { ioOf } from './process-usage.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 1500);
const here = import.meta.dirname;

interface Owner {
  child: ChildProcess;
  next<T>(): Promise<T>;
  port: number;
  variantPort: number;
}
async function startOwner(): Promise<Owner> {
  const child = fork(path.join(here, 'peer-owner-child.ts'), {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T>() => new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T)));
  const { port, variantPort } = await next<{ port: number; variantPort: number }>();
  return { child, next, port, variantPort };
}

const request = { id: 'entry-1', method: 'GET', path: '/profiles/7', headers: {}, userId: 456 };
const to = { service: 'profiles', version: '1.2.0', instanceId: 'profiles@1.2.0#owner.1' };
const call = peerCall(to, 'GET /profiles/{id}', request as never, 5000);
const envelope = JSON.stringify(call);
/** As an entry gateway that traces sends it (its default): the hop's `traceparent` in the envelope. */
const traced = JSON.stringify({
  ...call,
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
});
const channels = new PeerChannels('entry', undefined, 8 << 20);
async function channelTo(port: number, basePath: string): Promise<PeerChannel> {
  const target = { origin: `http://127.0.0.1:${port}`, basePath, nodeId: 'owner' };
  for (;;) {
    const channel = channels.to(target, 0);
    if (channel) return channel;
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Row {
  calls: number;
  main: number;
  all: number;
  reads: number;
  writes: number;
}
async function overChannel(owner: Owner, channel: PeerChannel, payload = envelope): Promise<Row> {
  owner.child.send({ do: 'start' });
  await owner.next();
  const io0 = ioOf(owner.child.pid!);
  const until = performance.now() + WINDOW_MS;
  let calls = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < until) {
        await channel.call(payload, Date.now() + 5000);
        calls++;
      }
    }),
  );
  owner.child.send({ do: 'stop' });
  const cpu = await owner.next<{ main: number; all: number }>();
  const io = ioOf(owner.child.pid!);
  return { calls, ...cpu, reads: io.syscr - io0.syscr, writes: io.syscw - io0.syscw };
}
async function local(owner: Owner): Promise<Row> {
  owner.child.send({ do: 'local', ms: WINDOW_MS });
  return { reads: 0, writes: 0, ...(await owner.next<Omit<Row, 'reads' | 'writes'>>()) };
}

const owner = await startOwner();
const transport = await channelTo(owner.variantPort, '/transport');
const parsed = await channelTo(owner.variantPort, '/envelope');
const forwarded = await channelTo(owner.port, '');
const runs: [string, () => Promise<Row>][] = [
  ['local', () => local(owner)],
  ['transport', () => overChannel(owner, transport)],
  ['transport + JSON envelope', () => overChannel(owner, parsed)],
  ['forwarded', () => overChannel(owner, forwarded)],
  ['forwarded, traced', () => overChannel(owner, forwarded, traced)],
];
type Series = Record<'all' | 'main' | 'rps' | 'reads' | 'writes', number[]>;
const results = new Map<string, Series>();
for (const [, run] of runs) await run();
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, run] of runs) {
    const row = await run();
    const entry = results.get(name) ?? { all: [], main: [], rps: [], reads: [], writes: [] };
    entry.all.push(row.all / row.calls);
    entry.main.push(row.main / row.calls);
    entry.rps.push(row.calls / (WINDOW_MS / 1000));
    entry.reads.push(row.reads / row.calls);
    entry.writes.push(row.writes / row.calls);
    results.set(name, entry);
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const load = os.loadavg().map((l) => l.toFixed(2));
console.log(
  `load average ${load.join(' ')}; ${ROUNDS} rounds of ${WINDOW_MS} ms, 64 in flight, unsigned, loopback`,
);
console.log(
  '| owner | CPU µs per call, all threads | main thread | reads / writes per call | calls/s |',
);
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const [name, r] of results) {
  const io = name.endsWith('local')
    ? '–'
    : `${median(r.reads).toFixed(3)} / ${median(r.writes).toFixed(3)}`;
  const cpu = `${median(r.all).toFixed(1)} | ${median(r.main).toFixed(1)}`;
  console.log(`| ${name} | ${cpu} | ${io} | ${Math.round(median(r.rps))} |`);
}
channels.close();
owner.child.send({ do: 'exit' });
process.exit(0);
