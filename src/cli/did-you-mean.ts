/**
 * "Did you mean" for a misspelt key: the known key nearest to it (edit distance, case ignored), when
 * it is near enough to be a typo rather than another word.
 * @module
 */

/** Edit distance between `a` and `b` (insert, delete, substitute, swap two neighbours). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The key of `known` that `word` most likely misspells, or undefined. */
export function nearestKey(word: string, known: readonly string[]): string | undefined {
  // A key is a short identifier; a long unknown one is not compared (and costs nothing).
  if (word.length > 64) return undefined;
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const key of known) {
    const d = distance(lower, key.toLowerCase());
    if (d < bestDistance) {
      best = key;
      bestDistance = d;
    }
  }
  return best;
}

/** `unknown key "x"`, with `: did you mean "y"?` when one of `known` is near, else the list. */
export function unknownKeyMessage(word: string, known: readonly string[]): string {
  const near = nearestKey(word, known);
  if (near !== undefined) return `unknown key "${word}": did you mean "${near}"?`;
  return known.length > 0
    ? `unknown key "${word}" (known: ${known.join(', ')})`
    : `unknown key "${word}"`;
}
