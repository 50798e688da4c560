// One suite, run against every adapter mount (tests/adapters/*.test.ts): what a host gets from the
// gateway over real HTTP on loopback, whatever framework it mounts it in.
import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import type { RequestHandlerLike } from '../../src/adapters/request-handler.js';
import { gatewayWith } from '../helpers.js';
import type { Mount, Mounted, MountOptions } from './mounts.js';

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/**
 * POSTs `chunks` with chunked transfer encoding, each written after the server has had the one before:
 * the server reads several chunks and joins them (on Node's shared 8 KiB pool, for a small body).
 */
async function postInChunks(url: string, contentType: string, chunks: Uint8Array[]) {
  const req = http.request(url, { method: 'POST', headers: { 'content-type': contentType } });
  const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.once('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.once('end', () =>
        resolve({ status: res.statusCode!, body: Buffer.concat(parts).toString('utf8') }),
      );
    });
    req.once('error', reject);
  });
  for (const chunk of chunks) {
    await new Promise<void>((resolve) => req.write(chunk, () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  req.end();
  return answered;
}

/** The adapter suite for one mount; `raw` says the mount reads binary bodies itself. */
export function adapterCases(name: string, mount: Mount): void {
  describe(`${name}: the gateway over HTTP`, () => {
    let gateway: PluginGateway;
    let host: Mounted | undefined;
    beforeAll(async () => {
      gateway = await gatewayWith([
        'echo',
        'profiles',
        'raw-responder',
        'limited',
        'body-inspector',
      ]);
    });
    afterAll(() => gateway?.stop());
    afterEach(async () => {
      await host?.close();
      host = undefined;
    });
    const serve = async (handler: RequestHandlerLike = gateway, options?: MountOptions) =>
      (host = await mount(handler, options));

    it('passes JSON, text and binary bodies and the query string', async () => {
      const { plugins } = await serve();
      const j = await fetch(`${plugins}/echo/ada?x=1&x=2`, json({ n: 1 }));
      expect(j.status).toBe(200);
      expect(j.headers.get('content-type')).toMatch(/^application\/json(; charset=utf-8)?$/);
      expect(await j.json()).toMatchObject({
        name: 'ada',
        body: { n: 1 },
        query: { x: ['1', '2'] },
      });
      const t = await fetch(`${plugins}/echo/bob`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'hello',
      });
      expect(await t.json()).toMatchObject({ body: 'hello' });
      const bytes = await fetch(`${plugins}/inspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new Uint8Array([1, 2, 3, 4, 5]),
      });
      expect(await bytes.json()).toMatchObject({ length: 5, backing: 5 });
    });

    // One chunk arrives in a buffer of its own; several are joined, on the pool another body went
    // through. For each content type: one the host's raw parser may claim, one no parser claims.
    it.each(['application/octet-stream', 'application/x-blob'])(
      'hands a plugin a %s body sent in several chunks as exactly its bytes',
      async (type) => {
        const { plugins } = await serve();
        const chunks = [0, 1, 2, 3].map((n) => new Uint8Array(60).fill(0x41 + n));
        const expected = Buffer.concat(chunks).toString('latin1');
        for (let i = 0; i < 3; i++) {
          // Someone else's password goes through the same listener first.
          await fetch(`${plugins}/echo/x`, json({ user: 'alice', password: 'hunter2-horse' }));
          const res = await postInChunks(`${plugins}/inspect`, type, chunks);
          expect(res.status).toBe(200);
          const seen = JSON.parse(res.body) as { everything: string };
          expect(seen).toMatchObject({ length: 240, backing: 240, offset: 0 });
          expect(seen.everything).toBe(expected);
        }
      },
    );

    it('decodes text in the charset it declares (latin1)', async () => {
      const { plugins } = await serve();
      const res = await fetch(`${plugins}/echo/x`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=latin1' },
        body: Buffer.from('café crème', 'latin1'),
      });
      expect(await res.json()).toMatchObject({ body: 'café crème' });
    });

    it('hands paths no plugin serves to the host (its routes, its 404); a plugin’s own 404 stays', async () => {
      const { base, plugins } = await serve();
      expect(await (await fetch(`${base}/host/ping`)).text()).toBe('pong');
      const missing = await fetch(`${plugins}/no-plugin-here`);
      expect([missing.status, await missing.text()]).toEqual([404, 'host 404']);
      const mine = await fetch(`${plugins}/raw/status/404`);
      expect([mine.status, await mine.text()]).toEqual([404, 'status']);
    });

    it('lets a host route after the gateway read a JSON body the gateway did not serve', async () => {
      const { plugins } = await serve();
      const res = await fetch(`${plugins}/host-upload`, json({ kept: true }));
      expect(await res.json()).toEqual({ kept: true });
    });

    it('answers 413 past bodyLimit, without reaching the plugin', async () => {
      const { plugins } = await serve(gateway, { bodyLimit: 1000 });
      const before = gateway.metrics('body-inspector')!.request_count;
      const res = await fetch(`${plugins}/inspect`, {
        method: 'POST',
        // A type no host body parser claims (express.raw() takes application/octet-stream).
        headers: { 'content-type': 'application/x-blob' },
        body: new Uint8Array(5000),
      });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ error: { code: 'PGW_ERR_BODY_TOO_LARGE' } });
      expect(gateway.metrics('body-inspector')!.request_count).toBe(before);
    });

    it('passes 429 and 503 with their Retry-After', async () => {
      const { plugins } = await serve();
      let last: Response | undefined;
      for (let i = 0; i < 6; i++) last = await fetch(`${plugins}/limited`);
      expect(last!.status).toBe(429);
      expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
      await host!.close();
      const busy: RequestHandlerLike = {
        handle: async (req) => ({
          statusCode: 503,
          headers: { 'retry-after': '7' },
          body: { error: { code: 'PGW_ERR_PLUGIN_UNAVAILABLE', message: 'x', requestId: req.id } },
        }),
      };
      const stub = await serve(busy);
      const res = await fetch(`${stub.plugins}/anything`);
      expect([res.status, res.headers.get('retry-after')]).toEqual([503, '7']);
    });

    it('serves HEAD with the GET route: headers and length, no body', async () => {
      const { plugins } = await serve();
      const body = await (await fetch(`${plugins}/profiles/1`)).text();
      const head = await fetch(`${plugins}/profiles/1`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
      expect(await head.text()).toBe('');
    });

    it('takes x-request-id in and gives it back; makes one up otherwise', async () => {
      const seen: string[] = [];
      const spy: RequestHandlerLike = {
        handle: (req) => {
          seen.push(req.id!);
          return gateway.handle(req);
        },
      };
      const { plugins } = await serve(spy);
      const mine = await fetch(`${plugins}/profiles/1`, {
        headers: { 'x-request-id': 'trace-42' },
      });
      expect(mine.headers.get('x-request-id')).toBe('trace-42');
      expect(seen[0]).toMatch(/^trace-42~/);
      const made = await fetch(`${plugins}/profiles/1`);
      expect(made.headers.get('x-request-id')).toMatch(/^[\w.:-]+$/);
      // Two requests under one caller-chosen id are still two ids to the gateway.
      await fetch(`${plugins}/profiles/1`, { headers: { 'x-request-id': 'trace-42' } });
      expect(seen[2]).not.toBe(seen[0]);
    });

    it('sends a header list as repeated headers: two Set-Cookie', async () => {
      const { plugins } = await serve();
      const res = await fetch(`${plugins}/raw/cookies`);
      expect(res.headers.getSetCookie()).toEqual(['a=1; HttpOnly', 'b=2; Secure']);
    });

    it('passes the host’s caller (userId, roles) from its hook', async () => {
      const { plugins } = await serve(gateway, { withUser: true });
      expect((await fetch(`${plugins}/whoami`)).status).toBe(401);
      const me = await fetch(`${plugins}/whoami`, { headers: { 'x-test-user': 'ada' } });
      expect(await me.json()).toEqual({ userId: 'ada' });
      const admin = await fetch(`${plugins}/admin`, { headers: { 'x-test-user': 'ada' } });
      expect(admin.status).toBe(200);
    });

    it('answers malformed JSON 400 and an unknown charset 415, in the gateway’s error shape', async () => {
      const { plugins } = await serve();
      const bad = await fetch(`${plugins}/echo/x`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"n":',
      });
      expect(bad.status).toBe(400);
      const odd = await fetch(`${plugins}/echo/x`, {
        method: 'POST',
        headers: { 'content-type': 'text/csv; charset=klingon' },
        body: 'a,b',
      });
      expect(odd.status).toBe(415);
      expect(await odd.json()).toMatchObject({ error: { code: 'PGW_ERR_UNSUPPORTED_MEDIA_TYPE' } });
    });
  });
}
