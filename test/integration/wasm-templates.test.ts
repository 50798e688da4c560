import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { memoryLogger } from '../helpers.js';
import { build, templates, toolchainPresent } from '../wasm/templates.js';
import { until } from '../registry/contract.js';

describe.each(templates)('the $lang wasm template', (t) => {
  const present = toolchainPresent(t);
  const log = memoryLogger();
  let gateway: PluginGateway;

  beforeAll(async () => {
    if (!present) return;
    build(t);
    gateway = new PluginGateway({ logger: log });
    await gateway.load(t.dir);
    await gateway.start();
  }, 180_000);
  afterAll(() => gateway?.stop());

  it.skipIf(!present)('builds and echoes the request it was given', async () => {
    const res = await gateway.handle({
      method: 'POST',
      path: '/echo',
      headers: { 'content-type': 'application/json' },
      body: { hello: 'wasm', n: [1, 2] },
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({
      key: 'POST /echo',
      request: { method: 'POST', path: '/echo', body: { hello: 'wasm', n: [1, 2] } },
    });
  });

  it.skipIf(!present)('counts hits in the key/value store and logs each', async () => {
    const hit = () => gateway.handle({ method: 'GET', path: '/hits', headers: {} });
    expect((await hit()).body).toEqual({ hits: 1 });
    expect((await hit()).body).toEqual({ hits: 2 });
    // The log line travels on the thread's own port, the answer on the task's: either may come first.
    await until(() => log.lines.some((l) => l.msg === 'hit 2' && l.level === 'info'), 'hit 2');
  });
});
