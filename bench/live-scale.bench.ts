/**
 * `npm run bench:live-scale`: the issue-18 goals that are about scale, side by side in one run, a bare
 * server (`ws` echo on the main thread, SSE written by hand, a download piped from a worker thread and
 * an upload piped into one, by hand) against the gateway with the `live-scale` worker plugin. Servers and loads each in a process of
 * their own; variants alternate within each round.
 * - IDLE (default 10000) open WebSockets: the server's RSS per connection, after a collection.
 * - SSE (default 1000) streams opened at once and held: then the time to the first event of one more
 *   (p50 and p99 of 50, one at a time), the burst's own p50, and the server's CPU per stream.
 * - DOWNLOAD_MIB (default 1024) streamed through: MB/s, the server's CPU per MiB (all its threads),
 *   its RSS growth at its peak, what is left of it after the main thread's collection (worker
 *   threads are not collected), the main thread's `arrayBuffers` at their peak (what it allocated)
 *   and its `external` memory at its peak (which also counts buffers moved to it from a thread).
 * - UPLOAD_MIB (default 1024) sent to `PUT /upload`: the bare server posts the request body to a
 *   worker thread by hand, the gateway's plugin reads it as a stream (`stream.request_body`); both
 *   count the bytes. The same figures as the download.
 * ROUNDS (default 2). A size or count of 0 leaves its part out (`-` in the table).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

const here = import.meta.dirname;
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const IDLE = Number(process.env.IDLE ?? 10_000);
const SSE = Number(process.env.SSE ?? 1_000);
const DOWNLOAD = Number(process.env.DOWNLOAD_MIB ?? 1024) * 1048576;
const UPLOAD = Number(process.env.UPLOAD_MIB ?? 1024) * 1048576;
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
  await nextLine(load('upload', port_, String(MiB)));
  await new Promise((r) => setTimeout(r, 500));

  const nan = Number.NaN;
  let perConnectionKiB = nan;
  if (IDLE > 0) {
    const before = await ask('mem');
    const idle = load('idle', port_, String(IDLE));
    await nextLine(idle);
    const after = await ask('mem');
    idle.stdin!.write('\n');
    await new Promise((r) => idle.once('exit', r));
    await new Promise((r) => setTimeout(r, 1000));
    perConnectionKiB = (after.rss! - before.rss!) / IDLE / 1024;
  }

  let sse: Record<string, number> = { p50: nan, p99: nan, burstP50: nan };
  let sseCpuUs = nan;
  if (SSE > 0) {
    const sseCpuBefore = await ask('cpu');
    sse = await nextLine(load('sse', port_, String(SSE)));
    const sseCpuAfter = await ask('cpu');
    await new Promise((r) => setTimeout(r, 1000));
    sseCpuUs = (sseCpuAfter.cpuUs! - sseCpuBefore.cpuUs!) / SSE;
  }

  /** MB/s, server CPU ms per MiB and RSS growth at its peak of one transfer. */
  const transfer = async (mode: 'download' | 'upload', bytes: number) => {
    if (bytes <= 0)
      return {
        mbps: nan,
        cpuMsPerMiB: nan,
        growthMiB: nan,
        retainedMiB: nan,
        arrayBuffersMiB: nan,
        externalMiB: nan,
      };
    const base = await ask('mem');
    const cpuBefore = await ask('cpu');
    const { mbps } = await nextLine(load(mode, port_, String(bytes)));
    const cpuAfter = await ask('cpu');
    const peak = await ask('mem');
    await new Promise((r) => setTimeout(r, 1000));
    return {
      mbps: mbps!,
      cpuMsPerMiB: (cpuAfter.cpuUs! - cpuBefore.cpuUs!) / 1000 / (bytes / MiB),
      growthMiB: (peak.peak! - base.rss!) / MiB,
      retainedMiB: (peak.rss! - base.rss!) / MiB,
      arrayBuffersMiB: peak.arrayBuffersPeak! / MiB,
      externalMiB: peak.externalPeak! / MiB,
    };
  };
  const download = await transfer('download', DOWNLOAD);
  const upload = await transfer('upload', UPLOAD);
  server.kill();
  return {
    perConnectionKiB,
    sseP50: sse.p50!,
    sseP99: sse.p99!,
    sseBurstP50: sse.burstP50!,
    sseCpuUs,
    mbps: download.mbps,
    cpuMsPerMiB: download.cpuMsPerMiB,
    downloadGrowthMiB: download.growthMiB,
    downloadRetainedMiB: download.retainedMiB,
    downloadArrayBuffersMiB: download.arrayBuffersMiB,
    downloadExternalMiB: download.externalMiB,
    uploadMbps: upload.mbps,
    uploadCpuMsPerMiB: upload.cpuMsPerMiB,
    uploadGrowthMiB: upload.growthMiB,
    uploadRetainedMiB: upload.retainedMiB,
    uploadArrayBuffersMiB: upload.arrayBuffersMiB,
    uploadExternalMiB: upload.externalMiB,
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
const fixed = (x: number, digits: number) => (Number.isNaN(x) ? '-' : x.toFixed(digits));
console.log(
  `| variant | RSS per idle WebSocket (KiB, ${IDLE}) | SSE first event p50 / p99 with ${SSE} open (ms) | p50 of the ${SSE} opened at once (ms) | server CPU µs per SSE stream | download MB/s (${DOWNLOAD / MiB} MiB) | server CPU ms per MiB | RSS growth during the download / left after the main thread's collection / main thread's ArrayBuffers / external at their peak (MiB) | upload MB/s (${UPLOAD / MiB} MiB) | server CPU ms per MiB | RSS growth during the upload / left after the main thread's collection / main thread's ArrayBuffers / external at their peak (MiB) |`,
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const v of variants) {
  console.log(
    `| ${v} | ${fixed(of(v, 'perConnectionKiB'), 1)} | ${fixed(of(v, 'sseP50'), 1)} / ${fixed(of(v, 'sseP99'), 1)} | ${fixed(of(v, 'sseBurstP50'), 0)} | ${fixed(of(v, 'sseCpuUs'), 0)} | ${fixed(of(v, 'mbps'), 0)} | ${fixed(of(v, 'cpuMsPerMiB'), 2)} | ${fixed(of(v, 'downloadGrowthMiB'), 1)} / ${fixed(of(v, 'downloadRetainedMiB'), 1)} / ${fixed(of(v, 'downloadArrayBuffersMiB'), 1)} / ${fixed(of(v, 'downloadExternalMiB'), 1)} | ${fixed(of(v, 'uploadMbps'), 0)} | ${fixed(of(v, 'uploadCpuMsPerMiB'), 2)} | ${fixed(of(v, 'uploadGrowthMiB'), 1)} / ${fixed(of(v, 'uploadRetainedMiB'), 1)} / ${fixed(of(v, 'uploadArrayBuffersMiB'), 1)} / ${fixed(of(v, 'uploadExternalMiB'), 1)} |`,
  );
}
const ratio = (key: keyof Sample) => fixed(of('gateway', key) / of('bare', key), 2);
console.log(
  `\ngateway / bare: memory per idle WebSocket ×${ratio('perConnectionKiB')}; SSE first event +${fixed(of('gateway', 'sseP50') - of('bare', 'sseP50'), 2)} ms at p50; download ×${ratio('mbps')}, its CPU per MiB ×${ratio('cpuMsPerMiB')}; upload ×${ratio('uploadMbps')}, its CPU per MiB ×${ratio('uploadCpuMsPerMiB')}`,
);
