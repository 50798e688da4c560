import { definePlugin } from '@veza/plugin-gateway/sdk';

const echo = (req) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: req.body,
});

export default definePlugin({ routes: { 'POST /echo': echo, 'POST /scarce': echo } });
