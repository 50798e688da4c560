// The slot table tells the host which thread holds a request after its deadline, and whether a task
// lost with its thread may run again: host state that decides a plugin's fate. A worker plugin that
// hunts for the table (in `workerData`, in Piscina's copy of it) and rewrites it before blocking its
// thread must find nothing to write: the host still ends the blocked thread after the grace.
import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith, get } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

describe('the slot table is out of the plugin’s reach', () => {
  it('a plugin that rewrites every shared table it finds, then spins, still loses its thread', async () => {
    gateway = await gatewayWith(['slot-forger'], { timeoutGrace: 100 });
    const before = await get(gateway, '/forge/ok');
    expect(before.statusCode).toBe(200);
    const seen = before.body as { threadId: number; keys: string[]; tables: number };

    const spun = await get(gateway, '/forge/spin');
    expect(spun.statusCode).toBe(504);
    // The spinning thread is ended by the host; the next request runs on a new one.
    let after: Awaited<ReturnType<typeof get>> | undefined;
    for (let i = 0; i < 50; i++) {
      after = await get(gateway, '/forge/ok');
      if (after.statusCode === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(after?.statusCode).toBe(200);
    expect((after?.body as { threadId: number }).threadId).not.toBe(seen.threadId);
    // Ended for its deadline by the host: not the plugin's crash.
    expect(gateway.get('slot-forger')?.status).toBe('active');
    expect(seen.keys).not.toContain('slots');
  });
});
