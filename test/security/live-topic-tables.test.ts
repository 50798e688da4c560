// Bounded by construction (issue 18): the host's topic tables, one per plugin, live only while the
// plugin has a connection open. Before, a plugin's table stayed for good once it had had a connection,
// unloaded or not: one more per plugin name ever seen. Counted on the heap (V8's queryObjects, after
// a full collection), through the public API only.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { queryObjects } from 'node:v8';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TopicTable } from '../../src/core/live-topics.js';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, fixture, gatewayWith } from '../helpers.js';
import { connect, liveServer, type Client } from '../live-clients.js';

const ORIGIN = { headers: { origin: 'https://app.example' } };
const tables = () => queryObjects(TopicTable, { format: 'count' }) as number;
/** A closed connection is let go once its socket's last callbacks ran (a close grace of 2 s at most). */
const SETTLED = { timeout: 5000, interval: 250 };

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
});

// Inside the repository, so that the plugins resolve @veza/plugin-gateway/sdk as a host app's would.
const root = path.resolve(import.meta.dirname, '..', '.swap-fixtures', `topics-${process.pid}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** live-other's code under another plugin name. */
function pluginNamed(name: string): string {
  const dir = path.join(root, name);
  cpSync(fixture('live-other'), dir, { recursive: true });
  const yaml = path.join(dir, 'plugin.yaml');
  writeFileSync(yaml, readFileSync(yaml, 'utf8').replace('name: live-other', `name: ${name}`));
  return dir;
}

async function closed(...clients: Client[]): Promise<void> {
  for (const c of clients) c.ws.close();
  await Promise.all(clients.map((c) => c.closed));
}

describe("the host's topic tables", () => {
  it('hold one table per plugin with a connection open, and none once its last connection closed or it was unloaded', async () => {
    const before = tables();
    gateway = await gatewayWith(['live-room', 'live-other']);
    const live = await liveServer(gateway);
    server = live.server;
    const room = await connect(`${live.url}/rooms/a`, ORIGIN);
    const room2 = await connect(`${live.url}/rooms/b`, ORIGIN);
    const other = await connect(`${live.url}/other/x`);
    await Promise.all([room.next(), room2.next()]);
    expect(tables()).toBe(before + 2);

    await closed(room);
    // Another connection of the plugin holds its table (its rooms stay).
    expect(tables()).toBe(before + 2);
    await closed(room2);
    await expect.poll(tables, SETTLED).toBe(before + 1);

    // An unload closes the plugin's connections (1001): its table goes with the last.
    await gateway.unload('live-other');
    expect((await other.closed).code).toBe(1001);
    await expect.poll(tables, SETTLED).toBe(before);

    // Plugins of other names come and go: the count does not grow with the names seen.
    for (let i = 0; i < 3; i++) {
      const name = `topics-${i}`;
      await gateway.load(pluginNamed(name));
      const again = await connect(`${live.url}/other/y`);
      again.ws.send('hello');
      expect(tables()).toBe(before + 1);
      await gateway.unload(name);
      expect((await again.closed).code).toBe(1001);
      await expect.poll(tables, SETTLED).toBe(before);
    }
  }, 120_000); // each count is a full collection of the test worker's heap
});
