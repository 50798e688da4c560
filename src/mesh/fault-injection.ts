/**
 * Fault injection per plugin, after Envoy's fault filter: a share of requests is delayed before it enters
 * the plugin's mesh, and a share is answered at once with a chosen status instead of reaching the plugin.
 * Set with the `faults` option or `gateway.setFaults()`; a gateway with none pays one `size` check per
 * request.
 * @module
 */
import { z } from '../shared/zod.js';
import { ErrorCodes, ErrorStatus } from '../errors.js';
import { boundedDurationMs, HOUR_MS, invalidOptions } from '../shared/option-validation.js';
import { knownKeysLater } from '../shared/schema-keys.js';
import { errorResponse } from '../shared/responses.js';
import type { PluginResponse } from '../shared/types.js';
import { lazySchema } from '../shared/lazy-schema.js';

/** Faults injected into one plugin's requests. Delay comes first, then abort (as in Envoy). */
export interface FaultSpec {
  /** Holds `percentage` % of requests for `duration` (`"200ms"` or ms, at most 1h) before they enter the mesh. */
  delay?: { percentage: number; duration: string | number };
  /** Answers `percentage` % of requests with `status` (400–599, `PGW_ERR_FAULT_INJECTED`); the plugin never sees them. */
  abort?: { percentage: number; status: number };
}

const percentage = lazySchema(() => z.number().min(0).max(100));

/** The zod schema of one plugin's {@link FaultSpec}. */
export const faultSpecSchema = lazySchema(() =>
  z.strictObject({
    delay: z
      .strictObject({
        percentage,
        duration: z
          .union([z.string(), z.number()], {
            error: 'a duration like "200ms" or a number of milliseconds, at most 1h',
          })
          .pipe(boundedDurationMs(HOUR_MS, '1h')),
      })
      .optional(),
    abort: z.strictObject({ percentage, status: z.number().int().min(400).max(599) }).optional(),
  }),
);

/** A {@link FaultSpec} after validation: the delay in ms, percentages as fractions of 1. */
export interface ResolvedFault {
  delayShare: number;
  delayMs: number;
  abortShare: number;
  abortStatus: number;
}

const SPEC_KEYS = knownKeysLater(faultSpecSchema);

/**
 * Validates one plugin's faults.
 * @throws {InvalidArgumentError} naming the field, what was expected and what was given.
 */
export function resolveFault(spec: unknown, prefix: string): ResolvedFault {
  const parsed = faultSpecSchema.safeParse(spec, { reportInput: true });
  if (!parsed.success) throw invalidOptions(parsed.error, prefix, SPEC_KEYS());
  return faultOf(parsed.data);
}

/** A validated spec (the `faults` option's output) as the injector holds it. */
export function faultOf(spec: z.output<typeof faultSpecSchema>): ResolvedFault {
  const { delay, abort } = spec;
  return {
    delayShare: (delay?.percentage ?? 0) / 100,
    delayMs: delay?.duration ?? 0,
    abortShare: (abort?.percentage ?? 0) / 100,
    abortStatus: abort?.status ?? 503,
  };
}

/** What a request drew: how long to hold it, and whether to answer it in the plugin's place. */
export interface FaultDraw {
  delayMs: number;
  abort: boolean;
}

const NONE: FaultDraw = Object.freeze({ delayMs: 0, abort: false });

/** The faults of every plugin that has some, by plugin name. */
export class FaultInjector {
  readonly #faults = new Map<string, ResolvedFault>();
  /** Requests being delayed now, each with the means to let it go at once. */
  readonly #held = new Map<NodeJS.Timeout, () => void>();

  constructor(
    initial: Readonly<Record<string, ResolvedFault>> = {},
    private readonly random: () => number = Math.random,
  ) {
    for (const [name, fault] of Object.entries(initial)) this.#faults.set(name, fault);
  }

  /** Plugins with faults: `0` means the request path skips injection altogether. */
  get size(): number {
    return this.#faults.size;
  }

  /** Replaces the faults of plugin `name`; `undefined` removes them. */
  set(name: string, fault: ResolvedFault | undefined): void {
    if (fault === undefined || (fault.delayShare === 0 && fault.abortShare === 0)) {
      this.#faults.delete(name);
    } else {
      this.#faults.set(name, fault);
    }
  }

  /** The faults of `name`, if any. */
  get(name: string): ResolvedFault | undefined {
    return this.#faults.get(name);
  }

  /** Draws the faults of one request to plugin `name`. */
  draw(name: string): FaultDraw {
    const fault = this.#faults.get(name);
    if (fault === undefined) return NONE;
    const delayMs = fault.delayShare > this.random() ? fault.delayMs : 0;
    const abort = fault.abortShare > this.random();
    return delayMs === 0 && !abort ? NONE : { delayMs, abort };
  }

  /** Resolves after `ms`, or at once when {@link FaultInjector.releaseAll} is called first. */
  hold(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#held.delete(timer);
        resolve();
      }, ms);
      this.#held.set(timer, resolve);
    });
  }

  /** Ends every delay now: the gateway stops, its delayed requests drain like those in flight, no timer is left. */
  releaseAll(): void {
    for (const [timer, resolve] of this.#held) {
      clearTimeout(timer);
      resolve();
    }
    this.#held.clear();
  }

  /** The answer to a request the draw aborted. */
  aborted(name: string, requestId: string): PluginResponse {
    const status = this.#faults.get(name)?.abortStatus ?? ErrorStatus[ErrorCodes.FAULT_INJECTED];
    const message = `fault injected: request to plugin "${name}" aborted with ${status}`;
    // The one code whose status is the host's to choose: a fault stands in for any failure.
    return { ...errorResponse(ErrorCodes.FAULT_INJECTED, message, requestId), statusCode: status };
  }
}

/** The `faults` gateway option: `{ [plugin]: FaultSpec }`. */
export const faultsOptionSchema = lazySchema(() => z.record(z.string().min(1), faultSpecSchema));
