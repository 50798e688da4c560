import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { channelGarbage, COLLECT_OVER_BYTES, LOOK_EVERY_BYTES } from './channel-garbage.js';

const MiB = 1024 * 1024;

describe('the harness bound on the channel garbage (channelGarbage)', () => {
  it('frees buffers nothing holds once they pass their level by 16 MiB, looking every 4 MiB of traffic', async () => {
    const through = channelGarbage();
    // 24 MiB of buffers, dropped: over the bound, under V8's own external-memory trigger (~64 MiB).
    // Whatever collection their allocation started has ended after the pause; they are still there.
    let held: Buffer[] | undefined = Array.from({ length: 24 }, () => Buffer.alloc(MiB, 1));
    expect(held.length).toBe(24);
    held = undefined;
    await sleep(300);
    const piled = process.memoryUsage().arrayBuffers;
    expect(piled).toBeGreaterThan(COLLECT_OVER_BYTES);
    // Less traffic than the look interval: nothing collected yet.
    through(LOOK_EVERY_BYTES - 1);
    expect(process.memoryUsage().arrayBuffers).toBeGreaterThan(piled - MiB);
    through(1);
    // Freed by the collection (the last of them by V8's background sweeper).
    await expect
      .poll(() => process.memoryUsage().arrayBuffers, { interval: 10 })
      .toBeLessThan(piled - 20 * MiB);
  });
});
