// The bare baseline's download worker (`live-scale-server.ts bare`): makes `bytes` in 64 KiB chunks
// and posts each to the main thread, at most WINDOW ahead of what the main thread has written.
import { parentPort } from 'node:worker_threads';

const CHUNK_BYTES = 64 * 1024;
const WINDOW = 8;
parentPort.on('message', ({ port, bytes }) => {
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
});
