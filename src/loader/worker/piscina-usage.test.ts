// Piscina's count of a thread's work includes the tasks the host sent on its own port (ADR 0370):
// Piscina sends its own tasks elsewhere while a thread is busy that way, but a port task never makes a
// thread look full (Piscina is not told when it ends). Real Piscina threads.
import path from 'node:path';
import { createRequire } from 'node:module';
import type * as PiscinaModule from 'piscina';
import { describe, expect, it } from 'vitest';
import { countPortWork } from './piscina-usage.js';

// The same CommonJS instance the patch reaches, as `plugin-pool.ts` loads it.
const { Piscina } = createRequire(import.meta.url)('piscina') as typeof PiscinaModule;
const filename = path.join(import.meta.dirname, '../../../test/fixtures/piscina-thread-id.mjs');

describe("Piscina's view of port work", () => {
  it('a thread busy with a port task gets no Piscina task while another thread is free', async () => {
    const pool = new Piscina({
      filename,
      minThreads: 2,
      maxThreads: 2,
      concurrentTasksPerWorker: 2,
      atomics: 'disabled',
    });
    try {
      await Promise.all([pool.run(null), pool.run(null)]);
      const [busy, free] = pool.threads;
      const usage = { inFlight: 1, sent: 1, most: 2 };
      expect(countPortWork(busy!, usage)).toBe(true);
      const ran = [];
      for (let i = 0; i < 6; i++) ran.push(await pool.run(null));
      expect(new Set(ran)).toEqual(new Set([free!.threadId]));
      // Its port task answered, the thread takes Piscina's tasks again.
      usage.inFlight = 0;
      const both = await Promise.all([pool.run(null), pool.run(null)]);
      expect(new Set(both)).toEqual(new Set([busy!.threadId, free!.threadId]));
    } finally {
      await pool.destroy();
    }
  });

  it('a port task does not make a thread look full: its Piscina tasks still go to it', async () => {
    const pool = new Piscina({
      filename,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 1,
      atomics: 'disabled',
    });
    try {
      const only = await pool.run(null);
      expect(countPortWork(pool.threads[0]!, { inFlight: 1, sent: 1, most: 1 })).toBe(true);
      // Counted full, this task would wait in Piscina's queue for a wake-up that never comes.
      expect(await pool.run(null)).toBe(only);
    } finally {
      await pool.destroy();
    }
  });
});
