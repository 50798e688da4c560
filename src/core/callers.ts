/**
 * Who sent the requests a plugin is serving, by plugin and request id: the identity its `ctx.call()`s
 * act for (the thread names the request; the host, not the thread, says whose it is).
 * @module
 */
import type { GatewayRequest, PluginRequest } from '../shared/types.js';

interface InFlight {
  userId: GatewayRequest['userId'];
  /** Requests in flight under this id (a host may reuse ids). */
  count: number;
}

/** The callers of the requests in flight to plugins that may `ctx.call()`. */
export class Callers {
  readonly #inFlight = new Map<string, InFlight>();

  /** `request` to plugin `name` is in flight; returns the key to {@link Callers.leave} with. */
  enter(name: string, request: PluginRequest): string {
    const key = `${name}\n${request.id}`;
    const userId = request.userId ?? null;
    const known = this.#inFlight.get(key);
    if (known === undefined) this.#inFlight.set(key, { userId, count: 1 });
    else {
      known.count++;
      // Two requests under one id with different callers: neither identity is safe to lend.
      if (known.userId !== userId) known.userId = null;
    }
    return key;
  }

  /** The request `enter()` returned `key` for is answered. */
  leave(key: string): void {
    const known = this.#inFlight.get(key);
    if (known !== undefined && --known.count === 0) this.#inFlight.delete(key);
  }

  /**
   * The caller of request `requestId` that plugin `name` is serving now. `undefined` when it serves no
   * such request, `null` when the request is anonymous or the id is ambiguous.
   */
  of(name: string, requestId: string): GatewayRequest['userId'] {
    return this.#inFlight.get(`${name}\n${requestId}`)?.userId;
  }
}
