import { definePlugin, sse } from '@veza/plugin-gateway/sdk';

const CHUNK_BYTES = 64 * 1024;

export default definePlugin({
  websockets: { 'GET /echo': { message: (ws, message) => ws.send(message) } },
  routes: {
    // One event at once, then nothing but heartbeats: what an idle live feed costs.
    'GET /sse': () =>
      sse(
        (async function* () {
          yield { event: 'hello', data: 'first' };
          await new Promise(() => {});
        })(),
        { heartbeatMs: 60_000 },
      ),
    'GET /download': (req) => {
      const total = Number(req.query.bytes ?? 0);
      return {
        statusCode: 200,
        headers: { 'content-type': 'application/octet-stream' },
        body: (async function* () {
          for (let sent = 0; sent < total; sent += CHUNK_BYTES)
            yield Buffer.alloc(CHUNK_BYTES, 120);
        })(),
      };
    },
    // Reads the streamed body chunk by chunk and answers how many bytes came.
    'PUT /upload': async (req) => {
      let bytes = 0;
      for await (const chunk of req.body) bytes += chunk.byteLength;
      return { statusCode: 200, body: { bytes } };
    },
  },
});
