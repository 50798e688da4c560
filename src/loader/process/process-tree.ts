/**
 * A plugin process's memory and CPU as the kernel counts them, read from `/proc` on the host: the child
 * reports its own figures too, but it runs code the host does not trust. Under bwrap the child is
 * bwrap, whose sandbox init runs node: the whole tree is counted.
 * @module
 */
import { readFileSync } from 'node:fs';

/** Resident memory (bytes) and CPU time (ms) of a process and its descendants; undefined once it is gone. */
export interface TreeUsage {
  rssBytes: number;
  cpuMs: number;
  /** More processes than a plugin may have: the tree was not walked to its end. */
  overgrown: boolean;
}

const PAGE_BYTES = 4096;
/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on Linux). */
const TICKS_PER_SECOND = 100;
/** A tree deeper or wider than this is not a plugin process (it may not start processes). */
export const MAX_PROCESSES = 16;

/** The usage of `pid` and its descendants, or undefined when `/proc` does not show it (gone, or not Linux). */
export function treeUsage(pid: number): TreeUsage | undefined {
  const usage: TreeUsage = { rssBytes: 0, cpuMs: 0, overgrown: false };
  const queue = [pid];
  let seen = 0;
  while (queue.length > 0 && seen++ < MAX_PROCESSES) {
    const p = queue.shift()!;
    try {
      const statm = readFileSync(`/proc/${p}/statm`, 'latin1').split(' ');
      usage.rssBytes += Number(statm[1]) * PAGE_BYTES;
      const stat = readFileSync(`/proc/${p}/stat`, 'latin1');
      // Fields after the command name, which may hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      usage.cpuMs += ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
      const children = readFileSync(`/proc/${p}/task/${p}/children`, 'latin1').trim();
      if (children) for (const c of children.split(' ')) queue.push(Number(c));
    } catch {
      if (p === pid) return undefined;
    }
  }
  usage.overgrown = queue.length > 0;
  return usage;
}

/**
 * The direct children of `pid` (`/proc/<pid>/task/<pid>/children`), or none when it cannot be read.
 */
export function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim();
    return text ? text.split(' ').map(Number) : [];
  } catch {
    return [];
  }
}
