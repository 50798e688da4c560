import { definePlugin } from '@veza/plugin-gateway/sdk';

// Each message echoed with the version that answered it: `v1:<message>`.
export default definePlugin({
  websockets: { 'GET /echo': { message: (ws, message) => ws.send(`v1:${message}`) } },
});
