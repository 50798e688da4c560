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
    expect(stdout).toContain('Stopped:');
  });
});
