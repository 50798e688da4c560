/**
 * CPU time of this process's threads, µs: the main thread's and all of them, from Linux's
 * `/proc/self/task/<tid>/schedstat` (nanoseconds on the CPU; Node 20 has no per-thread CPU clock).
 * Counting CPU per request holds on a loaded machine, where wall time does not. NaN elsewhere.
 */
import { readdirSync, readFileSync } from 'node:fs';

export function threadCpu(): { main: number; all: number } {
  let main = 0;
  let all = 0;
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return { main: NaN, all: NaN };
  }
  for (const tid of tids) {
    let ns: number;
    try {
      ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      continue; // the thread ended meanwhile
    }
    all += ns / 1000;
    if (Number(tid) === process.pid) main = ns / 1000;
  }
  return { main, all };
}

/** Voluntary context switches of every thread: how often threads went to sleep waiting. */
export function threadSleeps(): number {
  let sleeps = 0;
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const status = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
        sleeps += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
      } catch {
        // ended meanwhile
      }
    }
  } catch {
    return NaN;
  }
  return sleeps;
}
