/** Keeps the API token and JWTs out of every message, detail, cause and log line the monitor stage produces. */

const MASK = '[redacted]';
/** JWTs remembered for redaction after they are replaced (a server may echo an old one). */
const MAX_REMEMBERED = 8;

/** Replaces every known secret in a string by `[redacted]`. */
export class Redactor {
  #secrets: string[] = [];

  constructor(secrets: readonly string[] = []) {
    for (const s of secrets) this.add(s);
  }

  /** Remembers one more secret (ignored when empty). The API token is never forgotten. */
  add(secret: string): void {
    if (secret === '' || this.#secrets.includes(secret)) return;
    this.#secrets.push(secret);
    if (this.#secrets.length > MAX_REMEMBERED + 1) this.#secrets.splice(1, 1);
  }

  /** `text` with every secret masked. Longer secrets first, so one containing another is fully masked. */
  redact(text: string): string {
    let out = text;
    for (const s of [...this.#secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join(MASK);
    return out;
  }

  /**
   * A fresh Error carrying only the redacted name, message and `code` of `err`: safe to attach as
   * `cause`. Third-party errors are never attached as they are (their fields are not ours to audit).
   */
  safeCause(err: unknown): Error {
    const source = err instanceof Error ? err : new Error(String(err));
    const copy = new Error(this.redact(source.message));
    copy.name = source.name;
    const code = (source as { code?: unknown }).code;
    if (typeof code === 'string') (copy as Error & { code: string }).code = code;
    return copy;
  }
}

/** Longest server message kept in errors and outcomes. */
export const MAX_SERVER_MESSAGE_CHARS = 500;

/**
 * The useful part of an error response: JSON `message` (with `detail` appended, string or list),
 * else `detail`, else the raw text; redacted and truncated to MAX_SERVER_MESSAGE_CHARS.
 */
export function serverMessage(text: string, redactor: Redactor): string {
  let message = text.trim();
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const o = parsed as Record<string, unknown>;
      const detail = Array.isArray(o.detail) ? o.detail.map((d) => (typeof d === 'string' ? d : JSON.stringify(d))).join('; ') : o.detail;
      const parts = [o.message, detail].filter((p): p is string => typeof p === 'string' && p !== '');
      if (parts.length > 0) message = parts.join(': ');
    }
  } catch {
    // Not JSON: the raw text is the message.
  }
  message = redactor.redact(message);
  return message.length > MAX_SERVER_MESSAGE_CHARS ? `${message.slice(0, MAX_SERVER_MESSAGE_CHARS)}…` : message;
}
