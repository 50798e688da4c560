/**
 * Threat model, leaks (issue 14, item 9): ordinary traffic must not grow the host's heap. Before the
 * fix, every distinct timeout a request reached the runtime with (a waiting request's remaining time is
 * a fraction of a millisecond different each time; a peer chooses its own) added a deadline queue that
 * was never freed: ~500 bytes of old space per request under queueing. The soak runs in a child process
 * with `--expose-gc`, so the slope is measured after forced collections and away from vitest's own heap.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const PHASE_MS = 3000;
const PHASES = 8;

interface Soak {
  served: number;
  failed: number;
  timedOut: number;
  samples: { requests: number; oldSpace: number }[];
}

/** Least-squares slope of old-space bytes against requests served. */
function slope(samples: Soak['samples']): number {
  const n = samples.length;
  const mx = samples.reduce((s, p) => s + p.requests, 0) / n;
  const my = samples.reduce((s, p) => s + p.oldSpace, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of samples) {
    num += (p.requests - mx) * (p.oldSpace - my);
    den += (p.requests - mx) ** 2;
  }
  return num / den;
}

describe('the heap under sustained traffic', () => {
  it('stays flat over hundreds of thousands of requests with deadlines of every value', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--expose-gc',
        '--import',
        'tsx',
        path.join(import.meta.dirname, 'soak-heap.child.ts'),
        String(PHASE_MS),
        String(PHASES),
      ],
      { timeout: 90_000, maxBuffer: 1 << 20, cwd: path.resolve(import.meta.dirname, '../..') },
    );
    const soak = JSON.parse(stdout.trim().split('\n').pop()!) as Soak;
    const first = soak.samples[0]!;
    const last = soak.samples[soak.samples.length - 1]!;
    const measured = last.requests - first.requests;
    const bytesPerRequest = slope(soak.samples);
    // The figures, for notes and for whoever reads a failure.
    console.log(
      `soak: ${soak.served} served, ${soak.timedOut} timed out, ${soak.failed} failed; ${measured} requests measured; ` +
        `old space ${(first.oldSpace / 2 ** 20).toFixed(1)} → ${(last.oldSpace / 2 ** 20).toFixed(1)} MiB; ` +
        `slope ${bytesPerRequest.toFixed(2)} bytes/request`,
    );
    expect(soak.failed).toBe(0);
    // Endpoints time out after 1 s or more: only a host starved by other work reaches that, rarely.
    expect(soak.timedOut).toBeLessThan(soak.served / 100);
    expect(measured).toBeGreaterThan(20_000);
    // Growth the slope projects over the measured requests: the leak made it ~500 B × requests (tens
    // of MiB); what is left is collector noise, well under a MiB either way.
    expect(bytesPerRequest * measured).toBeLessThan(2 * 2 ** 20);
  }, 120_000);
});
