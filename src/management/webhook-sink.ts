/**
 * `WebhookSink`: POSTs each alert change as JSON to one URL, in order, off the request path. Each POST
 * has a timeout and a bounded number of retries with backoff; the queue is bounded too (the oldest
 * notifications are dropped, and counted, when the receiver cannot keep up).
 * @module
 */
import { z } from '../shared/zod.js';
import { boundedDurationMs } from '../shared/option-validation.js';

/** Where and how to send alert notifications. */
export interface WebhookOptions {
  /** `http:` or `https:` URL that receives `POST` with a JSON body `{ status, alert }`. */
  url: string;
  /** Extra request headers (e.g. an `authorization` the receiver checks). @default {} */
  headers?: Record<string, string>;
  /** How long one POST may take (`"5s"` or ms, at most 1m). @default '5s' */
  timeout?: string | number;
  /** Attempts after the first when a POST fails or is answered 5xx/429 (at most 10). @default 3 */
  retries?: number;
  /** Notifications waiting at most; beyond it the oldest is dropped. @default 100 */
  maxQueued?: number;
}

export const webhookSchema = z.strictObject({
  url: z
    .string()
    .url()
    .refine((u) => /^https?:$/.test(new URL(u).protocol), 'an http: or https: URL'),
  headers: z.record(z.string(), z.string()).default({}),
  timeout: boundedDurationMs(60_000, '1m').default(5000),
  retries: z.number().int().min(0).max(10).default(3),
  maxQueued: z.number().int().positive().max(10_000).default(100),
});

/** A webhook after validation. */
export type ResolvedWebhook = z.output<typeof webhookSchema>;

/** A notification the receiver did not take after every retry. */
export interface WebhookFailure {
  /** The webhook's URL. */
  url: string;
  /** The last attempt's error or status. */
  reason: string;
}

const BACKOFF_MS = 100;

export class WebhookSink {
  readonly #queue: string[] = [];
  #sending = false;
  #closed = false;
  /** Notifications dropped because the queue was full. */
  dropped = 0;
  /** The POST in flight, for close(). */
  #current: AbortController | undefined;
  /** The backoff in progress, for close(). */
  #wake: (() => void) | undefined;

  constructor(
    readonly options: ResolvedWebhook,
    private readonly failed: (failure: WebhookFailure) => void,
  ) {}

  /** Queues `payload` (sent as JSON); returns at once. */
  send(payload: unknown): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.options.maxQueued) {
      this.#queue.shift();
      this.dropped++;
    }
    this.#queue.push(JSON.stringify(payload));
    if (!this.#sending) void this.#drain();
  }

  /** Stops sending: what is queued is dropped, a POST in flight is aborted. */
  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
    this.#current?.abort();
    this.#wake?.();
  }

  async #drain(): Promise<void> {
    this.#sending = true;
    while (!this.#closed && this.#queue.length > 0) {
      const body = this.#queue.shift()!;
      await this.#post(body);
    }
    this.#sending = false;
  }

  async #post(body: string): Promise<void> {
    let reason = '';
    for (let attempt = 0; attempt <= this.options.retries && !this.#closed; attempt++) {
      if (attempt > 0) await this.#backoff(BACKOFF_MS * 2 ** (attempt - 1));
      if (this.#closed) return;
      const controller = new AbortController();
      this.#current = controller;
      const timer = setTimeout(() => controller.abort(), this.options.timeout);
      try {
        const res = await fetch(this.options.url, {
          method: 'POST',
          headers: { ...this.options.headers, 'content-type': 'application/json' },
          body,
          redirect: 'manual',
          signal: controller.signal,
        });
        await res.body?.cancel();
        if (res.status < 300) return;
        reason = `answered ${res.status}`;
        if (res.status < 500 && res.status !== 429) break; // the receiver refuses it: retrying will not help
      } catch (error) {
        reason = controller.signal.aborted ? 'timed out' : (error as Error).message;
      } finally {
        clearTimeout(timer);
        this.#current = undefined;
      }
    }
    if (!this.#closed) this.failed({ url: this.options.url, reason });
  }

  #backoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => ((this.#wake = undefined), resolve()), ms);
      this.#wake = () => (clearTimeout(timer), resolve());
    });
  }
}
