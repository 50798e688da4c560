/**
 * The load of `bench/live-scale.bench.ts`, in a process of its own. Modes:
 * - `idle PORT N`: opens N WebSockets to /echo (500 at a time), checks each with one echo, prints
 *   `{ "open": N }`, holds them until a line on stdin, then closes them and exits.
 * - `sse PORT N`: opens N SSE streams at once and holds them; then, one at a time, 50 more: prints
 *   the time from request to first event of those 50 (`p50`, `p99`) and of the N opened at once
 *   (`burstP50`), and exits.
 * - `download PORT BYTES`: reads BYTES from /download; prints `{ "mbps": MB/s }`.
 * - `upload PORT BYTES`: sends BYTES to `PUT /upload` (64 KiB writes, as fast as the socket drains),
 *   checks the byte count the server answers; prints `{ "mbps": MB/s }`, request start to answer.
 */
import http from 'node:http';
import WebSocket from 'ws';

const [mode, portText, countText] = process.argv.slice(2) as [string, string, string];
const port = Number(portText);
const count = Number(countText);
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const at = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

async function openEcho(): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`, { perMessageDeflate: false });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send('ping');
  await new Promise((resolve) => ws.once('message', resolve));
  return ws;
}

if (mode === 'idle') {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < count; i += 500) {
    sockets.push(
      ...(await Promise.all(Array.from({ length: Math.min(500, count - i) }, openEcho))),
    );
  }
  console.log(JSON.stringify({ open: sockets.length }));
  await new Promise((resolve) => process.stdin.once('data', resolve));
  for (const ws of sockets) ws.terminate();
  process.exit(0);
}

if (mode === 'sse') {
  const requests: http.ClientRequest[] = [];
  /** Opens one stream; resolves with the time to its first event, the stream left open. */
  const open = () =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now();
      const req = http.get({ host: '127.0.0.1', port, path: '/sse', agent }, (res) => {
        res.setEncoding('utf8');
        let seen = '';
        const onData = (text: string) => {
          seen += text;
          if (!seen.includes('\n\n')) return;
          res.off('data', onData);
          resolve(performance.now() - started);
        };
        res.on('data', onData);
      });
      req.once('error', reject);
      requests.push(req);
    });
  const burst = (await Promise.all(Array.from({ length: count }, open))).sort((a, b) => a - b);
  // With `count` streams open: the first event of one more, one at a time.
  const next: number[] = [];
  for (let i = 0; i < 50; i++) {
    next.push(await open());
    requests.pop()!.destroy();
  }
  next.sort((a, b) => a - b);
  for (const req of requests) req.destroy();
  console.log(
    JSON.stringify({
      p50: at(next, 0.5),
      p99: at(next, 0.99),
      burstP50: at(burst, 0.5),
      streams: count,
    }),
  );
  process.exit(0);
}

if (mode === 'download') {
  const started = performance.now();
  const bytes = await new Promise<number>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: `/download?bytes=${count}`, agent }, (res) => {
        let n = 0;
        res.on('data', (chunk: Buffer) => (n += chunk.length));
        res.once('end', () => resolve(n));
        res.once('error', reject);
      })
      .once('error', reject);
  });
  if (bytes !== count) throw new Error(`read ${bytes} of ${count} bytes`);
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ mbps: bytes / 1048576 / seconds }));
  process.exit(0);
}
if (mode === 'upload') {
  const chunk = Buffer.alloc(64 * 1024, 121);
  const started = performance.now();
  const answer = await new Promise<string>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/upload',
        method: 'PUT',
        agent,
        headers: { 'content-type': 'application/octet-stream', 'content-length': count },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (part: string) => (text += part));
        res.once('end', () =>
          res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode} ${text}`)),
        );
      },
    );
    req.once('error', reject);
    let sent = 0;
    const write = () => {
      while (sent < count) {
        const part = count - sent >= chunk.length ? chunk : chunk.subarray(0, count - sent);
        sent += part.length;
        if (!req.write(part)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
  const { bytes } = JSON.parse(answer) as { bytes: number };
  if (bytes !== count) throw new Error(`the server counted ${bytes} of ${count} bytes`);
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ mbps: bytes / 1048576 / seconds }));
  process.exit(0);
}
throw new Error(`unknown mode ${mode}`);
