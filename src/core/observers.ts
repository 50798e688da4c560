/**
 * Observers of the request path: `onRequest` / `onResponse` / `onError` listeners and the
 * `node:diagnostics_channel` channels. Nothing is built for an observer that is not there: each
 * request checks one boolean per kind.
 * @module
 */
import diagnostics from 'node:diagnostics_channel';
import type { TaskFailure } from '../shared/task-failure.js';

/** A request routed to a plugin, before its mesh policies. */
export interface RequestObservation {
  /** The request's id: the caller's, or the one the gateway assigned. */
  requestId: string;
  /** Name of the plugin the request is routed to. */
  plugin: string;
  /** Upper-case HTTP method. */
  method: string;
  /** Path without the query string. */
  path: string;
  /**
   * The caller, as the host or its `authenticate` hook decided; `null` or `undefined` when anonymous.
   */
  userId: number | string | null | undefined;
}

/** A request answered by (or on behalf of) a plugin. */
export interface ResponseObservation extends RequestObservation {
  /** Status of the answer: the plugin's, or the gateway's own (401, 429, 503, 504, …). */
  statusCode: number;
  /** Time from the gateway receiving the request to the answer, ms (fractional). */
  durationMs: number;
}

/** A plugin failed a request: it threw, crashed, timed out or answered badly. */
export interface ErrorObservation extends RequestObservation {
  /**
   * `threw`, `crash`, `timeout`, `terminated`, `bad-response`, `no-route`, `init`, `overloaded`,
   * `unreachable`.
   */
  kind: TaskFailure['__pgw'];
  /** The plugin's own message (for operators, never sent to the caller). */
  message: string;
}

/** Stop listening. */
export interface Disposable {
  /** Removes the listener; calling it again does nothing. */
  dispose(): void;
}

/** Channel names, for `diagnostics_channel.subscribe()`. */
export const channels = {
  request: 'plugin-gateway:request:start',
  response: 'plugin-gateway:request:end',
  error: 'plugin-gateway:request:error',
} as const;

const requestChannel = diagnostics.channel(channels.request);
const responseChannel = diagnostics.channel(channels.response);
const errorChannel = diagnostics.channel(channels.error);

class Listeners<T> {
  readonly #set = new Set<(value: T) => void>();
  add(listener: (value: T) => void): Disposable {
    this.#set.add(listener);
    return { dispose: () => void this.#set.delete(listener) };
  }
  get any(): boolean {
    return this.#set.size > 0;
  }
  emit(value: T): void {
    for (const listener of this.#set) {
      try {
        listener(value);
      } catch {
        // An observer's fault must not change the request's outcome.
      }
    }
  }
}

export class Observers {
  readonly request = new Listeners<RequestObservation>();
  readonly response = new Listeners<ResponseObservation>();
  readonly error = new Listeners<ErrorObservation>();

  /** Whether anyone observes requests at all; when false the request path builds nothing. */
  get active(): boolean {
    return (
      this.request.any ||
      this.response.any ||
      this.error.any ||
      requestChannel.hasSubscribers ||
      responseChannel.hasSubscribers ||
      errorChannel.hasSubscribers
    );
  }

  started(o: RequestObservation): void {
    this.request.emit(o);
    if (requestChannel.hasSubscribers) requestChannel.publish(o);
  }

  ended(o: ResponseObservation, failure: TaskFailure | undefined): void {
    this.response.emit(o);
    if (responseChannel.hasSubscribers) responseChannel.publish(o);
    if (failure && (this.error.any || errorChannel.hasSubscribers)) {
      const e: ErrorObservation = { ...o, kind: failure.__pgw, message: failure.message };
      this.error.emit(e);
      if (errorChannel.hasSubscribers) errorChannel.publish(e);
    }
  }
}
