/**
 * A streamed `PluginResponse` on a `node:http` response: the head at once (headers sanitised, chunked
 * framing Node's own), then each chunk as the plugin produces it, waiting for the socket to drain
 * before taking the next — a slow client slows the plugin rather than filling the host. A client that
 * goes away cancels the plugin's body; a stream the gateway cut (a deadline) aborts the response.
 * Each byte chunk the socket has taken is released to the stream (its buffer goes back to the plugin's
 * thread), when the response writes straight to a socket.
 * @module
 */
import { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { chunkReleaser, type StreamBody } from '../core/live-stream.js';
import type { PluginResponse } from '../shared/types.js';
import { wireHeaders } from './wire-headers.js';

/** Resolves on the next `drain` or `close` of `res`. */
export function writable(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Whether a write's callback means the socket has taken the chunk and nothing holds it after: Node's
 * own `write` onto a real socket. A host's middleware that wraps `write` (compression) may keep the
 * chunk, or never call back; an injected response has no socket.
 */
export function writesToSocket(res: ServerResponse): boolean {
  return res.write === ServerResponse.prototype.write && res.socket instanceof Socket;
}

/** Writes a response whose body is a stream; never rejects. */
export async function writeStream(
  res: ServerResponse,
  response: PluginResponse,
  requestId: string,
  head = false,
): Promise<void> {
  const headers = wireHeaders(response.headers);
  headers['content-type'] ??= 'application/octet-stream';
  headers['x-request-id'] = requestId;
  const iterator = (response.body as StreamBody)[Symbol.asyncIterator]();
  res.writeHead(response.statusCode, headers);
  res.flushHeaders();
  if (head) {
    await iterator.return?.();
    res.end();
    return;
  }
  let gone = false;
  res.once('close', () => {
    if (res.writableFinished) return;
    gone = true;
    void iterator.return?.();
  });
  const release = writesToSocket(res) ? chunkReleaser(response.body as StreamBody) : undefined;
  try {
    for (;;) {
      const step = await iterator.next();
      if (step.done || gone) break;
      const chunk = step.value;
      const taken = release
        ? res.write(chunk, (error) => {
            if (!error) release(chunk);
          })
        : res.write(chunk);
      if (!taken) await writable(res);
    }
    if (!gone) res.end();
  } catch {
    // Cut by the gateway (a deadline, the plugin failed mid-stream): the client sees it aborted.
    res.destroy();
  }
}
