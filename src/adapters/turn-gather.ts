/**
 * Handing the requests an adapter reads in one turn of the event loop to `handle()` together. Each HTTP
 * request is read in an I/O callback of its own, and Node runs the microtasks after every callback:
 * handed on at once, each request would be alone in its tick and cross to its plugin's thread in a
 * message of its own, whereas the worker runtime sends the requests of one tick as one message
 * (docs/decisions/0300-micro-batched-thread-hop.md). See docs/decisions/0330-adapters-gather-a-loop-turn.md.
 * @module
 */
import { AsyncResource } from 'node:async_hooks';
import type { GatewayRequest, PluginResponse } from '../shared/types.js';
import type { RequestHandlerLike } from './request-handler.js';

/**
 * Requests handed on together at most: the worker runtime's batch at the default `threadConcurrency`
 * (a larger batch would be split anyway).
 */
export const GATHER_MAX = 16;

/**
 * `handle()` for one adapter: a request read while none of the adapter's is in flight goes at once
 * (sequential traffic waits for nothing); one read while others are waits for the end of the loop
 * turn's I/O (`setImmediate`, the same turn) and leaves with every other request read in that turn, or
 * as soon as {@link GATHER_MAX} are waiting.
 */
export class TurnGather {
  readonly #handler: RequestHandlerLike;
  #inFlight = 0;
  /**
   * The turn's requests, how to answer each, and the async context each was read in (the host's span,
   * its AsyncLocalStorage stores), which `handle()` must run in: four entries a request.
   */
  #waiting: unknown[] = [];
  /** Whether a flush at the end of this turn's I/O is scheduled. */
  #due = false;

  constructor(handler: RequestHandlerLike) {
    this.#handler = handler;
  }

  /** Answers `request` as the handler does; every call is followed by one {@link done}. */
  handle(request: GatewayRequest): Promise<PluginResponse> {
    if (this.#inFlight++ === 0) return this.#handler.handle(request);
    return new Promise((resolve, reject) => {
      const context = new AsyncResource('PGW_GATHERED_REQUEST');
      const waiting = this.#waiting.push(request, resolve, reject, context);
      // A full batch leaves now: those read first do not wait for the rest of a long turn (a framework
      // that spends ~150 µs reading each request would hold the first of 50 for 7 ms).
      if (waiting === 4 * GATHER_MAX) this.#flush();
      else if (waiting === 4 && !this.#due) {
        this.#due = true;
        setImmediate(this.#flushDue);
      }
    });
  }

  /** The request's answer came (or its handling failed): it no longer counts as in flight. */
  done(): void {
    this.#inFlight--;
  }

  readonly #flushDue = (): void => {
    this.#due = false;
    this.#flush();
  };

  #flush(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    const handler = this.#handler;
    for (let i = 0; i < waiting.length; i += 4) {
      const resolve = waiting[i + 1] as (answer: Promise<PluginResponse>) => void;
      const context = waiting[i + 3] as AsyncResource;
      try {
        resolve(context.runInAsyncScope(handler.handle, handler, waiting[i] as GatewayRequest));
      } catch (error) {
        (waiting[i + 2] as (error: unknown) => void)(error);
      }
    }
  }
}
