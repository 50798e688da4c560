/**
 * Where this host lets the gateway make control groups for its plugin processes: the cgroup v2
 * hierarchy when it holds the `cpu`, `memory` and `pids` controllers (systemd hosts), else the v1
 * hierarchies that hold them (one per controller). Each base is the host process's own cgroup in that
 * hierarchy, so that plugin groups sit below whatever limits the host itself runs under.
 * @module
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The three controllers a plugin process is limited by. */
export const CONTROLLERS = ['cpu', 'memory', 'pids'] as const;
export type Controller = (typeof CONTROLLERS)[number];

/** Where plugin groups are made: one v2 folder for all controllers, or one v1 folder each. */
export type CgroupBases =
  | { version: 'v2'; base: string }
  | { version: 'v1'; bases: Partial<Record<Controller, string>> }
  | { version: 'none'; reason: string };

interface Mount {
  point: string;
  type: string;
  options: string[];
}

/** Reads `/proc/self/mountinfo` and `/proc/self/cgroup` (passed in by tests as text). */
export function findCgroupBases(
  mountinfo = readOr('/proc/self/mountinfo'),
  ownGroups = readOr('/proc/self/cgroup'),
  controllersOf: (dir: string) => string = (dir) => readOr(path.join(dir, 'cgroup.controllers')),
): CgroupBases {
  if (!mountinfo || !ownGroups) return { version: 'none', reason: 'no /proc (not Linux)' };
  const mounts = parseMounts(mountinfo);
  const groups = parseOwnGroups(ownGroups);
  const v2 = mounts.find((m) => m.type === 'cgroup2');
  if (v2 && groups.has('')) {
    const base = path.join(v2.point, groups.get('')!);
    const offered = controllersOf(base).trim().split(/\s+/);
    if (CONTROLLERS.every((c) => offered.includes(c))) return { version: 'v2', base };
  }
  const bases: Partial<Record<Controller, string>> = {};
  for (const controller of CONTROLLERS) {
    const mount = mounts.find((m) => m.type === 'cgroup' && m.options.includes(controller));
    const own = [...groups].find(([names]) => names.split(',').includes(controller));
    if (mount && own) bases[controller] = path.join(mount.point, own[1]);
  }
  if (Object.keys(bases).length > 0) return { version: 'v1', bases };
  return {
    version: 'none',
    reason: 'no cgroup hierarchy offers the cpu, memory or pids controller',
  };
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Mount point, filesystem type and super options of each line (`man 5 proc`, mountinfo). */
function parseMounts(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const point = left.split(' ')[4];
    const [type, , superOptions] = right.split(' ');
    if (!point || !type) continue;
    mounts.push({
      point: point.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))),
      type,
      options: (superOptions ?? '').split(','),
    });
  }
  return mounts;
}

/** `hierarchy-id:controllers:path` lines: controllers (empty for v2) → this process's group. */
function parseOwnGroups(text: string): Map<string, string> {
  const groups = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\d+:([^:]*):(\/.*)$/.exec(line);
    if (match) groups.set(match[1]!, match[2]!);
  }
  return groups;
}
