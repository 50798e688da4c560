#!/usr/bin/env node
/**
 * The `veza` command's entry (the package's `bin`). `veza --version` is answered here, before the
 * command's modules (and the gateway's core under them) are loaded: it is what scripts and shells run
 * most often, and loading the rest took it from ~50 ms to over half a second.
 * @module
 */
import { packageVersion } from './package-version.js';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '-v' || argv[0] === '--version')) {
  process.stdout.write(`${packageVersion()}\n`);
} else {
  const { run } = await import('./main.js');
  process.exitCode = await run(argv);
}
