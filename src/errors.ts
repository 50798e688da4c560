/**
 * Every error that plugin-gateway throws or answers with, and its stable code.
 *
 * Match on `err.code`, never on the message. `instanceof` works across copies of the package
 * (host and SDK loaded twice) because every class is branded with a `Symbol.for` key.
 * @module
 */

import { branded, guard, ErrorCodes, GatewayError, kGatewayError } from './error-base.js';

export { ErrorCodes, ErrorStatus, GatewayError, type ErrorCode } from './error-base.js';
// Imported and exported so that the declarations of the classes below can name the brand.
export { kGatewayError };

// The host's own misuse of the API

/** An option or argument was of the wrong shape or value. */
export class InvalidArgumentError extends branded(
  ErrorCodes.INVALID_ARGUMENT,
  'InvalidArgumentError',
) {}

/** The gateway was stopped; create a new one. */
export class GatewayStoppedError extends branded(
  ErrorCodes.GATEWAY_STOPPED,
  'GatewayStoppedError',
) {}

/** A plugin of that name is already loaded. */
export class PluginExistsError extends branded(ErrorCodes.PLUGIN_EXISTS, 'PluginExistsError') {}

/** No plugin of that name is loaded. */
export class PluginNotFoundError extends branded(
  ErrorCodes.PLUGIN_NOT_FOUND,
  'PluginNotFoundError',
) {}

/** Loading one more plugin would pass `maxPlugins`. */
export class MaxPluginsError extends branded(ErrorCodes.MAX_PLUGINS, 'MaxPluginsError') {}

/** Two plugins declare the same method and path. */
export class RouteConflictError extends branded(ErrorCodes.ROUTE_CONFLICT, 'RouteConflictError') {}

/** `setFlag()` named a flag the plugin's manifest does not declare under `feature_flags`. */
export class FlagNotDeclaredError extends branded(
  ErrorCodes.FLAG_NOT_DECLARED,
  'FlagNotDeclaredError',
) {}

/** `rollback()` or `pin()` named a version the plugin's history does not keep. */
export class VersionNotFoundError extends branded(
  ErrorCodes.VERSION_NOT_FOUND,
  'VersionNotFoundError',
) {}

/**
 * `createManagement()`'s `load` action was given a folder outside every parent folder the host allows
 * (`loadRoots`), or the host allows none.
 */
export class PathNotAllowedError extends branded(
  ErrorCodes.PATH_NOT_ALLOWED,
  'PathNotAllowedError',
) {}

// Loading a plugin: its manifest, its code, its start

/** A problem in a `plugin.yaml`, located as `file:LINE:COL`. */
export interface ManifestProblem {
  /** File as given to `parseManifest` (or the manifest path `load()` read). */
  file: string;
  /** 1-based line, 0 when the problem has no place in the text. */
  line: number;
  /** 1-based column. */
  col: number;
  /** Dotted path to the field, e.g. `endpoints.0.rate_limit`; empty for the document itself. */
  path: string;
  /** What is wrong and what was expected. */
  message: string;
}

/** A manifest failed validation; `problems` lists every problem found, not just the first. */
export class ManifestInvalidError extends branded(
  ErrorCodes.MANIFEST_INVALID,
  'ManifestInvalidError',
) {
  /** Every problem found, frozen. */
  readonly problems: readonly ManifestProblem[];
  constructor(problems: ManifestProblem[], options?: { cause?: unknown }) {
    const lines = problems.map(formatProblem);
    super(`Invalid plugin manifest:\n  ${lines.join('\n  ')}`, options);
    this.problems = Object.freeze(problems);
  }
}

/** `plugin.yaml:12:5 endpoints.0.method: message` */
export function formatProblem(p: ManifestProblem): string {
  return `${p.file}:${p.line}:${p.col} ${p.path || '(document)'}: ${p.message}`;
}

/** A plugin could not be loaded: its entry file is missing, it failed to initialise, or its routes do not match its manifest. */
export class PluginLoadError extends branded(ErrorCodes.PLUGIN_LOAD, 'PluginLoadError') {}

/**
 * A plugin did not finish `initialize()` and `start()` on its first thread within the gateway's
 * `bootTimeout`.
 */
export class PluginBootTimeoutError extends branded(
  ErrorCodes.PLUGIN_BOOT_TIMEOUT,
  'PluginBootTimeoutError',
) {
  constructor(message: string, options?: { cause?: unknown; plugin?: string }) {
    super(message, options);
    // A kind of load failure: `instanceof PluginLoadError` and `isPluginLoadError()` hold too.
    Object.defineProperty(this, PluginLoadError.brand, { value: true });
  }
}

/**
 * `definePlugin()` was given something that is not a plugin: a hook or route that is not a function, or a
 * route key that is not `"METHOD /path"`. Thrown in the plugin's code, so the gateway reports it as the
 * cause of a {@link PluginLoadError}.
 */
export class PluginDefinitionError extends branded(
  ErrorCodes.PLUGIN_DEFINITION,
  'PluginDefinitionError',
) {}

/** Where in a plugin's code a {@link PluginCodeError} points. */
export interface CodeLocation {
  /** Absolute path of the file. */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
}

/**
 * A plugin's code could not be loaded: a syntax error, a module it imports that cannot be found, ES
 * module syntax in a CommonJS package, no default export, or a default export that is not a plugin.
 * The message starts with `file:line:col` and ends with what to do. A kind of load failure:
 * `instanceof PluginLoadError` and `isPluginLoadError()` hold too.
 */
export class PluginCodeError extends branded(ErrorCodes.PLUGIN_CODE, 'PluginCodeError') {
  /** Where the fault is, when the gateway could find it. */
  readonly location: CodeLocation | undefined;
  /** What to do about it, in one sentence (empty when the gateway has no advice). */
  readonly hint: string;
  constructor(
    message: string,
    options: { cause?: unknown; plugin?: string; location?: CodeLocation; hint?: string } = {},
  ) {
    super(message, options);
    this.location = options.location;
    this.hint = options.hint ?? '';
    Object.defineProperty(this, PluginLoadError.brand, { value: true });
  }
}

/**
 * A plugin's `main` is a TypeScript file and esbuild, which the gateway transpiles it with, is not
 * installed. Install it next to the host: `npm i -D esbuild`.
 */
export class TypeScriptUnavailableError extends branded(
  ErrorCodes.TYPESCRIPT_UNAVAILABLE,
  'TypeScriptUnavailableError',
) {
  constructor(message: string, options?: { cause?: unknown; plugin?: string }) {
    super(message, options);
    Object.defineProperty(this, PluginLoadError.brand, { value: true });
  }
}

/**
 * A plugin's folder no longer holds what was loaded from it (its content hash changed): the gateway
 * will not (re)start its threads with the changed code.
 */
export class PluginContentChangedError extends branded(
  ErrorCodes.PLUGIN_CONTENT_CHANGED,
  'PluginContentChangedError',
) {}

/** The manifest asks for a runtime this version cannot run. */
export class RuntimeUnsupportedError extends branded(
  ErrorCodes.RUNTIME_UNSUPPORTED,
  'RuntimeUnsupportedError',
) {}

// Sandboxes and trust

/**
 * An untrusted plugin (`load(dir, { trusted: false })`, or from a catalog) asks for `runtime.type:
 * worker`, which is no sandbox, and the gateway's `sandbox.untrusted` is `'refuse'`.
 */
export class UntrustedRuntimeError extends branded(
  ErrorCodes.UNTRUSTED_RUNTIME,
  'UntrustedRuntimeError',
) {}

/**
 * A `runtime.type: process` plugin was refused because the gateway requires bubblewrap
 * (`sandbox.requireBwrap`) and the plugin would run without it (`bwrap` absent, or turned off).
 */
export class SandboxUnavailableError extends branded(
  ErrorCodes.SANDBOX_UNAVAILABLE,
  'SandboxUnavailableError',
) {}

/**
 * A wasm plugin's module was refused at load: not a WebAssembly module, or a memory the gateway cannot
 * cap (imported, shared, 64-bit, more than one, or a minimum above `resources.memory`).
 */
export class WasmModuleError extends branded(ErrorCodes.WASM_MODULE, 'WasmModuleError') {}

/**
 * A wasm plugin's module imports a function the gateway does not give it: a host function its manifest
 * does not grant, WASI, or anything else. The message names the import.
 */
export class WasmImportRefusedError extends branded(
  ErrorCodes.WASM_IMPORT_REFUSED,
  'WasmImportRefusedError',
) {}

// Events, the fleet, its catalog and shared stores

/** A plugin published an event type its manifest does not list under `permissions.events.publish`. */
export class EventNotPermittedError extends branded(
  ErrorCodes.EVENT_NOT_PERMITTED,
  'EventNotPermittedError',
) {}

/** The shared event broker (Redis) did not take a published event: nothing was delivered. */
export class EventBrokerUnavailableError extends branded(
  ErrorCodes.EVENT_BROKER_UNAVAILABLE,
  'EventBrokerUnavailableError',
) {}

/** The discovery registry's store (etcd, Consul) refused or failed an operation; `cause` holds its error. */
export class RegistryError extends branded(ErrorCodes.REGISTRY, 'RegistryError') {}

/** A catalog entry is larger than the registry's store accepts in one value. */
export class ArtifactTooLargeError extends branded(
  ErrorCodes.ARTIFACT_TOO_LARGE,
  'ArtifactTooLargeError',
) {}

/** A catalog entry's files do not match its hash, or its manifest does not match its name and version. */
export class CatalogInvalidError extends branded(
  ErrorCodes.CATALOG_INVALID,
  'CatalogInvalidError',
) {}

/**
 * A catalog entry was refused because the gateway trusts publisher keys (`watch.trustedKeys`) and the
 * entry is not signed by one of them: unsigned, signed by another key, or changed after signing.
 */
export class ArtifactSignatureError extends branded(
  ErrorCodes.ARTIFACT_SIGNATURE,
  'ArtifactSignatureError',
) {}

/**
 * A shared rate-limit store (Redis) cannot be asked now. The gateway never lets it reach a caller: it
 * falls back to local limits (event `ratelimit:fallback`); a custom store throws it to ask for the same.
 */
export class RateLimitStoreUnavailableError extends branded(
  ErrorCodes.RATE_LIMIT_STORE_UNAVAILABLE,
  'RateLimitStoreUnavailableError',
) {}

// Hot swaps

/** Why a swap gave the new version up and kept (or went back to) the previous one. */
export type SwapFailureReason = 'load' | 'start' | 'health' | 'canary' | 'crash-loop';

/** What a swap's canary judged, new version against previous: the figures behind a rollback. */
export interface SwapFigures {
  /** Requests each version answered during the canary window. */
  requests: { previous: number; next: number };
  /** Share of those answered 5xx, 0 to 1. */
  errorRate: { previous: number; next: number };
  /** 99th percentile latency in ms (the previous version's over its life, the new one's in the window). */
  p99Ms: { previous: number; next: number };
}

/**
 * `swap()` gave the new version up: it failed to load, start or pass its health check, or was worse
 * than the previous version during its canary window. The previous version kept (or is back to)
 * serving. `reason` says which; `figures` carry the canary's comparison.
 */
export class SwapFailedError extends branded(ErrorCodes.SWAP_FAILED, 'SwapFailedError') {
  /** Which step gave the new version up. */
  readonly reason: SwapFailureReason;
  /** The version that was given up. */
  readonly version: string | undefined;
  /** For `reason: 'canary'`: what was compared. */
  readonly figures: SwapFigures | undefined;
  constructor(
    message: string,
    details: {
      plugin?: string;
      reason?: SwapFailureReason;
      version?: string;
      figures?: SwapFigures;
      cause?: unknown;
    } = {},
  ) {
    super(message, { plugin: details.plugin, cause: details.cause });
    this.reason = details.reason ?? 'start';
    this.version = details.version;
    this.figures = details.figures;
  }
}

// Type guards: each holds across copies of the package, as `instanceof` does

/** True when `e` is any plugin-gateway error. */
export const isGatewayError = guard(GatewayError);

/** True when `e` is an {@link InvalidArgumentError}: an option or argument the host passed is wrong. */
export const isInvalidArgumentError = guard(InvalidArgumentError);

/** True when `e` is a {@link ManifestInvalidError}. */
export const isManifestInvalidError = guard(ManifestInvalidError);

/** True when `e` is a {@link PluginLoadError}. */
export const isPluginLoadError = guard(PluginLoadError);

/** True when `e` is a {@link PluginBootTimeoutError}. */
export const isPluginBootTimeoutError = guard(PluginBootTimeoutError);

/** True when `e` is a {@link PluginCodeError}. */
export const isPluginCodeError = guard(PluginCodeError);

/** True when `e` is a {@link PluginNotFoundError}. */
export const isPluginNotFoundError = guard(PluginNotFoundError);

/** True when `e` is a {@link PluginExistsError}. */
export const isPluginExistsError = guard(PluginExistsError);

/** True when `e` is a {@link RouteConflictError}. */
export const isRouteConflictError = guard(RouteConflictError);

/** True when `e` is a {@link CatalogInvalidError}. */
export const isCatalogInvalidError = guard(CatalogInvalidError);

/** True when `e` is a {@link RegistryError}. */
export const isRegistryError = guard(RegistryError);

/** True when `e` is a {@link SwapFailedError}. */
export const isSwapFailedError = guard(SwapFailedError);

/**
 * A manifest declares a live endpoint (`websocket` or `stream`) on a runtime that cannot serve one
 * (`process`, `wasm`, or an untrusted `worker` plugin run as a process): refused at load, never a
 * silent hang.
 */
export class LiveUnsupportedError extends branded(
  ErrorCodes.LIVE_UNSUPPORTED,
  'LiveUnsupportedError',
) {}
