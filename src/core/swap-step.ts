/**
 * The words of one swap: what kind of move it is, and the failure of a step that gives the new
 * version up.
 * @module
 */
import type { SwapFailureReason, SwapFigures } from '../errors.js';

/** What kind of move a swap is: a new version (and how long the old keeps its connections), or going back to a kept one. */
export type Move =
  { kind: 'swap'; drainMs: number } | { kind: 'manual' } | { kind: 'crash-loop'; message: string };

/** A step of the swap failed: the new version is given up. */
export class GiveUp extends Error {
  constructor(
    readonly reason: SwapFailureReason,
    message: string,
    readonly figures?: SwapFigures,
    readonly original?: unknown,
  ) {
    super(message);
  }
}
