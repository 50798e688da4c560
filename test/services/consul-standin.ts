/**
 * A stand-in for a Consul agent: the subset of its HTTP API that ConsulRegistry uses, as Consul documents
 * it. No Consul agent can be installed on these machines (no Debian package); the contract suite runs
 * against a real one when CONSUL_HTTP_ADDR is set.
 *
 * - PUT  /v1/agent/service/register          {ID, Name, Tags, Meta, Check: {CheckID, TTL, ...}}
 * - PUT  /v1/agent/service/deregister/:id
 * - PUT  /v1/agent/check/pass/:checkId       404 for an unknown check
 * - GET  /v1/health/state/:state             any | passing | critical; blocking with ?index=&wait=
 * - GET  /v1/kv/:key?recurse                 values base64; 404 when nothing matches; blocking
 * - PUT  /v1/kv/:key, DELETE /v1/kv/:key?cas=N
 * Every answer carries X-Consul-Index. A TTL check not passed within its TTL turns critical.
 * Started with `{ aclToken }`, it answers 403 "Permission denied" to any request without that token in
 * X-Consul-Token, as an agent with ACLs on (default policy deny) answers an anonymous caller. Started
 * with `{ tls: { key, cert } }`, it serves HTTPS (an agent with `ports.https`).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

interface Check {
  CheckID: string;
  ServiceID: string;
  ServiceName: string;
  Status: 'passing' | 'critical';
  ttlMs: number;
  expiresAt: number;
}

interface Pair {
  Key: string;
  Value: string | null;
  CreateIndex: number;
  ModifyIndex: number;
}

export class ConsulStandIn {
  #index = 1;
  readonly services = new Map<string, { ID: string; Service: string }>();
  readonly checks = new Map<string, Check>();
  readonly kv = new Map<string, Pair>();
  #waiters = new Set<() => void>();
  #server!: http.Server;
  #sweep = setInterval(() => this.#expire(), 50);
  #aclToken: string | undefined;
  /** Requests refused for a missing or wrong token. */
  refused = 0;

  static async start(
    port = 0,
    options: { aclToken?: string; tls?: { key: Buffer; cert: Buffer } } = {},
  ): Promise<ConsulStandIn> {
    const standIn = new ConsulStandIn();
    standIn.#aclToken = options.aclToken;
    const handle: http.RequestListener = (req, res) => void standIn.#handle(req, res);
    standIn.#server = options.tls
      ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handle)
      : http.createServer(handle);
    await new Promise<void>((r) => standIn.#server.listen(port, '127.0.0.1', r));
    return standIn;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    clearInterval(this.#sweep);
    for (const wake of this.#waiters) wake();
    this.#server.closeAllConnections();
    await new Promise((r) => this.#server.close(r));
  }

  #bump(): void {
    this.#index++;
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  #expire(): void {
    const now = Date.now();
    let changed = false;
    for (const check of this.checks.values()) {
      if (check.Status === 'passing' && check.expiresAt <= now) {
        check.Status = 'critical';
        changed = true;
      }
    }
    if (changed) this.#bump();
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url!, 'http://consul');
    const path = decodeURIComponent(url.pathname);
    let body = '';
    for await (const chunk of req) body += chunk;
    const send = (status: number, json?: unknown) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'x-consul-index': String(this.#index),
      });
      res.end(json === undefined ? '' : JSON.stringify(json));
    };
    if (this.#aclToken !== undefined && req.headers['x-consul-token'] !== this.#aclToken) {
      this.refused++;
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('Permission denied');
      return;
    }
    // Blocking queries: wait while the caller's index is current, up to `wait`.
    const index = Number(url.searchParams.get('index') ?? 0);
    if (req.method === 'GET' && index > 0 && index >= this.#index) {
      const waitMs = parseInt(url.searchParams.get('wait') ?? '300', 10) * 1000;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(done);
        req.once('close', done);
      });
      if (res.destroyed) return;
    }
    let m: RegExpMatchArray | null;
    if (req.method === 'PUT' && path === '/v1/agent/service/register') {
      const s = JSON.parse(body) as {
        ID: string;
        Name: string;
        Check?: { CheckID: string; TTL: string };
      };
      this.services.set(s.ID, { ID: s.ID, Service: s.Name });
      if (s.Check) {
        const ttlMs = parseInt(s.Check.TTL, 10) * 1000;
        this.checks.set(s.Check.CheckID, {
          CheckID: s.Check.CheckID,
          ServiceID: s.ID,
          ServiceName: s.Name,
          Status: 'critical',
          ttlMs,
          expiresAt: 0,
        });
      }
      this.#bump();
      return send(200);
    }
    if (req.method === 'PUT' && (m = path.match(/^\/v1\/agent\/service\/deregister\/(.+)$/))) {
      this.services.delete(m[1]!);
      for (const [id, check] of this.checks) if (check.ServiceID === m[1]) this.checks.delete(id);
      this.#bump();
      return send(200);
    }
    if (req.method === 'PUT' && (m = path.match(/^\/v1\/agent\/check\/pass\/(.+)$/))) {
      const check = this.checks.get(m[1]!);
      if (!check) {
        res.writeHead(404).end(`CheckID "${m[1]}" does not have associated TTL`);
        return;
      }
      check.expiresAt = Date.now() + check.ttlMs;
      if (check.Status !== 'passing') {
        check.Status = 'passing';
        this.#bump();
      }
      return send(200);
    }
    if (req.method === 'GET' && (m = path.match(/^\/v1\/health\/state\/(any|passing|critical)$/))) {
      const state = m[1];
      return send(
        200,
        [...this.checks.values()]
          .filter((c) => state === 'any' || c.Status === state)
          .map(({ CheckID, ServiceID, ServiceName, Status }) => ({
            CheckID,
            ServiceID,
            ServiceName,
            Status,
          })),
      );
    }
    if ((m = path.match(/^\/v1\/kv\/(.*)$/))) {
      const key = m[1]!;
      if (req.method === 'GET') {
        const pairs = url.searchParams.has('recurse')
          ? [...this.kv.values()].filter((p) => p.Key.startsWith(key))
          : [this.kv.get(key)].filter((p): p is Pair => p !== undefined);
        return pairs.length === 0 ? send(404) : send(200, pairs);
      }
      if (req.method === 'PUT') {
        const previous = this.kv.get(key);
        this.kv.set(key, {
          Key: key,
          Value: Buffer.from(body).toString('base64'),
          CreateIndex: previous?.CreateIndex ?? this.#index + 1,
          ModifyIndex: this.#index + 1,
        });
        this.#bump();
        return send(200, true);
      }
      if (req.method === 'DELETE') {
        const cas = url.searchParams.get('cas');
        const pair = this.kv.get(key);
        if (cas !== null && pair && pair.ModifyIndex !== Number(cas)) return send(200, false);
        if (pair) {
          this.kv.delete(key);
          this.#bump();
        }
        return send(200, true);
      }
    }
    res.writeHead(405).end(`stand-in: ${req.method} ${path} is not part of the subset`);
  }
}
