import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { requestBodySource } from './live-request-body.js';

const never = () => {
  throw new Error('not over the limit');
};

/** A request stream as Node's HTTP parser fills it: each piece of body in a buffer of its own. */
function request(...pieces: Buffer[]): IncomingMessage {
  const message = new IncomingMessage(new Socket());
  for (const piece of pieces) message.push(piece);
  message.push(null);
  return message;
}

describe('requestBodySource: chunks a runtime may move to a thread', () => {
  it('yields the request stream’s own buffers as they are: nothing else holds them', async () => {
    const piece = Buffer.alloc(64 * 1024, 5);
    const source = requestBodySource(request(piece), Infinity, never);
    const step = await source.next();
    expect(step.value).toBe(piece);
  });

  it('copies what a caller’s stream yields: the caller may hold or reuse it', async () => {
    const reused = Buffer.alloc(64 * 1024, 6);
    const source = requestBodySource(Readable.from([reused, reused]), Infinity, never);
    const first = (await source.next()).value as Uint8Array;
    const second = (await source.next()).value as Uint8Array;
    expect(first).not.toBe(reused);
    expect(second).not.toBe(reused);
    expect(first.buffer).not.toBe(reused.buffer);
    // Moving the copy (as the worker runtime does) leaves the caller's buffer whole.
    structuredClone(first, { transfer: [first.buffer as ArrayBuffer] });
    expect(reused.byteLength).toBe(64 * 1024);
    expect(second[0]).toBe(6);
  });

  it('copies a view on a larger buffer (a small Buffer from the shared pool) to its exact size', async () => {
    const text = requestBodySource('a short body', Infinity, never);
    const bytes = (await text.next()).value as Uint8Array;
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
    const slab = Buffer.alloc(1024, 7);
    const view = requestBodySource(request(slab.subarray(10, 20)), Infinity, never);
    const piece = (await view.next()).value as Uint8Array;
    expect(piece.buffer).not.toBe(slab.buffer);
    expect(piece.buffer.byteLength).toBe(10);
  });

  it('copies a request stream’s chunks when someone else listens to its data too', async () => {
    const piece = Buffer.alloc(1024, 8);
    const message = request(piece);
    const seen: Buffer[] = [];
    message.on('data', (chunk: Buffer) => seen.push(chunk));
    const source = requestBodySource(message, Infinity, never);
    const step = await source.next();
    expect(step.done).toBe(false);
    expect(step.value).not.toBe(piece);
  });
});
