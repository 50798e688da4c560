/**
 * `VersionFloor`: per environment and plugin name, the newest version a gateway's catalog watch ever
 * ran. The watch never moves a plugin below it, so deleting the newest entry and re-putting an older
 * signed one does not downgrade a gateway (The Update Framework's rollback protection). It holds only
 * while the gateway remembers: with `watch.floorFile` it is kept in that file across restarts.
 * @module
 */
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { semver } from '../shared/semver.js';
import { z } from '../shared/zod.js';
import { InvalidArgumentError } from '../errors.js';
import { lazySchema } from '../shared/lazy-schema.js';

/** Names and environments are checked where they are stored; versions here are semver, bounded. */
const floorsSchema = lazySchema(() =>
  z.strictObject({
    version: z.literal(1),
    floors: z.record(
      z.string().regex(/^[a-z0-9][a-z0-9._-]{0,255}$/i),
      z.record(
        z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/),
        z
          .string()
          .max(256)
          .refine((v) => semver.valid(v) !== null, { error: 'expected a semver version' }),
      ),
    ),
  }),
);

export class VersionFloor {
  readonly #floors: Record<string, Record<string, string>> = {};
  readonly #file: string | undefined;
  /** Writes one after the other, each with everything known when it starts. */
  #writing: Promise<void> = Promise.resolve();

  /**
   * Reads `file` when given (a missing file is an empty floor).
   * @throws {InvalidArgumentError} when the file is not a floor file, naming the file and the field.
   */
  constructor(file?: string) {
    this.#file = file;
    if (file === undefined) return;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new InvalidArgumentError(`watch.floorFile ${file}: ${(error as Error).message}`);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new InvalidArgumentError(
        `watch.floorFile ${file}: not JSON (${(error as Error).message}); fix or remove it`,
      );
    }
    const parsed = floorsSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InvalidArgumentError(
        `watch.floorFile ${file}: ${issue.path.join('.') || '(file)'}: ${issue.message}; fix or remove it`,
      );
    }
    Object.assign(this.#floors, parsed.data.floors);
  }

  /** The lowest version of `name` the watch of `env` may move to, if it ran any. */
  of(env: string, name: string): string | undefined {
    return Object.hasOwn(this.#floors, env) && Object.hasOwn(this.#floors[env]!, name)
      ? this.#floors[env]![name]
      : undefined;
  }

  /** Whether `version` is at or above the floor of `name` in `env`. */
  allows(env: string, name: string, version: string): boolean {
    const floor = this.of(env, name);
    return floor === undefined || semver.gte(version, floor);
  }

  /** `version` of `name` ran in `env`: the floor rises to it (and is written) when it is newer. */
  raise(env: string, name: string, version: string): Promise<void> {
    if (!this.allows(env, name, version) || this.of(env, name) === version) return this.#writing;
    const floors = Object.hasOwn(this.#floors, env) ? this.#floors[env]! : {};
    this.#floors[env] = { ...floors, [name]: version };
    if (this.#file === undefined) return this.#writing;
    const file = this.#file;
    // A failed write is reported to its caller; the next one writes everything again.
    this.#writing = this.#writing
      .catch(() => {})
      .then(async () => {
        // Whole or not at all: a crash mid-write leaves the previous file, never half of one.
        const temp = `${file}.${process.pid}.tmp`;
        await writeFile(
          temp,
          `${JSON.stringify({ version: 1, floors: this.#floors }, null, 2)}\n`,
          {
            mode: 0o600,
          },
        );
        await rename(temp, file);
      });
    return this.#writing;
  }
}
