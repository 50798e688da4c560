import { definePlugin } from '@veza/plugin-gateway/sdk';
import { tracedEcho } from '../../trace-stamps.js';

export default definePlugin({
  routes: { 'POST /echo': tracedEcho, 'POST /arm': tracedEcho, 'POST /dump': tracedEcho },
});
