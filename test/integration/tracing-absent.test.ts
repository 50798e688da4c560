import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('serves as usual where @opentelemetry/api is not installed: no span, no ctx.trace', async () => {
  const dir = path.join(import.meta.dirname, '../tracing');
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      path.join(dir, 'hide-otel.mjs'),
      path.join(dir, 'without-otel.ts'),
    ],
    { timeout: 60_000 },
  );
  const outcome = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  expect(outcome).toEqual({ otel: 'absent', statusCode: 200, body: { trace: null } });
});
