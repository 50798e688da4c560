import { definePlugin } from '@veza/plugin-gateway/sdk';

// Same echo as bench/echo-worker.js: the message shape (POST) gets its body back, the URL-only shape
// (GET) an empty 200.
const echo = (req) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: req.body,
});

export default definePlugin({ routes: { 'POST /echo': echo, 'GET /echo': echo } });
