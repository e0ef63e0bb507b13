/** Constant-time comparison of secrets: API token, dashboard key, JWT signatures. */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time string comparison (hashing first so that lengths do not leak). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
