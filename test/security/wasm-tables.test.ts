import { afterAll, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith, get } from '../helpers.js';

/**
 * A WebAssembly table grown without a maximum made V8 abort the whole host: a thread's heap limit
 * cannot stop one large allocation. The gateway sets V8's table ceiling (`limits.tableElements`), so
 * `table.grow` fails in the plugin's thread, and a thread that takes table after table is ended at its
 * heap limit like any other. Were it not so, this test's own process would abort.
 */
let gateway: PluginGateway | undefined;
afterAll(() => gateway?.stop());

describe('WebAssembly tables in a worker plugin', () => {
  it('a table grown in large steps fails in the plugin; the host and the plugin serve on', async () => {
    gateway = await gatewayWith(['table-grower', 'echo']);
    expect((await get(gateway, '/table/grow')).statusCode).toBe(500);
    expect((await get(gateway, '/table/ok')).statusCode).toBe(200);
  }, 30_000);

  it('many tables end the thread at its heap limit, as a crash of that plugin only', async () => {
    const crashes: string[] = [];
    gateway!.on('plugin:crash', (c) => crashes.push(c.plugin));
    expect((await get(gateway!, '/table/many')).statusCode).toBe(500);
    expect(crashes).toEqual(['table-grower']);
    const bystander = await gateway!.handle({
      method: 'POST',
      path: '/echo/x',
      headers: {},
      body: { hello: 1 },
    });
    expect(bystander.statusCode).toBe(200);
  }, 30_000);
});
