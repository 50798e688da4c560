/**
 * What plugins under test publish, seen as a subscriber sees it: a small plugin of the helper's own
 * (`veza-test-recorder`, subscribed to `*`) keeps the events in its thread and answers them on a route.
 * It is loaded with the first plugin that may publish, so `gateway.list()` shows it from then on.
 * @module
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PluginGateway } from '../core/gateway.js';
import type { DomainEvent } from '../shared/types.js';

/** Name of the recording plugin in the test gateway. */
export const RECORDER = 'veza-test-recorder';
const ROUTE = '/__veza-test/published';

const MANIFEST = `name: ${RECORDER}
version: 1.0.0
description: Records the events plugins publish, for @veza/plugin-gateway/testing
resources: { cpu: 0.1, memory: 64 }
endpoints:
  - { path: ${ROUTE}, method: GET }
permissions:
  events:
    subscribe: ['*']
`;

const CODE = `const seen = [];
export default {
  handleEvent(event) {
    seen.push(event);
  },
  routes: {
    'GET ${ROUTE}': () => ({ statusCode: 200, body: seen }),
  },
};
`;

/** Loads the recorder on demand and reads what it saw. */
export class EventRecorder {
  #dir: string | undefined;
  #loading: Promise<void> | undefined;

  /** Makes sure the recorder listens in `gateway` before a plugin that may publish serves. */
  ensure(gateway: PluginGateway): Promise<void> {
    this.#loading ??= (async () => {
      this.#dir = await mkdtemp(path.join(os.tmpdir(), 'veza-test-recorder-'));
      await writeFile(path.join(this.#dir, 'plugin.yaml'), MANIFEST);
      await writeFile(path.join(this.#dir, 'index.js'), CODE);
      // The recorder's one thread must keep its memory for the whole test.
      await gateway.load(this.#dir);
    })();
    return this.#loading;
  }

  /** Events published by plugins (not by the test), oldest first; `type` filters. */
  async events(gateway: PluginGateway, type?: string): Promise<DomainEvent[]> {
    if (!this.#loading) return [];
    await this.#loading;
    const res = await gateway.handle({ method: 'GET', path: ROUTE, headers: {} });
    const events = (res.body as DomainEvent[]).filter((e) => e.source !== undefined);
    return type === undefined ? events : events.filter((e) => e.type === type);
  }

  /** Removes the recorder's folder. */
  async dispose(): Promise<void> {
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
  }
}
