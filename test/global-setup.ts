// @ts-expect-error -- a plain ES module script, shared with the npm scripts (no types needed)
import { ensureDist } from '../scripts/ensure-dist.mjs';

/**
 * Plugins import `@veza/plugin-gateway/sdk` as published, which resolves to `dist/`; rebuild it when the
 * sources are newer, so a test never runs a plugin against a stale SDK. The gateway itself runs from `src/`.
 */
export default function setup(): void {
  (ensureDist as () => void)();
}
