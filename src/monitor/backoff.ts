/** Retry timing for monitor sends: capped exponential backoff with full jitter, and Retry-After parsing. */

/**
 * Delay before the next attempt, in milliseconds: **full jitter** (AWS architecture blog,
 * "Exponential Backoff and Jitter"): a uniform draw in `[0, min(maxMs, baseMs × 2^(attempt−1)))`.
 * Full jitter spreads a fleet of agents that all lost the service at the same moment, so they do
 * not come back in lock-step when it returns. `attempt` counts failed attempts so far (1 after the
 * first failure); values below 1 are treated as 1. `random` must return a number in `[0, 1)`.
 */
export function backoffDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  const base = Math.max(0, baseMs);
  const cap = Math.max(0, maxMs);
  // 2^52 already exceeds any sane cap; clamping the exponent keeps the product finite.
  const ceilingMs = Math.min(cap, base * 2 ** Math.min(n - 1, 52));
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(unit * ceilingMs);
}

/**
 * Parses an HTTP `Retry-After` header (RFC 9110 §10.2.3): either delay-seconds (`"120"`) or an
 * HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`). Returns the delay in milliseconds from `nowMs`
 * (never negative), or null when the header is absent or unparsable. No upper bound is applied:
 * the caller caps it with its own maximum delay.
 */
export function parseRetryAfter(headerValue: string | readonly string[] | null | undefined, nowMs: number = Date.now()): number | null {
  const raw = Array.isArray(headerValue) ? headerValue[0] : headerValue;
  if (typeof raw !== 'string') return null;
  const value = raw.trim();
  if (value === '') return null;
  if (/^\d+$/.test(value)) {
    const seconds = Number(value);
    return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : null;
  }
  // An HTTP-date always names a weekday and a month: reject bare numbers such as "1.5" or "-3",
  // which Date.parse would read as years.
  if (!/[a-z]{3}/i.test(value)) return null;
  const dateMs = Date.parse(value);
  if (Number.isNaN(dateMs)) return null;
  return Math.max(0, dateMs - nowMs);
}
