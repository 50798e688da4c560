import { describe, expect, it } from 'vitest';
import { fromWire, peerHeaders, sign, toWire } from './peer-protocol.js';
import { parseCall } from './peer-server.js';

describe('peer bodies on the wire', () => {
  it('sends bytes as base64 and JSON as it is, and leaves no body out as no body', () => {
    expect(toWire(new Uint8Array([1, 2, 3]))).toEqual({ bytes: 'AQID' });
    expect(toWire(Buffer.from('hi'))).toEqual({ bytes: 'aGk=' });
    expect(toWire({ a: 1 })).toEqual({ json: { a: 1 } });
    expect(toWire(null)).toEqual({ json: null });
    expect(toWire(undefined)).toBeUndefined();
    expect(JSON.stringify({ body: toWire(undefined) })).toBe('{}');
  });

  it('reads bytes back as an exact-size copy, and JSON as it came', () => {
    const bytes = fromWire({ bytes: 'AQID' }) as Uint8Array;
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect([...bytes]).toEqual([1, 2, 3]);
    expect(bytes.byteLength).toBe(bytes.buffer.byteLength);
    expect(fromWire({ json: { a: 1 } })).toEqual({ a: 1 });
    expect(fromWire({ json: 'bytes' })).toBe('bytes');
    expect(fromWire(undefined)).toBeUndefined();
    expect(fromWire(null as never)).toBeUndefined();
  });

  it('refuses bytes that are not a base64 string', () => {
    for (const bytes of [5, null, ['AQID'], { 0: 'A' }]) {
      expect(() => fromWire({ bytes } as never)).toThrow(
        new TypeError('body.bytes must be a base64 string'),
      );
    }
  });
});

describe('peer call headers', () => {
  it('carry a fresh nonce each time, of the format receivers demand', () => {
    const nonces = Array.from(
      { length: 50 },
      () => peerHeaders('a', 'b', '', undefined)['x-veza-nonce']!,
    );
    expect(new Set(nonces).size).toBe(50);
    for (const n of nonces) expect(n).toMatch(/^[0-9a-f]{16}[0-9a-z]{1,47}$/);
  });

  it('are signed only with a secret, over timestamp, node, receiver, nonce and body', () => {
    expect(peerHeaders('a', 'b', 'x', undefined)).not.toHaveProperty('x-veza-signature');
    const h = peerHeaders('node-a', 'node-b', 'the body', 's3cret');
    expect(h['x-veza-signature']).toBe(
      sign('s3cret', h['x-veza-timestamp']!, 'node-a', 'node-b', h['x-veza-nonce']!, 'the body'),
    );
    const base = ['s', '1', 'a', 'b', 'n', 'body'] as const;
    const signature = sign(...base);
    expect(signature).toMatch(/^[0-9a-f]{64}$/);
    for (let i = 0; i < base.length; i++) {
      const changed = [...base] as [string, string, string, string, string, string];
      changed[i] = `${changed[i]}x`;
      expect(sign(...changed), `field ${i}`).not.toBe(signature);
    }
    // Field boundaries are part of what is signed: moving a character across one changes it.
    expect(sign('s', '1', 'ab', '', 'n', 'body')).not.toBe(sign('s', '1', 'a', 'b', 'n', 'body'));
  });
});

describe("a peer call's traceparent", () => {
  const call = (traceparent: unknown) =>
    JSON.stringify({
      service: 's',
      version: '1.0.0',
      instance: 'i',
      key: 'GET /x',
      timeoutMs: 1000,
      traceparent,
      request: { id: 'r', method: 'GET', path: '/x', headers: {} },
    });

  it('is kept when it is a W3C traceparent, and dropped otherwise (a label, not a reason to refuse)', () => {
    const valid = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(parseCall(call(valid)).traceparent).toBe(valid);
    for (const bad of [
      'x',
      42,
      { a: 1 },
      `${valid}-extra`,
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      'x'.repeat(100_000),
    ]) {
      const parsed = parseCall(call(bad));
      expect(parsed).not.toHaveProperty('traceparent');
    }
  });
});
