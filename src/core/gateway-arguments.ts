/**
 * The gateway's checks of what its caller passes, in p-queue's message format.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { DomainEvent } from '../shared/types.js';

/** @throws {InvalidArgumentError} unless `name` is a non-empty string. */
export function assertPluginName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '') {
    throw new InvalidArgumentError(
      `Expected \`name\` to be a plugin name, got \`${String(name)}\` (${typeof name})`,
    );
  }
}

/** @throws {InvalidArgumentError} unless the event has a non-empty `type`. */
export function assertEventType(event: DomainEvent | undefined): void {
  if (typeof event?.type !== 'string' || event.type === '') {
    throw new InvalidArgumentError(
      `Expected \`event.type\` to be a non-empty string, got \`${String(event?.type)}\``,
    );
  }
}
