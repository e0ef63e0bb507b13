/** One HTTP exchange with the platform or the monitoring service: the undici Agent, timeouts, abort, bounded response bodies, redirects refused, and transport errors mapped to codes. */
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request, type Dispatcher } from 'undici';
import type { z } from 'zod';
import { EdgewatchError } from '../errors.js';
import type { ClockWatch } from './clock-skew.js';
import type { Redactor } from './redactor.js';

/** Logger subset the client uses (pino-compatible). Never receives a token or a JWT. */
export interface MonitorLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** A response read whole: status, headers and body text. */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** Largest response body read (protocol answers are small JSON): a longer or endless one is cut and refused. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** Options of `HttpExchange`. */
export interface HttpExchangeOptions {
  /** Timeout of every request, headers and body included (also the connect timeout). */
  requestTimeoutMs: number;
  /** Largest response body read, in bytes (default MAX_RESPONSE_BYTES). */
  maxResponseBytes?: number | undefined;
  userAgent: string;
  /** Aborts every request (the agent's root signal). */
  signal?: AbortSignal | undefined;
  /** Masks the secrets in transport errors; callers add JWTs to it as they learn them. */
  redactor: Redactor;
  logger?: MonitorLogger | undefined;
  /** Learns the clock skew from every response's Date header. */
  clock?: ClockWatch | undefined;
}

/** `path` (absolute) resolved against `base`: the base's own path is dropped, as urljoin does. */
export function absoluteUrl(base: string, path: string, query?: Record<string, string>): URL {
  const url = new URL(path, base);
  url.username = '';
  url.password = '';
  for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
  return url;
}

/** Where a URL points, for messages: origin and path only (no credentials, no query). */
export function where(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** Paths of the failing fields of a zod error (never the values: they may be secrets). */
export function issuePaths(error: z.ZodError): string[] {
  return error.issues.map((i) => (i.path.length > 0 ? i.path.join('.') : '(root)'));
}

/** Closes a body left unread (undici reports that as an abort: nobody is listening for it). */
function discard(res: Dispatcher.ResponseData): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}

/** The body as text, at most `maxBytes` (declared or received); a longer one is cut (the connection closed) and refused. */
async function readCapped(res: Dispatcher.ResponseData, maxBytes: number, phase: string, url: URL): Promise<string> {
  const tooLong = () => {
    discard(res);
    return new EdgewatchError('EW_MONITOR_PROTOCOL', `The answer to the ${phase} request at ${where(url)} is more than ${maxBytes} bytes long: no protocol answer is; check the URL points at the Picsellia platform or monitoring service.`, {
      details: { phase, url: where(url), status: res.statusCode, maxBytes },
    });
  };
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLong();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLong();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

/** EW_MONITOR_REDIRECT for a 3xx: where it points (origin and path only: a Location may carry a token in its query). */
function redirectError(phase: string, url: URL, status: number, location: string | string[] | undefined): EdgewatchError {
  let target = 'no Location';
  try {
    if (typeof location === 'string') target = where(new URL(location, url));
  } catch {
    target = 'an invalid Location';
  }
  return new EdgewatchError(
    'EW_MONITOR_REDIRECT',
    `The ${phase} request to ${where(url)} was answered HTTP ${status} (redirect to ${target}): a configuration error, not a problem of the data. Point --host (or the deployment's oracle_host) at the final URL, or fix the proxy; predictions stay in the outbox until then.`,
    { details: { phase, url: where(url), status, location: target } },
  );
}

/** Sends requests through one undici Agent, released by `close()`; every request ends on its timeout, the root signal or `close()`. */
export class HttpExchange {
  #options: HttpExchangeOptions;
  #agent: Agent;
  #closing = new AbortController();
  #signal: AbortSignal;
  #closed: Promise<void> | null = null;

  constructor(options: HttpExchangeOptions) {
    this.#options = { ...options };
    this.#signal = options.signal ? AbortSignal.any([this.#closing.signal, options.signal]) : this.#closing.signal;
    this.#agent = new Agent({ keepAliveTimeout: 4_000, connect: { timeout: options.requestTimeoutMs } });
  }

  /** True once `close()` was called or the root signal aborted: a request started now would fail. */
  get closing(): boolean {
    return this.#closed !== null || this.#signal.aborted;
  }

  /**
   * One HTTP exchange with a timeout covering headers and body. Transport failures throw
   * EW_MONITOR_TIMEOUT (the request timed out) or EW_MONITOR_CONNECT (anything else, including
   * the client closing); the undici error travels redacted as `cause`. A body longer than
   * `maxResponseBytes` throws EW_MONITOR_PROTOCOL, a 3xx EW_MONITOR_REDIRECT (no protocol call
   * redirects: the URL, its path prefix or a proxy is misconfigured). `phase` names the request in
   * messages and logs.
   */
  async request(phase: string, method: 'GET' | 'POST', url: URL, headers: Record<string, string>, body?: Uint8Array): Promise<HttpResponse> {
    const { requestTimeoutMs, redactor } = this.#options;
    const timeout = AbortSignal.timeout(requestTimeoutMs);
    const signal = AbortSignal.any([this.#signal, timeout]);
    const startedMs = performance.now();
    const sentAtMs = Date.now();
    try {
      const res = await request(url, {
        method,
        dispatcher: this.#agent,
        signal,
        headers: { 'user-agent': this.#options.userAgent, ...headers },
        ...(body === undefined ? {} : { body }),
      });
      this.#options.clock?.observe(res.headers.date, sentAtMs, Date.now(), phase);
      if (res.statusCode >= 300 && res.statusCode < 400) {
        discard(res);
        throw redirectError(phase, url, res.statusCode, res.headers.location);
      }
      const text = await readCapped(res, this.#options.maxResponseBytes ?? MAX_RESPONSE_BYTES, phase, url);
      this.#options.logger?.debug({ phase, method, url: where(url), status: res.statusCode, ms: Math.round(performance.now() - startedMs) }, 'monitor request');
      return { status: res.statusCode, headers: res.headers, text };
    } catch (err) {
      if (err instanceof EdgewatchError) throw err;
      const details = { phase, url: where(url) };
      if (timeout.aborted && !this.#signal.aborted) {
        throw new EdgewatchError('EW_MONITOR_TIMEOUT', `The ${phase} request to ${where(url)} timed out after ${requestTimeoutMs} ms.`, {
          cause: redactor.safeCause(err),
          details,
        });
      }
      const reason = this.#signal.aborted ? 'the client is closing' : redactor.redact(err instanceof Error ? err.message : String(err));
      const errCode = (err as { code?: unknown }).code;
      throw new EdgewatchError('EW_MONITOR_CONNECT', `The ${phase} request to ${where(url)} failed: ${reason}.`, {
        cause: redactor.safeCause(err),
        details: { ...details, ...(typeof errCode === 'string' ? { errorCode: errCode } : {}) },
      });
    }
  }

  /** Aborts in-flight requests and releases the connections. Idempotent: returns the same promise. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort(new Error('monitor client closed'));
      await this.#agent.destroy();
    })();
    return this.#closed;
  }
}
