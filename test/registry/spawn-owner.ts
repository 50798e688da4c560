import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** Starts test/registry/owner.ts with `env`; resolves once it has registered its instance. */
export async function spawnOwner(env: Record<string, string>): Promise<ChildProcess> {
  const owner = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, 'owner.ts')],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise((resolve, reject) => {
    owner.stdout!.once('data', resolve);
    owner.once('exit', (code) => reject(new Error(`owner exited with ${code}`)));
  });
  return owner;
}
