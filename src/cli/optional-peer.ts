/**
 * Optional peers (etcd3, esbuild, …) are not installed with the package: a command loads the one it
 * needs when it runs, and says what to install when it is missing.
 * @module
 */
import { CliError, Exit } from './output.js';

/**
 * Runs `load` (a dynamic import that needs the optional peer `peer`); a missing `peer` becomes a
 * one-line CliError naming what `purpose` needs and the `npm install` that fixes it.
 */
export async function withOptionalPeer<T>(
  peer: string,
  purpose: string,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    // The library's own error for a peer it loads on use carries the resolver's as its cause.
    const missing = [error, (error as { cause?: unknown } | undefined)?.cause].some((e) => {
      const { code, message } = (e ?? {}) as { code?: string; message?: string };
      return (
        (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
        typeof message === 'string' &&
        message.includes(`'${peer}'`)
      );
    });
    if (!missing) throw error;
    throw new CliError(
      `${purpose} needs the optional package "${peer}", which is not installed: npm install ${peer}`,
      Exit.FAILED,
    );
  }
}
