/**
 * `@veza/plugin-gateway`: load plugins declared by a `plugin.yaml`, run each one isolated in worker
 * threads, route requests and domain events to them, and protect the host from them.
 *
 * Plugin authors import from `@veza/plugin-gateway/sdk` instead.
 * @module
 */
export { PluginGateway } from './core/gateway.js';
export type { BootEvent, CrashEvent } from './plugins/supervisor.js';
export type { PluginLogLine } from './plugins/plugin-logs.js';
export type { PeerReply } from './core/request-path.js';
export type { ServiceHandler } from './core/service-calls.js';
export type { LiveUpgrade } from './core/live-upgrade.js';
export type { PublishResult } from './core/event-delivery.js';
export type {
  AbandonedEvent,
  BreakerEvent,
  FlagChangedEvent,
  GatewayEvents,
  RollbackEvent,
  SwapEvent,
} from './core/gateway-events.js';
export type { LoadOptions } from './core/load-options.js';
export type { FaultSpec } from './mesh/fault-injection.js';
export type { SwapOptions, SwapSource } from './core/hot-swap.js';
export type { CanaryMargin } from './plugins/canary.js';
export {
  PEER_CONTENT_TYPE,
  PEER_PATH,
  type PeerAnswer,
  type PeerCall,
} from './fleet/peer-protocol.js';
export { parseManifest } from './manifest/manifest.js';
export type { Manifest, ParseManifestOptions } from './manifest/manifest.js';
export type {
  CircuitBreakerSettings,
  GatewayLogger,
  GatewayOptions,
  Identity,
} from './core/options.js';
export type { ErrorBody } from './shared/responses.js';
export type { PluginTrace } from './shared/trace-context.js';
export type { TracerProviderLike } from './core/tracing.js';
export {
  channels,
  type Disposable,
  type ErrorObservation,
  type RequestObservation,
  type ResponseObservation,
} from './core/observers.js';
export type {
  DomainEvent,
  FlagRule,
  GatewayRequest,
  HealthStatus,
  PluginEndpoint,
  WebSocketSettings,
  PluginInfo,
  VersionConnections,
  PluginMetrics,
  PluginRequest,
  PluginResponse,
  PluginStatus,
  ServiceRequest,
  VersionRecord,
} from './shared/types.js';
export {
  rolloutBucket,
  type FlagSource,
  type OpenFeatureClientLike,
  type OpenFeatureProviderLike,
} from './plugins/plugin-flags.js';
export { MemoryRateLimitStore, type RateLimitStore } from './mesh/rate-limit-store.js';
export {
  redisStreams,
  type RedisStreamsClient,
  type RedisStreamsOptions,
} from './fleet/redis-streams.js';
export type {
  BrokerConsumer,
  BrokerEvent,
  BrokerLog,
  DeliveryOutcome,
  EventBroker,
} from './fleet/event-broker.js';
export {
  RedisRateLimitStore,
  type RedisRateLimitStoreOptions,
  type RedisScriptClient,
} from './mesh/rate-limit-redis.js';
export type { RateDecision } from './mesh/gcra.js';
export { MemoryRegistry } from './registry/memory.js';
export { resolveInstances, selectInstances } from './registry/registry.js';
export { hashFiles, packPlugin, unpackPlugin } from './fleet/artifacts.js';
export type { PackOptions, UnpackOptions } from './fleet/artifacts.js';
export type { ArtifactSignature, Ed25519Key } from './fleet/artifact-signature.js';
export type {
  CatalogChange,
  CatalogEntry,
  DiscoveryRegistry,
  GatewayPluginState,
  GatewayRefusal,
  GatewayStatusRecord,
  InstanceRecord,
  RegisterOptions,
  RegistryChange,
  Unsubscribe,
  WatchStatus,
} from './registry/registry.js';
export {
  ErrorCodes,
  ArtifactTooLargeError,
  CatalogInvalidError,
  EventNotPermittedError,
  GatewayError,
  GatewayStoppedError,
  InvalidArgumentError,
  isCatalogInvalidError,
  isGatewayError,
  isInvalidArgumentError,
  isManifestInvalidError,
  isPluginBootTimeoutError,
  isPluginExistsError,
  isPluginLoadError,
  isPluginNotFoundError,
  isRegistryError,
  isRouteConflictError,
  ManifestInvalidError,
  MaxPluginsError,
  PluginBootTimeoutError,
  PluginDefinitionError,
  PluginExistsError,
  PluginLoadError,
  PluginNotFoundError,
  RateLimitStoreUnavailableError,
  RegistryError,
  RouteConflictError,
  RuntimeUnsupportedError,
  ArtifactSignatureError,
  SandboxUnavailableError,
  WasmModuleError,
  WasmImportRefusedError,
  UntrustedRuntimeError,
  LiveUnsupportedError,
  FlagNotDeclaredError,
  EventBrokerUnavailableError,
  SwapFailedError,
  isSwapFailedError,
  PluginContentChangedError,
  VersionNotFoundError,
  PluginCodeError,
  isPluginCodeError,
  TypeScriptUnavailableError,
} from './errors.js';
export type {
  CodeLocation,
  ErrorCode,
  ManifestProblem,
  SwapFailureReason,
  SwapFigures,
} from './errors.js';
