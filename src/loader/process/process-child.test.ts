import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { encodeFrame } from './frames.js';
import { sendFrame, type Child } from './process-child.js';

/** Write system calls of this process so far (`/proc/self/io`). */
const writeCalls = () =>
  Number(/^syscw:\s+(\d+)$/m.exec(readFileSync('/proc/self/io', 'latin1'))![1]);

describe.runIf(process.platform === 'linux')('the host side of a plugin channel', () => {
  it('writes the frames sent in one turn of the event loop with one system call, in order', async () => {
    // A real child that echoes its channel (fd 3) back on it.
    const proc = spawn(
      process.execPath,
      ['-e', "const s = new (require('net').Socket)({ fd: 3 }); s.pipe(s);"],
      { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] },
    );
    const channel = proc.stdio[3] as Socket;
    // Tasks in flight: the host coalesces (one alone goes out at once).
    const inFlight = new Set([1, 2]);
    const child = {
      exited: false,
      channel,
      clientBytes: 0,
      inFlight,
    } as unknown as Child;
    const echoed: Buffer[] = [];
    channel.on('data', (chunk: Buffer) => echoed.push(chunk));
    // The echo child is killed at the end, whatever it was echoing.
    channel.on('error', () => {});
    const messages = Array.from({ length: 64 }, (_, i) => ({
      ctl: 'flags' as const,
      flags: { [`flag-${'x'.repeat(i)}`]: i % 2 === 0 },
    }));
    const expected = Buffer.concat(messages.map((message) => encodeFrame(message)));
    try {
      const before = writeCalls();
      for (const message of messages) expect(sendFrame(child, message, () => {})).toBeUndefined();
      await new Promise((resolve) => setImmediate(resolve));
      // Without coalescing: 64. Other threads of the test process may write a few meanwhile.
      expect(writeCalls() - before).toBeLessThan(8);
      await vi.waitFor(() => expect(Buffer.concat(echoed).length).toBe(expected.length));
      expect(Buffer.concat(echoed).equals(expected)).toBe(true);

      // One task in flight (sequential traffic): its frame goes to the kernel at once, not at the tick's end.
      inFlight.delete(2);
      const alone = writeCalls();
      expect(sendFrame(child, { ctl: 'flags', flags: { alone: true } }, () => {})).toBeUndefined();
      expect(channel.writableCorked).toBe(0);
      expect(writeCalls() - alone).toBeGreaterThanOrEqual(1);
    } finally {
      proc.kill('SIGKILL');
    }
  });
});
