import { definePlugin } from '@veza/plugin-gateway/sdk';

export default definePlugin({
  websockets: { 'GET /echo': { message: (ws, message) => ws.send(message) } },
});
