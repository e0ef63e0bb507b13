/** Small HTTP helpers of the embedded service: JSON replies, bounded body reading, and the error type routes throw. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An HTTP error reply: status plus a JSON body that always has `message` (the SDK reads it). */
export class HttpError extends Error {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** Extra response headers (e.g. `retry-after`). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.body = { message, ...extra };
    this.headers = headers;
  }
}

/** Sends `body` as JSON with `status`. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

/** Discarded bytes after which an oversized upload is cut instead of drained (so that its client can read the 413). */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Reads the whole body, refusing more than `maxBytes` with a 413. An oversized body is drained (up to 64 MiB more) before
 * the reply so that the client, still writing, can read it; `res.shouldKeepAlive` is cleared so the connection closes.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const tooLarge = (size: number) => new HttpError(413, `Request body is ${Number.isFinite(declared) ? declared : `over ${size}`} bytes; the limit is ${maxBytes}.`, { limitBytes: maxBytes });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = Number.isFinite(declared) && declared > maxBytes;
    if (over && declared > maxBytes + DRAIN_LIMIT_BYTES) {
      reject(tooLarge(declared));
      return;
    }
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) over = true;
      if (over) {
        chunks.length = 0;
        if (size > maxBytes + DRAIN_LIMIT_BYTES) {
          req.removeAllListeners('data');
          req.removeAllListeners('end');
          reject(tooLarge(size));
        }
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => (over ? reject(tooLarge(size)) : resolve(Buffer.concat(chunks, size))));
    req.once('error', reject);
  });
}

/** Parses a body as JSON whatever its Content-Type (the SDK sends none), with `parse` if given; 400 when it is not JSON. */
export function parseJson(body: Buffer, parse: (body: Buffer) => unknown = (b) => JSON.parse(b.toString('utf8'))): unknown {
  try {
    return parse(body);
  } catch {
    throw new HttpError(400, 'Request body is not valid JSON.');
  }
}

/** A percent-decoded URL path segment, or null when its percent-encoding is malformed (`%ZZ`, a cut UTF-8 sequence). */
export function decodeSegment(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/** A percent-decoded URL path segment; 400 when its percent-encoding is malformed. Call it after the credentials are checked. */
export function decodedSegment(raw: string): string {
  const decoded = decodeSegment(raw);
  if (decoded === null) throw malformedSegment();
  return decoded;
}

/** The 400 of a path segment whose percent-encoding is malformed. */
export function malformedSegment(): HttpError {
  return new HttpError(400, 'Malformed percent-encoding in the URL path: encode ids with encodeURIComponent (a % must start %XX of a UTF-8 sequence).');
}

/** The token of an `Authorization: Bearer <token>` header, if any. */
export function bearerOf(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? (m[1] as string) : null;
}

/** Value of one cookie of the request. */
export function cookieOf(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** 405 unless the request uses one of `methods`. */
export function allow(req: IncomingMessage, ...methods: string[]): void {
  if (!methods.includes(req.method ?? '')) throw new HttpError(405, `Method ${req.method ?? ''} is not allowed here; use ${methods.join(' or ')}.`, { allow: methods });
}

/** Query parameter `name` as epoch seconds (a number, or an ISO 8601 date); undefined when absent, NaN when it is neither. */
export function epochSecondsParam(url: URL, name: string): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  const n = Number(raw);
  if (Number.isFinite(n)) return n;
  const d = Date.parse(raw);
  return Number.isFinite(d) ? d / 1000 : Number.NaN;
}
