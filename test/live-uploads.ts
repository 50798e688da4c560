/** Upload clients for the streamed-request-body tests: `node:http` over loopback, with backpressure. */
import { execFile } from 'node:child_process';
import http from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const CHUNK = Buffer.alloc(64 * 1024, 1);
CHUNK[0] = 7;
CHUNK[CHUNK.length - 1] = 9;

/** `bytes` (a multiple of 64 KiB) of 64 KiB chunks, first byte 7 and last byte 9 of each. */
function* chunks(bytes: number): Generator<Buffer> {
  for (let sent = 0; sent < bytes; sent += CHUNK.length) yield CHUNK;
}

export interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  /** The client's own error while sending, when the server ended the upload. */
  sendError?: string;
}

/** PUTs `bytes` with backpressure (chunked, unless `headers` gives a length); resolves at the answer. */
export function upload(
  url: string,
  path: string,
  bytes: number,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`http://${url}${path}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', ...headers },
    });
    let sendError: string | undefined;
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, body, headers: res.headers, sendError }),
      );
      res.on('error', reject);
    });
    req.on('error', (error) => {
      sendError = error.message;
    });
    pipeline(Readable.from(chunks(bytes)), req).catch((error: Error) => {
      sendError = error.message;
      // Nothing answered and nothing more to send: the server cut the connection.
      setTimeout(() => resolve({ status: 0, body: '', headers: {}, sendError }), 500);
    });
  });
}

export const MiB = 1024 * 1024;

/** The same upload from a child process; resolves with its status and body. */
export function uploadFromChild(url: string, path: string, bytes: number): Promise<Answer> {
  const script = `
    import http from 'node:http';
    import { Readable } from 'node:stream';
    import { pipeline } from 'node:stream/promises';
    const [url, path, bytes] = process.argv.slice(1);
    const chunk = Buffer.alloc(65536, 1); chunk[0] = 7; chunk[65535] = 9;
    function* chunks() { for (let n = 0; n < Number(bytes); n += 65536) yield chunk; }
    const req = http.request('http://' + url + path, { method: 'PUT' });
    req.on('response', (res) => {
      let body = ''; res.setEncoding('utf8'); res.on('data', (c) => (body += c));
      res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body })));
    });
    await pipeline(Readable.from(chunks()), req);
  `;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script, url, path, String(bytes)],
      { maxBuffer: 1024 * 1024 },
      (error, stdout) => {
        if (error) return reject(error);
        resolve({ ...(JSON.parse(stdout) as { status: number; body: string }), headers: {} });
      },
    );
  });
}
