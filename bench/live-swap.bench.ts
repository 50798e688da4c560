/**
 * `npm run bench:live-swap`: the issue-18 goal "hot swap with 1,000 open connections: 0 messages
 * lost on connections that stay on the old version; new connections served by the new version within
 * the swap". A gateway (`live-swap-server.ts`) and the load (`live-swap-load.ts`) each in a process
 * of its own. The load holds CONNECTIONS (default 1000) WebSockets to the `live-swap-v1` worker
 * plugin's echo, each sending a numbered message every INTERVAL_MS (default 100), checked in order;
 * after BEFORE_MS (default 3000) it opens a new connection every 20 ms, and 500 ms later the server
 * hot-swaps to `live-swap-v2` (whose echo says `v2:`); AFTER_MS (default 3000) later the load stops
 * and waits for every echo still due. Reports, per round (ROUNDS, default 1): messages sent, echoed
 * and lost on the held connections and which version echoed them; the swap's duration (`swap()`
 * called to resolved); the new connections opened before, during and after it and which version
 * answered each; echo times of messages sent during the swap against the rest.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

const here = import.meta.dirname;
const ROUNDS = Number(process.env.ROUNDS ?? 1);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 1000);
const INTERVAL_MS = Number(process.env.INTERVAL_MS ?? 100);
const BEFORE_MS = Number(process.env.BEFORE_MS ?? 3000);
const AFTER_MS = Number(process.env.AFTER_MS ?? 3000);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Line = Record<string, any>;
function nextLine(child: ChildProcess): Promise<Line> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (data: Buffer) => {
      text += String(data);
      const end = text.indexOf('\n');
      if (end < 0) return;
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      resolve(JSON.parse(text.slice(0, end)) as Line);
    };
    const onExit = (code: number) => reject(new Error(`exited ${code}`));
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}
const start = (file: string, ...args: string[]) =>
  spawn(process.execPath, ['--import', 'tsx', path.join(here, file), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
const ask = (child: ChildProcess, command: string) => {
  const answer = nextLine(child);
  child.stdin!.write(`${command}\n`);
  return answer;
};

async function round(): Promise<void> {
  const server = start('live-swap-server.ts');
  const { port } = await nextLine(server);
  const load = start('live-swap-load.ts', String(port), String(CONNECTIONS), String(INTERVAL_MS));
  const { open } = await nextLine(load);
  await sleep(BEFORE_MS);
  load.stdin!.write('probe\n');
  await sleep(500);
  const swap = await ask(server, 'swap');
  await sleep(AFTER_MS);
  const { byVersion } = await ask(server, 'connections');
  const result = await ask(load, `stop ${swap.start} ${swap.end}`);
  server.kill();

  const probes = result.probes as { openedAt: number; answeredAt: number; version: string }[];
  const phase = (p: { openedAt: number }) =>
    p.openedAt < swap.start ? 'before' : p.openedAt <= swap.end ? 'during' : 'after';
  const tally: Record<string, Record<string, number>> = { before: {}, during: {}, after: {} };
  for (const p of probes) tally[phase(p)]![p.version] = (tally[phase(p)]![p.version] ?? 0) + 1;
  const v2 = probes.filter((p) => p.version === 'v2').sort((a, b) => a.openedAt - b.openedAt);
  const lastV1Opened = Math.max(...probes.filter((p) => p.version === 'v1').map((p) => p.openedAt));
  const v2Times = v2.slice(1).map((p) => p.answeredAt - p.openedAt);
  const counts = (t: Record<string, number>) =>
    Object.entries(t)
      .map(([v, n]) => `${v} ${n}`)
      .join(', ') || 'none';
  const ms = (x: number) => x.toFixed(1);
  console.log(
    `\n${new Date().toISOString()}; node ${process.version}; ${os.cpus().length} × ${os.cpus()[0]?.model}; load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}; ${open} connections, a message each per ${INTERVAL_MS} ms`,
  );
  console.log(
    `held connections: sent ${result.sent}, echoed ${result.echoed}, lost ${result.lost}; echoed by ${counts(result.byVersion)}; out of order ${result.outOfOrder}; closed ${result.closed} ${JSON.stringify(result.closeCodes)}`,
  );
  console.log(
    `swap(): ${ms(swap.end - swap.start)} ms; connections by version after it: ${JSON.stringify(byVersion)}`,
  );
  console.log(
    `new connections opened before the swap: ${counts(tally.before!)}; during: ${counts(tally.during!)}; after: ${counts(tally.after!)}; failed ${result.probesFailed}, unanswered ${result.probesUnanswered}`,
  );
  const relative = (t: number) =>
    `${ms(Math.abs(t - swap.end))} ms ${t < swap.end ? 'before' : 'after'} swap() resolved`;
  const first = v2[0];
  console.log(
    first
      ? `last new connection answered by v1 opened ${relative(lastV1Opened)}; first answered by v2 opened ${relative(first.openedAt)}, answered ${relative(first.answeredAt)}; the next ${v2Times.length} opened to answered: p50 ${ms(median(v2Times))} ms`
      : 'no new connection answered by v2',
  );
  const echo = (s: Line) =>
    `p50 ${ms(s.p50)} / p99 ${ms(s.p99)} / max ${ms(s.max)} ms (${s.count})`;
  console.log(
    `echo time on held connections of messages sent before the swap: ${echo(result.echoBefore)}; during: ${echo(result.echoDuring)}; after: ${echo(result.echoAfter)}`,
  );
}

for (let i = 0; i < ROUNDS; i++) await round();
