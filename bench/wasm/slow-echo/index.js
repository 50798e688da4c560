import { definePlugin } from '@veza/plugin-gateway/sdk';

/** How long each request spins in the plugin's thread before it answers (ms). */
const SPIN_MS = 0.06;

export default definePlugin({
  routes: {
    'POST /echo/{name}': (req) => {
      const end = performance.now() + SPIN_MS;
      while (performance.now() < end);
      return { statusCode: 200, body: { name: req.params.name, body: req.body, query: req.query } };
    },
  },
});
