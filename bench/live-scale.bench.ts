/**
 * `npm run bench:live-scale`: the issue-18 goals that are about scale, side by side in one run, a bare
 * server (`ws` echo on the main thread, SSE written by hand, a download piped from a worker thread by
 * hand) against the gateway with the `live-scale` worker plugin. Servers and loads each in a process of
 * their own; variants alternate within each round.
 * - IDLE (default 10000) open WebSockets: the server's RSS per connection, after a collection.
 * - SSE (default 1000) streams opened at once and held: then the time to the first event of one more
 *   (p50 and p99 of 50, one at a time), the burst's own p50, and the server's CPU per stream.
 * - DOWNLOAD_MIB (default 1024) streamed through: MB/s, the server's CPU per MiB (all its threads),
 *   and its RSS growth at its peak.
 * ROUNDS (default 2).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

const here = import.meta.dirname;
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const IDLE = Number(process.env.IDLE ?? 10_000);
const SSE = Number(process.env.SSE ?? 1_000);
const DOWNLOAD = Number(process.env.DOWNLOAD_MIB ?? 1024) * 1048576;
const variants = ['bare', 'gateway'] as const;
const MiB = 1048576;

function nextLine(child: ChildProcess): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (data: Buffer) => {
      text += String(data);
      const end = text.indexOf('\n');
      if (end < 0) return;
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      resolve(JSON.parse(text.slice(0, end)));
    };
    const onExit = (code: number) => reject(new Error(`exited ${code}`));
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

function load(...args: string[]): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', path.join(here, 'live-scale-load.ts'), ...args],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
}

async function measure(variant: string) {
  const server = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', path.join(here, 'live-scale-server.ts'), variant],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const { port } = await nextLine(server);
  const ask = (command: string) => {
    const answer = nextLine(server);
    server.stdin!.write(`${command}\n`);
    return answer;
  };
  const port_ = String(port);
  // Warm: the plugin's live thread up, one of each.
  const warm = load('idle', port_, '1');
  await nextLine(warm);
  warm.stdin!.write('\n');
  await nextLine(load('sse', port_, '1'));
  await nextLine(load('download', port_, String(MiB)));
  await new Promise((r) => setTimeout(r, 500));

  const before = await ask('mem');
  const idle = load('idle', port_, String(IDLE));
  await nextLine(idle);
  const after = await ask('mem');
  idle.stdin!.write('\n');
  await new Promise((r) => idle.once('exit', r));
  await new Promise((r) => setTimeout(r, 1000));

  const sseCpuBefore = await ask('cpu');
  const sse = await nextLine(load('sse', port_, String(SSE)));
  const sseCpuAfter = await ask('cpu');
  await new Promise((r) => setTimeout(r, 1000));

  const base = await ask('mem');
  const cpuBefore = await ask('cpu');
  const download = await nextLine(load('download', port_, String(DOWNLOAD)));
  const cpuAfter = await ask('cpu');
  const peak = await ask('mem');
  server.kill();
  return {
    perConnectionKiB: (after.rss! - before.rss!) / IDLE / 1024,
    sseP50: sse.p50!,
    sseP99: sse.p99!,
    sseBurstP50: sse.burstP50!,
    sseCpuUs: (sseCpuAfter.cpuUs! - sseCpuBefore.cpuUs!) / SSE,
    mbps: download.mbps!,
    cpuMsPerMiB: (cpuAfter.cpuUs! - cpuBefore.cpuUs!) / 1000 / (DOWNLOAD / MiB),
    downloadGrowthMiB: (peak.peak! - base.rss!) / MiB,
  };
}

type Sample = Awaited<ReturnType<typeof measure>>;
const runs: Record<string, Sample[]> = { bare: [], gateway: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
    runs[variant]!.push(await measure(variant));
    process.stderr.write('.');
  }
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const of = (variant: string, key: keyof Sample) => median(runs[variant]!.map((r) => r[key]));
console.log(
  `\n${new Date().toISOString()}; node ${process.version}; ${os.cpus().length} × ${os.cpus()[0]?.model}; load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')}; ${ROUNDS} rounds, medians\n`,
);
console.log(
  `| variant | RSS per idle WebSocket (KiB, ${IDLE}) | SSE first event p50 / p99 with ${SSE} open (ms) | p50 of the ${SSE} opened at once (ms) | server CPU µs per SSE stream | download MB/s (${DOWNLOAD / MiB} MiB) | server CPU ms per MiB | RSS growth during the download (MiB) |`,
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const v of variants) {
  console.log(
    `| ${v} | ${of(v, 'perConnectionKiB').toFixed(1)} | ${of(v, 'sseP50').toFixed(1)} / ${of(v, 'sseP99').toFixed(1)} | ${of(v, 'sseBurstP50').toFixed(0)} | ${Math.round(of(v, 'sseCpuUs'))} | ${Math.round(of(v, 'mbps'))} | ${of(v, 'cpuMsPerMiB').toFixed(2)} | ${of(v, 'downloadGrowthMiB').toFixed(1)} |`,
  );
}
console.log(
  `\ngateway / bare: memory per idle WebSocket ×${(of('gateway', 'perConnectionKiB') / of('bare', 'perConnectionKiB')).toFixed(2)}; SSE first event +${(of('gateway', 'sseP50') - of('bare', 'sseP50')).toFixed(2)} ms at p50; download ×${(of('gateway', 'mbps') / of('bare', 'mbps')).toFixed(2)}, its CPU per MiB ×${(of('gateway', 'cpuMsPerMiB') / of('bare', 'cpuMsPerMiB')).toFixed(2)}`,
);
