/**
 * The part of a Consul agent's HTTP API that `ConsulRegistry` uses, through undici: calls that throw
 * `RegistryError`, reads that return the `X-Consul-Index`, and loops of blocking queries.
 * @module
 */
import { request, type Dispatcher } from 'undici';
import { RegistryError } from '../errors.js';
import type { Unsubscribe, WatchStatus } from './registry.js';

export interface KvPair {
  Key: string;
  Value: string | null;
  ModifyIndex: number;
}

/** A blocking query's answer. */
export interface Blocking<T> {
  index: number;
  body: T;
}

export class ConsulHttp {
  readonly #aborts = new Set<AbortController>();

  constructor(
    readonly base: string,
    readonly headers: Record<string, string>,
    /** How long a blocking query waits for a change. */
    readonly waitMs: number,
    /** An agent of its own when the registry brings TLS material (a private CA, a client certificate). */
    readonly dispatcher?: Dispatcher,
  ) {}

  /** Closes the connections of an agent of its own, once the last call has been made. */
  async release(): Promise<void> {
    await this.dispatcher?.close();
  }

  /** Stops every blocking loop. */
  close(): void {
    for (const abort of this.#aborts) abort.abort();
    this.#aborts.clear();
  }

  /**
   * Asks `fetch` with the last index until the registry closes: the first answer at once, then each
   * change. After a failed query it reports the error once, retries every second, and when the store
   * answers again reports the state and `onReconnected`.
   */
  blockingLoop<T>(
    fetch: (index: number, signal: AbortSignal) => Promise<Blocking<T>>,
    store: (answer: Blocking<T>) => void,
    changed: () => void,
    status: WatchStatus | undefined,
    index: () => number,
  ): Unsubscribe {
    const abort = new AbortController();
    this.#aborts.add(abort);
    const run = async (): Promise<void> => {
      let failing = false;
      while (!abort.signal.aborted) {
        try {
          const answer = await fetch(index(), abort.signal);
          // Consul resets an index that goes backwards (e.g. a restored snapshot): start again from 0.
          if (answer.index < index()) store({ ...answer, index: 0 });
          else store(answer);
          changed();
          if (failing) {
            failing = false;
            status?.onReconnected?.();
          }
        } catch (error) {
          if (abort.signal.aborted) return;
          if (!failing) {
            failing = true;
            status?.onError?.(
              error instanceof RegistryError
                ? error
                : new RegistryError('Consul blocking query failed', { cause: error }),
            );
          }
          await new Promise((resolve) => setTimeout(resolve, 1000).unref());
        }
      }
    };
    void run();
    return () => {
      abort.abort();
      this.#aborts.delete(abort);
    };
  }

  async kv(prefix: string, index = 0, signal?: AbortSignal): Promise<Blocking<KvPair[]>> {
    return this.get<KvPair[]>(`/v1/kv/${prefix}?recurse=true`, index, signal, []);
  }

  async get<T>(path: string, index = 0, signal?: AbortSignal, notFound?: T): Promise<Blocking<T>> {
    const blocking =
      index > 0
        ? `${path.includes('?') ? '&' : '?'}index=${index}&wait=${Math.ceil(this.waitMs / 1000)}s`
        : '';
    const res = await this.#send(
      'GET',
      path + blocking,
      undefined,
      signal,
      index > 0 ? this.waitMs + 5000 : 10_000,
    );
    const consulIndex = Number(res.headers['x-consul-index'] ?? 0);
    if (res.statusCode === 404 && notFound !== undefined) {
      await res.body.dump();
      return { index: consulIndex, body: notFound };
    }
    if (res.statusCode !== 200) throw await this.#failure('GET', path, res);
    return { index: consulIndex, body: (await res.body.json()) as T };
  }

  async call(method: 'PUT' | 'DELETE', path: string, body?: string): Promise<void> {
    const res = await this.#send(method, path, body, undefined, 10_000);
    if (res.statusCode !== 200) throw await this.#failure(method, path, res);
    await res.body.dump();
  }

  async #send(
    method: 'GET' | 'PUT' | 'DELETE',
    path: string,
    body: string | undefined,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ) {
    try {
      return await request(this.base + path, {
        method,
        body,
        headers: this.headers,
        signal,
        ...(this.dispatcher && { dispatcher: this.dispatcher }),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      throw new RegistryError(
        `Consul: ${method} ${path.split('?')[0]} failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  async #failure(
    method: string,
    path: string,
    res: { statusCode: number; body: { text(): Promise<string> } },
  ): Promise<RegistryError> {
    const text = (await res.body.text()).trim();
    return new RegistryError(
      `Consul: ${method} ${path.split('?')[0]} answered ${res.statusCode}${text ? `: ${text}` : ''}`,
    );
  }
}
