/**
 * The operator's ceilings laid over a manifest's `resources`: what an untrusted plugin asks for is
 * granted up to the gateway's `limits`, never beyond (a manifest cannot raise its own ceilings, nor pass
 * one by leaving a field out: a manifest without `resources.network` gets the ceiling's rate). Every
 * runtime reads the clamped manifest: worker heap caps, wasm memory, the process runtime's tmpfs and
 * cgroups, threads per instance.
 * @module
 */
import type { HostLimits } from '../shared/host-limits.js';
import { deepFreeze } from '../shared/deep-freeze.js';
import type { Manifest } from './schema.js';

/** A manifest's resources after the clamp, and the fields the clamp lowered. */
export interface ClampedResources {
  manifest: Manifest;
  /** `resources.<field>: asked → granted`, one per field lowered; empty when none was. */
  lowered: string[];
}

/** `manifest` with its `resources` at most `limits`' ceilings (the same object when none changes). */
export function clampResources(
  manifest: Manifest,
  limits: Pick<HostLimits, 'memory' | 'cpu' | 'disk' | 'network'>,
): ClampedResources {
  const asked = manifest.resources;
  const granted = { ...asked };
  const lowered: string[] = [];
  for (const field of ['memory', 'cpu', 'disk', 'network'] as const) {
    const value = asked[field];
    if (value !== undefined && value > limits[field]) {
      granted[field] = limits[field];
      lowered.push(`resources.${field}: ${value} → ${limits[field]}`);
    }
  }
  // Without `resources.network` the host's fetches would read for the plugin unthrottled: past the ceiling.
  if (asked.network === undefined) granted.network = limits.network;
  if (lowered.length === 0 && asked.network !== undefined) return { manifest, lowered };
  return { manifest: deepFreeze({ ...manifest, resources: granted }), lowered };
}
