/**
 * Presigned storage URLs the service signs and checks itself (HMAC-SHA256 with a key derived from its secret):
 * a download URL is bound to one object name, the GET method and an expiry; an upload is a presigned POST whose
 * signed policy names the object, the expiry and the size cap. Neither carries nor needs the API token.
 */
import { createHmac } from 'node:crypto';
import { safeEqual } from '../safe-equal.js';

/** Lifetime of a presigned URL (the SDK's docstring: "expires after 1 hour"). */
export const PRESIGNED_TTL_S = 3600;
/** Path of object downloads: `/storage/object/<url-encoded object name>?expires=&signature=`. */
export const DOWNLOAD_PREFIX = '/storage/object/';
/** Path of presigned POST uploads. */
export const UPLOAD_PATH = '/storage/upload';

/** What a signed upload policy allows. */
export interface UploadPolicy {
  object_name: string;
  /** Epoch seconds. */
  expires: number;
  max_bytes: number;
}

/** Signs and verifies storage URLs with a key derived from the service's secret (never the API token). */
export class UrlSigner {
  readonly #key: Buffer;
  readonly #now: () => number;

  constructor(secret: Buffer, now: () => number = () => Date.now() / 1000) {
    this.#key = createHmac('sha256', secret).update('edgewatch storage urls v1').digest();
    this.#now = now;
  }

  #mac(text: string): string {
    return createHmac('sha256', this.#key).update(text).digest('base64url');
  }

  /** A download URL of `objectName` under `baseUrl`, valid `ttlS` seconds. */
  downloadUrl(baseUrl: string, objectName: string, ttlS = PRESIGNED_TTL_S): string {
    const expires = Math.floor(this.#now()) + ttlS;
    return `${baseUrl}${DOWNLOAD_PREFIX}${encodeURIComponent(objectName)}?expires=${expires}&signature=${this.#mac(`GET\n${objectName}\n${expires}`)}`;
  }

  /** Checks a download request: 'ok', 'expired' or 'invalid' (wrong object, tampered or missing signature). */
  checkDownload(objectName: string, expiresRaw: string | null, signature: string | null): 'ok' | 'expired' | 'invalid' {
    if (expiresRaw === null || signature === null || !/^\d{1,12}$/.test(expiresRaw)) return 'invalid';
    if (!safeEqual(signature, this.#mac(`GET\n${objectName}\n${expiresRaw}`))) return 'invalid';
    return Number(expiresRaw) < this.#now() ? 'expired' : 'ok';
  }

  /** The form fields of a presigned POST for `objectName` (MinIO/S3 style: the client posts them back with the file). */
  uploadFields(objectName: string, maxBytes: number, ttlS = PRESIGNED_TTL_S): Record<string, string> {
    const policy: UploadPolicy = { object_name: objectName, expires: Math.floor(this.#now()) + ttlS, max_bytes: maxBytes };
    const encoded = Buffer.from(JSON.stringify(policy)).toString('base64url');
    return { key: objectName, policy: encoded, signature: this.#mac(`POST\n${encoded}`) };
  }

  /** The policy of posted upload fields, or why they are refused. */
  checkUpload(fields: { key: string | null; policy: string | null; signature: string | null }): { ok: true; policy: UploadPolicy } | { ok: false; reason: 'expired' | 'invalid' } {
    const { key, policy, signature } = fields;
    if (key === null || policy === null || signature === null || !safeEqual(signature, this.#mac(`POST\n${policy}`))) return { ok: false, reason: 'invalid' };
    let parsed: UploadPolicy;
    try {
      parsed = JSON.parse(Buffer.from(policy, 'base64url').toString('utf8')) as UploadPolicy;
    } catch {
      return { ok: false, reason: 'invalid' };
    }
    if (parsed.object_name !== key) return { ok: false, reason: 'invalid' };
    if (parsed.expires < this.#now()) return { ok: false, reason: 'expired' };
    return { ok: true, policy: parsed };
  }
}
