/**
 * The plugin lifecycle as a state machine (the ADR's `PluginStatus`).
 *
 * ```
 * loading ──► active ──► inactive ──► (unloaded)
 *    │  ▲        │  ▲        │
 *    │  └─ crash ┘  └ start ─┘
 *    └──────────► failed ───────────► (unloaded)
 * ```
 * @module
 */
import type { PluginStatus } from '../shared/types.js';

const ALLOWED: Record<PluginStatus, readonly PluginStatus[]> = {
  loading: ['active', 'failed', 'inactive'],
  active: ['loading', 'inactive', 'failed'],
  inactive: ['loading', 'active', 'failed'],
  failed: ['inactive'],
};

/** True when a plugin may go from `from` to `to`. */
export function canTransition(from: PluginStatus, to: PluginStatus): boolean {
  return from === to || ALLOWED[from].includes(to);
}
