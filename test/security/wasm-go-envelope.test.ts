import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { memoryLogger } from '../helpers.js';
import { build, templates, toolchainPresent } from '../wasm/templates.js';

/**
 * The Go wasm template reads the `handle` envelope with pgw's own scanner, not encoding/json
 * (templates/wasm/pdk/go/decode.go, ADR 0290). A request's body is the client's: whatever JSON a
 * client sends reaches the scanner, and must come back from the echo as it went in — nested as deep
 * as the gateway lets a body be (256 levels; the scanner itself reads encoding/json's 10,000 without
 * recursion, checked in wasm by its Go tests), large, with lone surrogates, HTML characters and line
 * separators — and the plugin serves on.
 */
const go = templates.find((t) => t.lang === 'go')!;
const present = toolchainPresent(go);
const log = memoryLogger();
let gateway: PluginGateway;

const echo = (body: unknown) =>
  gateway.handle({ method: 'POST', path: '/echo', headers: {}, body });

beforeAll(async () => {
  if (!present) return;
  build(go);
  gateway = new PluginGateway({ logger: log });
  await gateway.load(go.dir);
  await gateway.start();
}, 600_000);
afterAll(() => gateway?.stop());

/** A value nested `depth` deep: arrays, or objects. */
function nested(depth: number, objects: boolean): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = objects ? { a: value } : [value];
  return value;
}

describe.skipIf(!present)("a client's body through the Go wasm template's scanner", () => {
  it('a body nested as deep as the gateway takes it (arrays, then objects) comes back whole', async () => {
    for (const objects of [false, true]) {
      const body = nested(250, objects);
      const res = await echo(body);
      expect(res.statusCode).toBe(200);
      expect((res.body as { request: { body: unknown } }).request.body).toEqual(body);
    }
  });

  it('a 1 MiB body of escapes, lone surrogates, HTML characters and separators comes back whole', async () => {
    const text = 'a"\\\n\t<&>\u2028\u2029é😀\ud800\udfff\u0000'.repeat(1 << 16).slice(0, 1 << 20);
    const body = { text, '<key>': ['\ud83d', '</script>'], n: -0.5e-7 };
    const res = await echo(body);
    expect(res.statusCode).toBe(200);
    expect((res.body as { request: { body: unknown } }).request.body).toEqual(body);
  });

  it('headers and query with escapes, HTML characters and separators come back as they went in', async () => {
    const odd = 'a"\\\n<&>\u2028\u2029é😀\u0001';
    const res = await gateway.handle({
      method: 'POST',
      path: `/echo?q=${encodeURIComponent(odd)}&q=2&ſ=1`,
      headers: { 'x-odd': odd, 'x-empty': '' },
      body: null,
    });
    expect(res.statusCode).toBe(200);
    const request = (res.body as { request: Record<string, unknown> }).request;
    expect(request.headers).toEqual({ 'x-odd': odd, 'x-empty': '' });
    expect(request.query).toEqual({ q: [odd, '2'], ſ: '1' });
  });

  it('serves on: the next request is answered', async () => {
    const res = await echo({ hello: 'again' });
    expect(res.statusCode).toBe(200);
    expect(log.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});
