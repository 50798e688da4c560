// The bare baseline's worker (`live-scale-server.ts bare`).
// - `{ port, bytes }`: makes `bytes` in 64 KiB chunks and posts each to the main thread, at most
//   WINDOW ahead of what the main thread has written.
// - `{ upload }`: counts the bytes of the chunks the main thread posts on `upload`, acknowledging each
//   (the main thread reads its socket only while fewer than WINDOW are unacknowledged); `null` ends
//   the body and is answered `{ bytes }`.
import { parentPort } from 'node:worker_threads';

const CHUNK_BYTES = 64 * 1024;
const WINDOW = 8;

function download(port, bytes) {
  let sent = 0;
  let credit = WINDOW;
  const pump = () => {
    while (credit > 0 && sent < bytes) {
      const chunk = Buffer.alloc(CHUNK_BYTES, 120);
      sent += CHUNK_BYTES;
      credit--;
      port.postMessage(chunk, [chunk.buffer]);
    }
    if (sent >= bytes) port.postMessage(null);
  };
  port.on('message', () => {
    credit++;
    pump();
  });
  pump();
}

function upload(port) {
  let bytes = 0;
  port.on('message', (chunk) => {
    if (chunk === null) {
      port.postMessage({ bytes });
      return void port.close();
    }
    bytes += chunk.byteLength;
    port.postMessage(1);
  });
}

parentPort.on('message', (message) => {
  if (message.upload) upload(message.upload);
  else download(message.port, message.bytes);
});
