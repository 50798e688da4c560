import { definePlugin } from '@veza/plugin-gateway/sdk';

// Same echo as bench/echo-handler.ts, inlined so the plugin runs without a TypeScript loader.
const echo = (req) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: req.body,
});

// A fixed amount of CPU work (bench/overhead.bench.ts): `loops` rounds of integer arithmetic, the same
// loop as bench/echo-worker.js, so that both sides of a comparison pay the same work.
const work = (req) => {
  let x = 0;
  for (let i = 0; i < req.body.loops; i++) x = (Math.imul(x, 31) + i) | 0;
  return { statusCode: 200, body: { x } };
};

export default definePlugin({
  routes: { 'POST /echo': echo, 'POST /fail': () => ({ statusCode: 500 }), 'POST /work': work },
});
