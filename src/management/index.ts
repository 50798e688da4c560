/**
 * `@veza/plugin-gateway/management`: the management API and dashboard (`createManagement`), and alert
 * rules with webhooks (`createAlerts`, or `alerts` in the management's options).
 * @module
 */
export { createManagement, Management, type ManagementOptions } from './management.js';
export {
  basicAuthentication,
  type BasicAuthenticationOptions,
  type BasicUser,
  type ChallengingAuthenticate,
} from './basic-auth.js';
export {
  createAlerts,
  Alerts,
  type Alert,
  type AlertEvents,
  type AlertKind,
  type AlertRule,
  type AlertsOptions,
  type WebhookFailure,
  type WebhookOptions,
} from './alerts.js';
export { MetricHistory, type MetricHistoryOptions, type MetricSample } from './metric-history.js';
export type { LoggedEvent } from './event-log.js';
