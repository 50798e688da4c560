import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway, PluginResponse } from '../../src/index.js';
import { gatewayWith, memoryLogger } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const codeOf = (res: PluginResponse) => (res.body as { error?: { code: string } }).error?.code;

/** A gateway with the replies plugin, whose every POST charges this ledger once before it answers. */
async function withLedger(options = {}) {
  const charges: string[] = [];
  const logger = memoryLogger();
  const g = await gatewayWith([], { logger, ...options });
  g.provide('ledger', '1.0.0', (req) => {
    charges.push((req.body as { kind: string }).kind);
    return { statusCode: 204 };
  });
  await g.load((await import('../helpers.js')).fixture('replies'));
  gateway = g;
  const post = (kind: string) =>
    g.handle({ method: 'POST', path: `/replies/${kind}`, headers: {} });
  const postSync = (kind: string) =>
    g.handle({ method: 'POST', path: `/replies/sync/${kind}`, headers: {} });
  const thread = async () =>
    ((await g.handle({ method: 'GET', path: '/replies/thread' })).body as { threadId: number })
      .threadId;
  return { gateway: g, charges, logger, post, postSync, thread };
}

describe('a reply that cannot leave the plugin thread is a 500 for that request, run once', () => {
  it.each([
    ['function', 'async'],
    ['promise', 'async'],
    ['symbol', 'async'],
    ['deep', 'async'],
    ['proxy', 'async'],
    ['function', 'sync'],
    ['symbol', 'sync'],
  ])(
    'a reply holding a %s (%s handler): 500 PGW_ERR_BAD_RESPONSE, the POST ran once, the thread lives on',
    async (kind, mode) => {
      const { gateway: g, charges, post, postSync, thread } = await withLedger();
      const before = await thread();
      const res = await (mode === 'sync' ? postSync : post)(kind);
      expect(res.statusCode).toBe(500);
      expect(codeOf(res)).toBe('PGW_ERR_BAD_RESPONSE');
      // Give a lost thread's re-dispatch every chance to happen before counting.
      await new Promise((r) => setTimeout(r, 300));
      expect(charges).toEqual([kind]);
      expect(await thread()).toBe(before);
      expect(g.get('replies')?.status).toBe('active');
      expect(g.metrics('replies').crashes).toBe(0);
    },
  );

  it('a thread that dies after the handler answered, before a batched answer left: 500 PGW_ERR_PLUGIN_CRASHED, the POST is not run again', async () => {
    const { gateway: g, charges, postSync } = await withLedger();
    await postSync('ok');
    // Another request in flight: this one goes in a batch, whose answers leave after the tick's microtasks.
    const hold = g.handle({ method: 'POST', path: '/replies/hold', headers: {} });
    const res = await postSync('exit-after-reply');
    expect(res.statusCode).toBe(500);
    expect(codeOf(res)).toBe('PGW_ERR_PLUGIN_CRASHED');
    await hold;
    await new Promise((r) => setTimeout(r, 300));
    expect(charges).toEqual(['ok', 'exit-after-reply']);
    expect(g.metrics('replies').crashes).toBe(1);
  });

  it('a thread that dies in the handler’s own microtask after a lone answer left (ADR 0370): that answer, the crash counted, the POST not run again', async () => {
    const { gateway: g, charges, postSync } = await withLedger();
    const res = await postSync('exit-after-reply');
    expect(res).toMatchObject({ statusCode: 200, body: { charged: true } });
    await new Promise((r) => setTimeout(r, 300));
    expect(charges).toEqual(['exit-after-reply']);
    expect(g.metrics('replies').crashes).toBe(1);
  });

  it('a plain reply still goes through, run once', async () => {
    const { charges, post } = await withLedger();
    const res = await post('ok');
    expect(res).toMatchObject({ statusCode: 201, body: { charged: true } });
    expect(charges).toEqual(['ok']);
  });
});

describe('a reply shaped like the gateway’s own failures is the plugin’s bad response', () => {
  it.each(['failure-shaped', 'failure-key'])(
    '%s: 500 PGW_ERR_BAD_RESPONSE, handle() resolves, the plugin stays active',
    async (kind) => {
      const { gateway: g, post } = await withLedger();
      const res = await post(kind);
      expect(res.statusCode).toBe(500);
      expect(codeOf(res)).toBe('PGW_ERR_BAD_RESPONSE');
      expect(g.get('replies')?.status).toBe('active');
    },
  );

  it.each(['status-100', 'status-101', 'status-700', 'status-nan', 'status-string'])(
    '%s: 500 PGW_ERR_BAD_RESPONSE',
    async (kind) => {
      const { post } = await withLedger();
      const res = await post(kind);
      expect(res.statusCode).toBe(500);
      expect(codeOf(res)).toBe('PGW_ERR_BAD_RESPONSE');
    },
  );

  it.each(['header-number', 'header-list-of-objects'])(
    '%s: refused on the host, logged and counted as a violation',
    async (kind) => {
      const { gateway: g, logger, post } = await withLedger();
      const res = await post(kind);
      expect(res.statusCode).toBe(500);
      expect(codeOf(res)).toBe('PGW_ERR_BAD_RESPONSE');
      expect(g.metrics('replies').protocol_violations).toBe(1);
      expect(logger.lines.find((l) => l.failure === 'bad-response')).toMatchObject({
        plugin_id: 'replies',
      });
    },
  );

  it('headers may be lists of strings', async () => {
    const { post } = await withLedger();
    const res = await post('header-list');
    expect(res).toMatchObject({ statusCode: 200, headers: { 'set-cookie': ['a=1', 'b=2'] } });
  });
});

describe('a response larger than maxResponseBytes never reaches the host', () => {
  it.each(['big-text', 'big-bytes', 'big-object'])(
    '%s: 500 PGW_ERR_RESPONSE_TOO_LARGE, refused in the thread, which lives on',
    async (kind) => {
      const { gateway: g, post, thread, charges } = await withLedger();
      const before = await thread();
      const heapBefore = process.memoryUsage().arrayBuffers + process.memoryUsage().heapUsed;
      const res = await post(kind);
      expect(res.statusCode).toBe(500);
      expect(codeOf(res)).toBe('PGW_ERR_RESPONSE_TOO_LARGE');
      expect(JSON.stringify(res.body).length).toBeLessThan(1000);
      expect(charges).toEqual([kind]);
      expect(await thread()).toBe(before);
      expect(g.get('replies')?.status).toBe('active');
      // The host never held the 64 MiB (a loose bound: other allocations come and go).
      const heapAfter = process.memoryUsage().arrayBuffers + process.memoryUsage().heapUsed;
      expect(heapAfter - heapBefore).toBeLessThan(48 * 1024 * 1024);
    },
  );

  it('maxResponseBytes is the gateway’s option', async () => {
    const { post } = await withLedger({ maxResponseBytes: 128 * 1024 * 1024 });
    const res = await post('big-bytes');
    expect(res.statusCode).toBe(200);
    expect((res.body as Uint8Array).byteLength).toBe(64 * 1024 * 1024);
  });
});
