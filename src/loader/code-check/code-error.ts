/**
 * The error every part of the code check throws, on the host's thread or in the check's own.
 * @module
 */
import { PluginCodeError, type CodeLocation } from '../../errors.js';

/** The problem found, as the error the gateway throws. */
export function codeError(
  plugin: string,
  location: CodeLocation | undefined,
  what: string,
  hint: string,
  cause?: unknown,
): PluginCodeError {
  const at = location ? `${location.file}:${location.line}:${location.column}: ` : '';
  return new PluginCodeError(`plugin "${plugin}" cannot load its code: ${at}${what} — ${hint}`, {
    plugin,
    location,
    hint,
    ...(cause !== undefined && { cause }),
  });
}
