import { definePlugin } from '@veza/plugin-gateway/sdk';

// Same echo as bench/echo-handler.ts, inlined so the plugin runs without a TypeScript loader.
const echo = (req) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: req.body,
});

export default definePlugin({
  routes: { 'POST /echo': echo, 'POST /fail': () => ({ statusCode: 500 }) },
});
