/**
 * `within(work, ms)`: whether a promise settled, either way, before a deadline; the timer is cleared
 * as soon as it did.
 * @module
 */

/** Whether `work` settled (either way) within `ms`. */
export async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(r, Math.max(0, ms), false)));
  const settled = work.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
