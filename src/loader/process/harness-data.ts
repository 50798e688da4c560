/**
 * What the host tells a plugin process at its start (`ProcessHarnessData`), and what it learns from its
 * `hello`: both drawn from the plugin's `RuntimeSpec`, the same for every process of one runtime.
 * @module
 */
import { specHarnessFields, type RuntimeSpec } from '../runtime.js';
import { MEMORY_REPORT_MS } from './process-memory.js';
import { socketsRefusal } from './process-notes.js';
import type { ProcessHarnessData } from './protocol.js';

/** The `data` of the host's `start`. */
export function harnessData(spec: RuntimeSpec): ProcessHarnessData {
  return { ...specHarnessFields(spec), memoryReportMs: MEMORY_REPORT_MS };
}

/** Why this plugin's program, greeting with `hello`, may not serve its WebSocket endpoints, if so. */
export function helloRefusal(spec: RuntimeSpec, hello: { caps?: string[] }): string | undefined {
  return socketsRefusal(hello, {
    name: spec.manifest.name,
    native: spec.command !== undefined,
    socketKeys: spec.manifest.endpoints
      .filter((e) => e.websocket !== undefined)
      .map((e) => `${e.method} ${e.path}`),
  });
}
