/**
 * The host's two readings of a plugin process's memory against `resources.memory`: the resident size
 * of its process tree (read from `/proc`, with Node's own base allowed), and the heap and outside-heap
 * bytes the harness reports. Either over its limit ends the process, with the reason these give.
 * @module
 */
import { NODE_BASE_RSS_MIB } from './process-launch.js';
import { MAX_PROCESSES, treeUsage, type TreeUsage } from './process-tree.js';
import type { Child } from './process-child.js';

const mib = (n: number) => Math.round(n / 1048576);

/** How often the harness reports its heap, ms. */
export const MEMORY_REPORT_MS = 1000;
/** How often the host reads the process tree's resident memory from `/proc`, ms. */
export const RSS_POLL_MS = 100;

/**
 * Why a resident size is over the limit, or undefined. `baseMib` is what the runtime itself is allowed
 * on top of `resources.memory`: Node's base for the Node harness, nothing for a native program.
 */
export function residentOver(
  rssBytes: number,
  memoryMb: number,
  baseMib: number = NODE_BASE_RSS_MIB,
): string | undefined {
  if (rssBytes <= (memoryMb + baseMib) * 1024 * 1024) return undefined;
  const base = baseMib > 0 ? ` + ${baseMib} MiB for Node itself` : '';
  return `memory: the plugin process holds ${mib(rssBytes)} MiB resident, over resources.memory (${memoryMb} MiB)${base}`;
}

/** Why a process tree is over its limits (too many processes, or too much resident), or undefined. */
export function treeOver(usage: TreeUsage, memoryMb: number, baseMib: number): string | undefined {
  if (usage.overgrown)
    return `processes: the plugin's process tree holds more than ${MAX_PROCESSES}`;
  return residentOver(usage.rssBytes, memoryMb, baseMib);
}

/** Why a reported heap is over the limit, or undefined. */
export function heapOver(used: number, external: number, memoryMb: number): string | undefined {
  const limit = memoryMb * 1024 * 1024;
  if (used + external <= limit) return undefined;
  return `memory: the plugin process holds ${mib(used)} MiB of heap and ${mib(external)} MiB outside it, over resources.memory (${mib(limit)} MiB)`;
}

/**
 * Reads `child`'s process tree into it (resident bytes, and the first CPU reading); why the tree is
 * over its limits, or undefined.
 */
export function watchTree(child: Child, memoryMb: number, baseMib: number): string | undefined {
  if (child.exited || child.proc.pid === undefined) return undefined;
  const usage = treeUsage(child.proc.pid);
  if (!usage) return undefined;
  child.rssBytes = usage.rssBytes;
  child.cpu ??= { ms: usage.cpuMs, at: performance.now() };
  return treeOver(usage, memoryMb, baseMib);
}
