import { describe, expect, it } from 'vitest';
import { BootQueue } from './boot-queue.js';

describe('BootQueue', () => {
  it('runs at most `concurrency` boots at once, in order, and counts what is pending', async () => {
    const queue = new BootQueue(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const runs = [0, 1, 2, 3, 4].map((n) =>
      queue.run(async () => {
        running++;
        most = Math.max(most, running);
        order.push(n);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
        return n;
      }),
    );
    expect(queue.pending).toBe(5);
    while (order.length < 5 || gates.length > 0) {
      await new Promise((r) => setImmediate(r));
      gates.shift()?.();
    }
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4]);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
    expect(queue.pending).toBe(0);
  });

  it('frees the place of a boot that fails, and rejects with its error', async () => {
    const queue = new BootQueue(1);
    const failed = queue.run(() => Promise.reject(new Error('no')));
    const next = queue.run(() => Promise.resolve('yes'));
    await expect(failed).rejects.toThrow('no');
    await expect(next).resolves.toBe('yes');
    expect(queue.pending).toBe(0);
  });

  it('counts a boot that throws synchronously as failed', async () => {
    const queue = new BootQueue(1);
    await expect(
      queue.run(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(queue.pending).toBe(0);
  });
});
