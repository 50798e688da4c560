/**
 * What the adapters need of a gateway: its `handle()`. `PluginGateway` is one; so is anything else
 * that answers a `GatewayRequest` the same way (the management API, a test double).
 * @module
 */
import type { GatewayRequest, PluginResponse } from '../shared/types.js';

/** Anything an adapter can serve: `handle()` answers every request and never throws for a plugin. */
export interface RequestHandlerLike {
  /** Answers one request, as `PluginGateway.handle()` does. */
  handle(request: GatewayRequest): Promise<PluginResponse>;
  /**
   * Whether `method path` reads its body as a stream, as `PluginGateway.streamsRequestBody()` says:
   * the adapter then passes the request stream as `body`, unread. Absent: every body is read whole.
   */
  streamsRequestBody?(method: string, path: string): boolean;
}

/** The caller as the host's own authentication decided it, handed to the gateway. */
export interface HostUser {
  /** The caller's id; `null` or absent for an anonymous caller. */
  userId?: number | string | null;
  /** The caller's roles, checked against an endpoint's `roles` (unless `authenticate` says otherwise). */
  roles?: readonly string[];
}
