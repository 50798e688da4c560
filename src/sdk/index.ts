/**
 * What plugin authors import: `definePlugin` and the types of the plugin side.
 * This entry imports nothing from the host side, so a plugin bundle stays small.
 * @module
 * @example
 * import { definePlugin } from '@veza/plugin-gateway/sdk';
 * export default definePlugin({
 *   routes: { 'GET /hello/{name}': (req) => ({ statusCode: 200, body: { hello: req.params.name } }) },
 * });
 */
export {
  definePlugin,
  isPluginDefinition,
  type PluginConfig,
  type PluginContext,
  type PluginDefinition,
  type PluginFetchInit,
  type PluginFetchResponse,
  type PluginLogger,
  type RouteHandler,
  type PluginWebSocket,
  type WebSocketHandlers,
  type WebSocketMessage,
} from '../shared/plugin-definition.js';
export { sse, sseFrame, type ServerSentEvent, type SseOptions } from '../shared/sse.js';
export type {
  DomainEvent,
  HealthStatus,
  PluginRequest,
  PluginResponse,
  ServiceRequest,
} from '../shared/types.js';
export type { PluginTrace } from '../shared/trace-context.js';
