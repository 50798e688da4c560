/**
 * The owner process of `bench/peer-owner.micro.ts`: a gateway running the `profiles` fixture, its peer
 * channels served through `createUpgradeListener`, and, on a second server, peer channels whose calls
 * are answered by a part of the owner's work only (the variants, by path: `/transport`, `/envelope`).
 * Measures its own CPU (every thread and the main one) between the parent's `start` and `stop`, and
 * runs the local variant itself.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import { PluginGateway } from '../src/index.js';
import { createRequestListener, createUpgradeListener } from '../src/adapters/node.js';
import { servePeerChannel } from '../src/fleet/peer-channel-server.js';
import { answerText, parseCall, requestOf } from '../src/fleet/peer-server.js';
import { threadCpu } from './thread-cpu.js';

const here = import.meta.dirname;

const listen = (server: http.Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );

const gatewayServer = http.createServer();
const port = await listen(gatewayServer);
const gateway = new PluginGateway({
  logger: false,
  node: { id: 'owner', address: `http://127.0.0.1:${port}`, insecure: 'private-network' },
});
gatewayServer.on('request', createRequestListener(gateway));
gatewayServer.on('upgrade', createUpgradeListener(gateway));
await gateway.start();
await gateway.load(path.join(here, '../test/fixtures/profiles'), { config: { node: 'owner' } });

/** The bench's call, and what the plugin answers it (the variants answer the same). */
const local = { method: 'GET', path: '/profiles/7', headers: {}, userId: 456 };
const response = await gateway.handle(local);

const variants: Record<string, () => (envelope: string) => Promise<string>> = {
  // The transport alone: frames read, an answer of the same bytes written, nothing parsed.
  transport: () => {
    const canned = answerText(response, undefined);
    return () => Promise.resolve(canned);
  },
  // The transport and the JSON envelope both ways (parsed and checked, answer written), no plugin.
  envelope: () => (envelope) => {
    requestOf(parseCall(envelope));
    return Promise.resolve(answerText(response, undefined));
  },
};
const variantServer = http.createServer();
const variantPort = await listen(variantServer);
variantServer.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
  const serve = variants[(req.url ?? '').split('/')[1]!]!();
  servePeerChannel(socket, head, { key: undefined, openTimeoutMs: 10_000, serve });
});

let cpu0 = threadCpu();
process.on('message', (m: { do: string; ms?: number }) => {
  if (m.do === 'start') {
    cpu0 = threadCpu();
    process.send!({ started: true });
  } else if (m.do === 'stop') {
    const cpu = threadCpu();
    process.send!({ main: cpu.main - cpu0.main, all: cpu.all - cpu0.all });
  } else if (m.do === 'local') {
    void (async () => {
      const until = performance.now() + m.ms!;
      let calls = 0;
      const t0 = threadCpu();
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (performance.now() < until) {
            await gateway.handle(local);
            calls++;
          }
        }),
      );
      const t = threadCpu();
      process.send!({ calls, main: t.main - t0.main, all: t.all - t0.all });
    })();
  } else if (m.do === 'exit') {
    void gateway.stop().then(() => process.exit(0));
  }
});
process.send!({ ready: true, port, variantPort });
