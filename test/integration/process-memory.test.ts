import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith } from '../helpers.js';
import { bwrapReason, usable } from '../services/toolchains.js';

/**
 * What one `runtime.type: process` plugin's Node process holds resident (docs/resource-limits.md,
 * "A process plugin's own memory"): at most 60 MiB idle and 100 MiB while it serves (ADR 0001's gate),
 * read from /proc as the kernel counts it, for the harness the package ships (dist/process-entry.js).
 */
const IDLE_MIB = 60;
/**
 * Serving 64 of these at once peaked at 62–63 MiB on Node 20 and 69–77 on Node 24. Node 24 jumped to
 * 86–104 now and then, with garbage: frame buffers promoted while their requests waited, which V8 frees
 * only in a full collection. The harness collects once they pass 16 MiB (docs/decisions/0366).
 */
const SERVING_MIB = 100;

const onLinux = usable(
  'the process memory tests',
  process.platform === 'linux' ? undefined : 'they read /proc',
  'run them on Linux',
);
const haveBwrap =
  onLinux && usable('the bubblewrap variant', bwrapReason(), 'apt-get install -y bubblewrap');

/** The pid of the deepest descendant of this test process running the process harness. */
function harnessPid(root = process.pid): number | undefined {
  let children: number[];
  try {
    const text = readFileSync(`/proc/${root}/task/${root}/children`, 'latin1').trim();
    children = text ? text.split(' ').map(Number) : [];
  } catch {
    return undefined;
  }
  for (const pid of children) {
    // bwrap's own two processes carry the harness on their command line too: the deepest is Node.
    const below = harnessPid(pid);
    if (below !== undefined) return below;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
      if (argv.some((a) => a.endsWith('/process-entry.js'))) return pid;
    } catch {
      continue;
    }
  }
  return undefined;
}

/** Resident memory of `pid`, MiB (VmRSS: anonymous, file-backed and shared pages it maps). */
function residentMib(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]) / 1024;
}

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

describe.skipIf(!onLinux).each(haveBwrap ? [true, false] : [false])(
  'the Node process of a process plugin (bwrap: %s)',
  (bwrap) => {
    it(`holds at most ${IDLE_MIB} MiB idle and ${SERVING_MIB} MiB serving 64 requests at once`, async () => {
      gateway = await gatewayWith(['proc-echo'], { sandbox: { bwrap } });
      const post = (body: unknown) =>
        gateway!.handle({
          method: 'POST',
          path: '/echo/ada',
          headers: { 'content-type': 'application/json' },
          body,
        });
      expect((await post({ n: 1 })).statusCode).toBe(200);
      const pid = harnessPid();
      expect(pid, 'the harness process').toBeDefined();
      const idle = residentMib(pid!);
      expect(idle).toBeGreaterThan(10);
      expect(idle).toBeLessThanOrEqual(IDLE_MIB);

      // 64 in flight, 1,024 requests of 64 KiB bodies echoed back: 128 MiB through the channel.
      const body = { text: 'x'.repeat(64 * 1024) };
      let peak = idle;
      let sent = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (sent++ < 1024) {
            expect((await post(body)).statusCode).toBe(200);
            if (sent % 32 === 0) peak = Math.max(peak, residentMib(pid!));
          }
        }),
      );
      peak = Math.max(peak, residentMib(pid!));
      expect(harnessPid(), 'the same process served them all').toBe(pid);
      console.log(
        `a process plugin's Node (${process.version}): ${idle.toFixed(1)} MiB idle, ${peak.toFixed(1)} MiB at its peak serving`,
      );
      expect(peak).toBeLessThanOrEqual(SERVING_MIB);
    }, 120_000);
  },
);
