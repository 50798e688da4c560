/**
 * The client address that anonymous rate limits count by: the socket's peer, or, behind proxies the
 * host says it runs, the address that many hops back in `x-forwarded-for`.
 * @module
 */

/**
 * The address `trustProxy` hops back: `peer` when 0; the leftmost entries of `x-forwarded-for` are the
 * client's own writing and are never believed past the number of trusted hops.
 */
export function clientAddress(
  peer: string | undefined,
  forwarded: string | string[] | undefined,
  trustProxy: number,
): string | undefined {
  if (trustProxy === 0 || forwarded === undefined) return peer;
  const chain = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded)
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  chain.push(peer ?? '');
  return chain[Math.max(0, chain.length - 1 - trustProxy)] || undefined;
}
