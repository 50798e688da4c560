import { definePlugin } from '@veza/plugin-gateway/sdk';

/** The AssemblyScript template's echo in JavaScript: the whole envelope back as the body, same headers. */
export default definePlugin({
  routes: {
    'POST /echo': (req) => ({
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: { key: 'POST /echo', request: req },
    }),
  },
});
