import { describe, expect, it } from 'vitest';
import { findCgroupBases } from './cgroup-mounts.js';

const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;
const HYBRID_OWN = `8:pids:/
4:memory:/process_api/b60f
1:cpu:/
0::/`;
const UNIFIED = `30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate`;
const UNIFIED_OWN = `0::/system.slice/host.service`;

describe('findCgroupBases', () => {
  it('takes v2 when its hierarchy offers cpu, memory and pids, under the own group', () => {
    expect(findCgroupBases(UNIFIED, UNIFIED_OWN, () => 'cpuset cpu io memory pids')).toEqual({
      version: 'v2',
      base: '/sys/fs/cgroup/system.slice/host.service',
    });
  });

  it('falls back to the v1 hierarchies when the v2 mount holds no controller (hybrid hosts)', () => {
    expect(findCgroupBases(HYBRID, HYBRID_OWN, () => '')).toEqual({
      version: 'v1',
      bases: {
        cpu: '/sys/fs/cgroup/cpu/',
        memory: '/sys/fs/cgroup/memory/process_api/b60f',
        pids: '/sys/fs/cgroup/pids/',
      },
    });
  });

  it('finds a controller mounted together with another (cpu,cpuacct)', () => {
    const mounts = HYBRID.replace('rw,cpu\n', 'rw,cpu,cpuacct\n');
    const own = HYBRID_OWN.replace('1:cpu:/', '1:cpu,cpuacct:/pgw');
    expect(findCgroupBases(mounts, own, () => '')).toMatchObject({
      version: 'v1',
      bases: { cpu: '/sys/fs/cgroup/cpu/pgw' },
    });
  });

  it('says why there is none: no /proc, or no controller mounted', () => {
    expect(findCgroupBases('', '')).toMatchObject({ version: 'none' });
    expect(findCgroupBases(UNIFIED, UNIFIED_OWN, () => 'io')).toEqual({
      version: 'none',
      reason: 'no cgroup hierarchy offers the cpu, memory or pids controller',
    });
  });
});
