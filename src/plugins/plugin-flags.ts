/**
 * A plugin's feature flags while it runs: the manifest's defaults, the host's overrides, changes made
 * with `setFlag()`, rollout rules (users, percentage) and, when the host passes one, an OpenFeature
 * client or provider asked per request. Static values cost a request nothing; only a plugin with a rule,
 * or a gateway with an OpenFeature source, evaluates its flags per request.
 * @module
 */
import { FlagNotDeclaredError, InvalidArgumentError } from '../errors.js';
import type { Manifest } from '../manifest/manifest.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { FlagRule, PluginRequest } from '../shared/types.js';

export type { FlagRule } from '../shared/types.js';

/** The part of an OpenFeature `Client` (`OpenFeature.getClient()`) the gateway uses. */
export interface OpenFeatureClientLike {
  /** Resolves the flag for `context`; an OpenFeature client never rejects (it answers `defaultValue`). */
  getBooleanValue(
    flagKey: string,
    defaultValue: boolean,
    context?: Record<string, string>,
  ): Promise<boolean>;
}

/** The part of an OpenFeature `Provider` (e.g. `InMemoryProvider`) the gateway uses, when passed directly. */
export interface OpenFeatureProviderLike {
  /** Resolves the flag for `context`. */
  resolveBooleanEvaluation(
    flagKey: string,
    defaultValue: boolean,
    context: Record<string, string>,
    logger: unknown,
  ): Promise<{ value: boolean }> | { value: boolean };
}

/** Where per-request flag values come from, besides the gateway's own rules. */
export type FlagSource = OpenFeatureClientLike | OpenFeatureProviderLike;

/** Longest wait for an OpenFeature answer before a request goes on with the gateway's own values. */
export const OPENFEATURE_WAIT_MS = 250;

const SILENT = { error() {}, warn() {}, info() {}, debug() {} };

/** The flag values one request sees. */
export type FlagValues = Readonly<Record<string, boolean>>;

/** What flag evaluation needs to know of a request. */
type RequestView = Pick<PluginRequest, 'id' | 'userId' | 'method' | 'path'>;

/**
 * FNV-1a (32 bits) of `plugin/flag/user`, into 10,000 buckets: the same user always lands in the same
 * bucket of a flag, and buckets of different flags are independent.
 */
export function rolloutBucket(plugin: string, flag: string, user: string): number {
  let h = 0x811c9dc5;
  const key = `${plugin}\u0000${flag}\u0000${user}`;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // A final avalanche (murmur3's) so that keys differing in their last characters spread evenly.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % 10_000;
}

interface CompiledRule {
  value: boolean;
  /** Buckets below this are in: `percentage × 100`. */
  cut: number;
  users: ReadonlySet<string>;
  rule: FlagRule;
}

/** One plugin's flags. */
export class PluginFlags {
  readonly names: readonly string[];
  #values: FlagValues;
  readonly #rules = new Map<string, CompiledRule>();
  /** True when a request must evaluate flags: a rule is set, or an OpenFeature source is given. */
  targeted: boolean;

  constructor(
    readonly plugin: string,
    manifest: Manifest,
    overrides: Readonly<Record<string, boolean>>,
    log: GatewayLogger,
    /** The host's OpenFeature client or provider (`featureFlags.openFeature`). */
    readonly source?: FlagSource,
  ) {
    const values: Record<string, boolean> = {};
    for (const f of manifest.feature_flags) values[f.name] = f.default;
    for (const [flag, value] of Object.entries(overrides)) {
      if (!(flag in values)) {
        log.warn(
          { plugin_id: manifest.name, flag },
          'feature flag override for a flag the manifest does not declare',
        );
      }
      values[flag] = value;
    }
    this.names = manifest.feature_flags.map((f) => f.name);
    this.#values = Object.freeze(values);
    this.targeted = source !== undefined && this.names.length > 0;
  }

  /** The static values (no rule applied): what `ctx.flags` holds when nothing targets. */
  get values(): FlagValues {
    return this.#values;
  }

  /** The rules set with `setFlag(plugin, flag, { ... })`, by flag. */
  rules(): Record<string, FlagRule> {
    return Object.fromEntries([...this.#rules].map(([flag, r]) => [flag, r.rule]));
  }

  /**
   * Sets a flag to a value, or to a rollout rule.
   * @throws {FlagNotDeclaredError} for a flag the manifest does not declare.
   * @throws {InvalidArgumentError} for a value that is neither a boolean nor a valid rule.
   * @returns the flag's static value before the change.
   */
  set(flag: string, setting: boolean | FlagRule): boolean {
    if (typeof flag !== 'string' || !this.names.includes(flag)) {
      throw new FlagNotDeclaredError(
        `plugin "${this.plugin}" declares no feature flag "${String(flag)}" (feature_flags in plugin.yaml)`,
        { plugin: this.plugin },
      );
    }
    const compiled = typeof setting === 'boolean' ? undefined : compileRule(setting, flag);
    const previous = this.#values[flag]!;
    if (compiled) this.#rules.set(flag, compiled);
    else this.#rules.delete(flag);
    this.targeted = this.#rules.size > 0 || (this.source !== undefined && this.names.length > 0);
    this.#values = Object.freeze({
      ...this.#values,
      [flag]: compiled ? compiled.value : (setting as boolean),
    });
    return previous;
  }

  /**
   * The values one request sees: the static values, each rule applied for its user, then the OpenFeature
   * source asked with those as defaults. Synchronous without a source.
   */
  evaluate(request: RequestView): FlagValues | Promise<FlagValues> {
    const user =
      request.userId === undefined || request.userId === null ? undefined : String(request.userId);
    let values: Record<string, boolean> | undefined;
    for (const [flag, r] of this.#rules) {
      if (
        user !== undefined &&
        (r.users.has(user) || rolloutBucket(this.plugin, flag, user) < r.cut)
      ) {
        (values ??= { ...this.#values })[flag] = true;
      }
    }
    const base = values ?? this.#values;
    if (!this.source) return base;
    return this.#ask(this.source, base, request, user);
  }

  async #ask(
    source: FlagSource,
    base: FlagValues,
    request: RequestView,
    user: string | undefined,
  ): Promise<FlagValues> {
    const context: Record<string, string> = {
      plugin: this.plugin,
      requestId: request.id,
      method: request.method,
      path: request.path,
    };
    if (user !== undefined) context.targetingKey = user;
    const out: Record<string, boolean> = { ...base };
    let timer: NodeJS.Timeout | undefined;
    const asked = Promise.all(
      this.names.map(async (flag) => {
        const key = `${this.plugin}.${flag}`;
        try {
          const value =
            'getBooleanValue' in source
              ? await source.getBooleanValue(key, base[flag]!, context)
              : (await source.resolveBooleanEvaluation(key, base[flag]!, context, SILENT)).value;
          if (typeof value === 'boolean') out[flag] = value;
        } catch {
          // A provider that throws: the gateway's own value stands.
        }
      }),
    );
    // A provider that does not answer must not hold the request: the gateway's own values then.
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(resolve, OPENFEATURE_WAIT_MS, 'late');
    });
    const settled = await Promise.race([asked, late]);
    clearTimeout(timer);
    return settled === 'late' ? base : out;
  }
}

function compileRule(rule: FlagRule, flag: string): CompiledRule {
  const bad = (why: string) =>
    new InvalidArgumentError(
      `Expected the setting of flag "${flag}" to be a boolean or a rule: ${why}`,
    );
  if (typeof rule !== 'object' || rule === null) throw bad(`got ${String(rule)}`);
  for (const key of Object.keys(rule)) {
    if (!['value', 'percentage', 'users'].includes(key)) throw bad(`unknown field "${key}"`);
  }
  const { value = false, percentage = 0, users = [] } = rule;
  if (typeof value !== 'boolean') throw bad('`value` must be a boolean');
  if (typeof percentage !== 'number' || !(percentage >= 0 && percentage <= 100)) {
    throw bad('`percentage` must be a number from 0 to 100');
  }
  if (
    !Array.isArray(users) ||
    !users.every((u) => typeof u === 'string' || (typeof u === 'number' && Number.isFinite(u)))
  ) {
    throw bad('`users` must be an array of user ids (strings or numbers)');
  }
  return {
    value,
    cut: Math.round(percentage * 100),
    users: new Set(users.map(String)),
    rule: Object.freeze({ value, percentage, users: Object.freeze([...users]) }),
  };
}
