/**
 * The CPU time and memory of this process's descendants, read from `/proc` (Linux): what a plugin
 * process tree (bash → bwrap → bwrap → the plugin) costs, apart from the host.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;

export interface DescendantUsage {
  /** User + system CPU time of every descendant, ms. */
  cpuMs: number;
  /** Resident memory of the deepest descendant (a plugin program under bwrap's two processes), bytes. */
  leafRssBytes: number;
  /** Context switches of the deepest descendant's threads (voluntary and not): its thread wake-ups. */
  leafSwitches: number;
  /** The deepest descendant's read and write system calls and bytes (`/proc/PID/io`). */
  leafIo: IoCounts;
  /** Of `leafSwitches`, the voluntary ones (the program waited for input). */
  leafVoluntary: number;
}

/** Read and write system calls of a process (all its threads) and the bytes they moved. */
export interface IoCounts {
  syscr: number;
  syscw: number;
  rchar: number;
  wchar: number;
}

/** `/proc/PID/io` of a process (zeros when it is gone or not readable). */
export function ioOf(pid: number | 'self'): IoCounts {
  const io: IoCounts = { syscr: 0, syscw: 0, rchar: 0, wchar: 0 };
  try {
    for (const m of readFileSync(`/proc/${pid}/io`, 'latin1').matchAll(
      /^(syscr|syscw|rchar|wchar):\s+(\d+)$/gm,
    ))
      io[m[1] as keyof IoCounts] = Number(m[2]);
  } catch {
    // Gone meanwhile.
  }
  return io;
}

/** Context switches of a process's threads, voluntary (it waited) and not (it was preempted). */
export function switchCountsOf(pid: number | 'self'): { voluntary: number; involuntary: number } {
  const counts = { voluntary: 0, involuntary: 0 };
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1');
      for (const m of status.matchAll(/^(non)?voluntary_ctxt_switches:\s+(\d+)$/gm))
        counts[m[1] ? 'involuntary' : 'voluntary'] += Number(m[2]);
    }
  } catch {
    // Gone meanwhile.
  }
  return counts;
}

function switchesOf(pid: number): number {
  const { voluntary, involuntary } = switchCountsOf(pid);
  return voluntary + involuntary;
}

function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim();
    return text ? text.split(' ').map(Number) : [];
  } catch {
    return [];
  }
}

export function descendants(root = process.pid): DescendantUsage {
  const usage: DescendantUsage = {
    cpuMs: 0,
    leafRssBytes: 0,
    leafSwitches: 0,
    leafIo: ioOf(-1),
    leafVoluntary: 0,
  };
  let deepest = -1;
  const walk = (pid: number, depth: number) => {
    for (const child of childrenOf(pid)) {
      try {
        const stat = readFileSync(`/proc/${child}/stat`, 'latin1');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        usage.cpuMs += ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
        if (depth > deepest) {
          deepest = depth;
          const statm = readFileSync(`/proc/${child}/statm`, 'latin1').split(' ');
          usage.leafRssBytes = Number(statm[1]) * PAGE_BYTES;
          usage.leafSwitches = switchesOf(child);
          usage.leafVoluntary = switchCountsOf(child).voluntary;
          usage.leafIo = ioOf(child);
        }
      } catch {
        continue;
      }
      walk(child, depth + 1);
    }
  };
  walk(root, 0);
  return usage;
}
