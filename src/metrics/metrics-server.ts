/**
 * The metrics port of the agent and of the service: `GET /metrics` (Prometheus text format),
 * `GET /healthz` (the process answers) and `GET /readyz` (200 or 503 with a short JSON reason).
 * Unauthenticated: it binds 127.0.0.1 unless told otherwise.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { EdgewatchError } from '../errors.js';

/** What `/readyz` answers: 200 when `ready`, else 503; `reason` says why in a few words. */
export interface Readiness {
  ready: boolean;
  reason: string;
  [detail: string]: unknown;
}

/** Options of `startMetricsServer`. */
export interface MetricsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  readiness: () => Readiness | Promise<Readiness>;
  /** Called when a scrape or a readiness check throws (the answer is then a 500 / 503). */
  onError?: (err: unknown, path: string) => void;
}

/** A listening metrics port. `close()` is idempotent. */
export interface MetricsServer {
  /** e.g. `http://127.0.0.1:9464` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Listens on `host:port` (0 picks a free port). Throws `EW_METRICS_LISTEN` when the address cannot be
 * bound (exit code 2 in the CLI).
 */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => void answer(o, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause: NodeJS.ErrnoException) =>
      reject(
        new EdgewatchError('EW_METRICS_LISTEN', `Cannot serve metrics on ${o.host}:${o.port}: ${cause.code ?? cause.message}. Choose another --metrics-port or --metrics-host.`, {
          cause,
          details: { host: o.host, port: o.port },
        }),
      ),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = o.host.includes(':') ? `[${o.host}]` : o.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function answer(o: MetricsServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, req, 405, 'application/json', JSON.stringify({ message: 'Only GET and HEAD are answered here.' }), { allow: 'GET, HEAD' });
  try {
    if (path === '/metrics') return send(res, req, 200, o.registry.contentType, await o.registry.metrics());
    if (path === '/healthz') return send(res, req, 200, 'application/json', JSON.stringify({ ok: true, pid: process.pid, uptimeSeconds: Math.round(process.uptime()) }));
    if (path === '/readyz') {
      const r = await o.readiness();
      return send(res, req, r.ready ? 200 : 503, 'application/json', JSON.stringify(r));
    }
    return send(res, req, 404, 'application/json', JSON.stringify({ message: `No ${path} here: try /metrics, /healthz or /readyz.` }));
  } catch (err) {
    o.onError?.(err, path);
    const status = path === '/readyz' ? 503 : 500;
    send(res, req, status, 'application/json', JSON.stringify(status === 503 ? { ready: false, reason: 'readiness check failed' } : { message: 'Metrics could not be collected.' }));
  }
}

function send(res: ServerResponse, req: IncomingMessage, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'content-type': contentType, 'content-length': bytes.length, 'cache-control': 'no-store', ...headers });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}
