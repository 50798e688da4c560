/**
 * Debian's `chromium` driven by `playwright-core`, for the dashboard tests. Without a chromium that
 * runs (a snap stub in its place does not) the tests are skipped with the reason printed, unless
 * `PGW_REQUIRE_SERVICES` is set (then it is an error).
 */
import { chromium, type Browser } from 'playwright-core';
import { runs, usable } from './services/toolchains.js';

export const CHROMIUM = process.env.PGW_CHROMIUM ?? '/usr/bin/chromium';

export function browserAvailable(): boolean {
  return usable(
    'the dashboard browser tests',
    runs(CHROMIUM, ['--version']),
    'apt-get install chromium, or PGW_CHROMIUM=/path/to/chrome',
  );
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}
