import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

describe('examples', () => {
  it('npm run demo serves the scripted requests and exits on its own after stop()', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'examples/demo.ts')],
      { cwd: root, timeout: 60_000 },
    );
    expect(stdout).toContain('ai-recommendations@1.0.0: active');
    expect(stdout).toMatch(/← 200 \{"userId":456,"model":"tag-similarity","items":\[/);
    expect(stdout).toContain('← 403 {"error":{"code":"PGW_ERR_FORBIDDEN"');
    expect(stdout).toMatch(/← 200 \[\{"rank":1,"userId":457,"points":14/);
    expect(stdout).toContain('← 401 {"error":{"code":"PGW_ERR_UNAUTHORIZED"');
    expect(stdout).toMatch(/gamification\s+2\s+0/);
    expect(stdout).toContain('active_connections: 2');
    expect(stdout).toMatch(/id: 1 \| event: recommendation \| data: \{"id":/);
    expect(stdout).toContain('grace ← {"type":"edit","user":456');
    expect(stdout).toContain('Stopped:');
  });

  it('npm run demo:fleet forwards from one gateway to the other, then stops routing when it leaves', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'examples/fleet.ts')],
      { cwd: root, timeout: 60_000 },
    );
    expect(stdout).toMatch(
      /GET gw-a \/gamification\/users\/456\/profile → 200 \{"userId":456,"points":7/,
    );
    expect(stdout).toMatch(
      /GET gw-b \/gamification\/users\/456\/profile → 200 \{"userId":456,"points":7/,
    );
    expect(stdout).toContain('GET gw-b /gamification/leaderboard → 404');
    expect(stdout).toContain('Stopped.');
  });
});
