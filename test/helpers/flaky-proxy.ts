/**
 * An HTTP proxy on 127.0.0.1 in front of a monitoring service, for fault tests: each request is
 * forwarded, answered with an injected status (503, 422...), dropped before it reaches the service,
 * dropped after the service handled it (the answer is lost), or held; every answer is counted.
 *
 * ```ts
 * const random = seededRandom(42);
 * const proxy = await startFlakyProxy(service.url, {
 *   decide: (r) => (r.kind !== 'prediction' ? 'forward' : random() < 0.1 ? { status: 503 } : random() < 0.1 ? 'drop' : 'forward'),
 * });
 * t.after(() => proxy.close());
 * // point the agent at proxy.url; afterwards: proxy.stats.statuses[409] = harmless re-sends
 * ```
 *
 * The Host header is passed through, so the embedded service advertises the proxy as `oracle_host`
 * and the agent's monitoring requests go through the proxy too.
 */
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

/** What a request is, for policies. */
export interface ProxiedRequest {
  kind: 'prediction' | 'login' | 'platform';
  method: string;
  path: string;
  /** 0-based index among requests of the same kind. */
  index: number;
  body: Buffer;
}

/**
 * What to do with a request: forward it; answer `status` without forwarding; `drop` the
 * connection without forwarding; `drop-after` forwarding (the service handled it, the agent never
 * hears back); or `hold` it until the promise settles, then forward.
 */
export type ProxyAction = 'forward' | 'drop' | 'drop-after' | { status: number; body?: unknown; headers?: Record<string, string> } | { hold: Promise<unknown> };

export interface ProxyOptions {
  decide?: (request: ProxiedRequest) => ProxyAction;
  /** Called with the service's answer before it is relayed; return 'drop' to lose it instead. */
  onUpstreamResponse?: (request: ProxiedRequest, status: number) => 'relay' | 'drop';
}

export interface ProxyStats {
  requests: number;
  forwarded: number;
  injected: number;
  dropped: number;
  droppedAfter: number;
  held: number;
  /** Statuses relayed from the service or injected, by status code. */
  statuses: Record<number, number>;
  /** The same, for prediction requests only. */
  predictionStatuses: Record<number, number>;
}

export interface FlakyProxy {
  readonly url: string;
  readonly port: number;
  readonly stats: ProxyStats;
  /** Replaces the policy. */
  setDecide(decide: ProxyOptions['decide']): void;
  close(): Promise<void>;
}

function kindOf(path: string): ProxiedRequest['kind'] {
  if (/^\/api\/deployment\/[^/]+\/predictions$/.test(path)) return 'prediction';
  if (path === '/api/auth/login') return 'login';
  return 'platform';
}

/** Starts a proxy to `target` (an http:// URL) on 127.0.0.1, port 0. */
export async function startFlakyProxy(target: string, options: ProxyOptions = {}): Promise<FlakyProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  let decide = options.decide ?? (() => 'forward' as const);
  const counters: Record<ProxiedRequest['kind'], number> = { prediction: 0, login: 0, platform: 0 };
  const stats: ProxyStats = { requests: 0, forwarded: 0, injected: 0, dropped: 0, droppedAfter: 0, held: 0, statuses: {}, predictionStatuses: {} };
  const sockets = new Set<Socket>();

  const count = (r: ProxiedRequest, status: number) => {
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
    if (r.kind === 'prediction') stats.predictionStatuses[status] = (stats.predictionStatuses[status] ?? 0) + 1;
  };

  const forward = (r: ProxiedRequest, req: IncomingMessage, res: ServerResponse, dropAfter: boolean) => {
    stats.forwarded += 1;
    const up = httpRequest(
      { agent, host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, 'content-length': String(r.body.length) } },
      (answer) => {
        const status = answer.statusCode ?? 502;
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          const lose = dropAfter || options.onUpstreamResponse?.(r, status) === 'drop';
          if (lose) {
            stats.droppedAfter += 1;
            req.socket.destroy();
            return;
          }
          count(r, status);
          const headers = { ...answer.headers };
          delete headers['transfer-encoding'];
          delete headers.connection;
          delete headers['keep-alive'];
          res.writeHead(status, { ...headers, 'content-length': String(Buffer.concat(chunks).length) });
          res.end(Buffer.concat(chunks));
        });
      },
    );
    up.on('error', () => {
      // The service is down or cut the connection: the agent sees a dropped connection too.
      stats.dropped += 1;
      req.socket.destroy();
    });
    up.end(r.body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const kind = kindOf(path);
      const r: ProxiedRequest = { kind, method: req.method ?? 'GET', path, index: counters[kind]++, body: Buffer.concat(chunks) };
      stats.requests += 1;
      const action = decide(r);
      if (action === 'forward') return forward(r, req, res, false);
      if (action === 'drop-after') return forward(r, req, res, true);
      if (action === 'drop') {
        stats.dropped += 1;
        req.socket.destroy();
        return;
      }
      if ('hold' in action) {
        stats.held += 1;
        void action.hold.finally(() => forward(r, req, res, false));
        return;
      }
      stats.injected += 1;
      count(r, action.status);
      const body = Buffer.from(JSON.stringify(action.body ?? { message: `injected ${action.status}` }));
      res.writeHead(action.status, { 'content-type': 'application/json', 'content-length': String(body.length), ...(action.headers ?? {}) });
      res.end(body);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    setDecide(next) {
      decide = next ?? (() => 'forward');
    },
    close() {
      closed ??= new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
        agent.destroy();
      });
      return closed;
    },
  };
}
