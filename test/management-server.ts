/**
 * A gateway with its management API mounted under `/admin` and the gateway itself under `/api`, on one
 * real `node:http` server on 127.0.0.1, as a host would set them up. Bearer tokens: `admin-token` (role
 * admin), `viewer-token` (no admin role).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequestListener } from '../src/adapters/node.js';
import type { GatewayOptions, PluginGateway } from '../src/index.js';
import {
  createManagement,
  type Management,
  type ManagementOptions,
} from '../src/management/index.js';
import { closeServer, gatewayWith } from './helpers.js';

export const ADMIN = { authorization: 'Bearer admin-token' };
export const VIEWER = { authorization: 'Bearer viewer-token' };

export const authenticate: NonNullable<GatewayOptions['authenticate']> = (req) => {
  const auth = req.headers?.authorization;
  if (auth === ADMIN.authorization) return { userId: 'ops', roles: ['admin'] };
  if (auth === VIEWER.authorization) return { userId: 'viewer', roles: ['viewer'] };
  return null;
};

export interface ManagedServer {
  gateway: PluginGateway;
  management: Management;
  base: string;
  close(): Promise<void>;
}

export async function managedServer(
  fixtures: string[],
  options: ManagementOptions = {},
  gatewayOptions: GatewayOptions = {},
): Promise<ManagedServer> {
  const gateway = await gatewayWith(fixtures, { authenticate, ...gatewayOptions });
  const management = createManagement(gateway, options);
  const admin = createRequestListener(management, { prefix: '/admin' });
  const api = createRequestListener(gateway, { prefix: '/api' });
  const server = http.createServer((req, res) =>
    req.url?.startsWith('/admin') ? admin(req, res) : api(req, res),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    gateway,
    management,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      management.close();
      await closeServer(server);
      await gateway.stop();
    },
  };
}

/** A JSON POST to the management API, as the dashboard sends it. */
export function post(
  base: string,
  path: string,
  body: unknown = {},
  headers = ADMIN,
): Promise<Response> {
  return fetch(`${base}/admin${path}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** A parsed JSON answer, to read fields from in assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** The answer's body as JSON. */
export const json = (res: Response): Promise<Json> => res.json() as Promise<Json>;
