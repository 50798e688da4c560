/**
 * Debian's `chromium` driven by `playwright-core`, for the dashboard tests. Without the binary the
 * tests are skipped with the reason printed, unless `PGW_REQUIRE_SERVICES` is set (then it is an error).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.PGW_CHROMIUM ?? '/usr/bin/chromium';

export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.PGW_REQUIRE_SERVICES) {
    throw new Error(
      `${CHROMIUM} is required (PGW_REQUIRE_SERVICES is set): apt-get install chromium`,
    );
  }
  console.warn(
    `skipping the dashboard browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`,
  );
  return false;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}
