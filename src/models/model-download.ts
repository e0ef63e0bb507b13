/** Downloads one model file from object storage: a presigned URL fetched without the platform's token, Content-Length required and checked, sha256 computed, one new URL on a 403. */
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { EdgewatchError } from '../errors.js';
import { where } from '../monitor/http-exchange.js';

/** The bytes of a downloaded file and their digest. */
export interface DownloadedFile {
  bytes: Buffer;
  sha256: string;
}

export interface DownloadOptions {
  /** The ModelFile's own `presigned_url`, when it has one. */
  presignedUrl?: string | null | undefined;
  /** Asks the platform for a (new) URL: the first one when there is none, and once more after a 403 (expired). */
  newUrl: () => Promise<string>;
  /** Largest file accepted. */
  maxBytes: number;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** For messages: which file this is. */
  label: string;
}

/**
 * GETs the file with no Authorization header (a storage URL must never see the API token), as the
 * SDK does: a 403 asks for a new URL once (presigned URLs expire); a 2xx without Content-Length, a
 * body of another length, or more than `maxBytes` is EW_MODEL_DOWNLOAD. Messages never show the
 * URL's query (its signature).
 */
export async function downloadModelFile(o: DownloadOptions): Promise<DownloadedFile> {
  let url = o.presignedUrl ? o.presignedUrl : await o.newUrl();
  for (let attempt = 0; ; attempt++) {
    const result = await getOnce(url, o);
    if (result !== 'expired') return result;
    if (attempt > 0) throw new EdgewatchError('EW_MODEL_DOWNLOAD', `${o.label}: object storage refused the download twice (HTTP 403), with a new presigned URL too: check the storage connector.`);
    url = await o.newUrl();
  }
}

async function getOnce(urlText: string, o: DownloadOptions): Promise<DownloadedFile | 'expired'> {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw new EdgewatchError('EW_MODEL_DOWNLOAD', `${o.label}: the presigned URL is not a URL.`);
  }
  const fail = (message: string, cause?: unknown) => new EdgewatchError('EW_MODEL_DOWNLOAD', `${o.label}: ${message} (${where(url)}).`, { cause, details: { url: where(url) } });
  const signal = o.signal ? AbortSignal.any([o.signal, AbortSignal.timeout(o.timeoutMs)]) : AbortSignal.timeout(o.timeoutMs);
  let res;
  try {
    res = await request(url, { method: 'GET', signal, headers: { 'user-agent': 'edgewatch' } });
  } catch (err) {
    throw fail(`download failed: ${(err as { code?: string }).code ?? (err as Error).name}`);
  }
  if (res.statusCode === 403) {
    await res.body.dump();
    return 'expired';
  }
  if (res.statusCode < 200 || res.statusCode >= 300) {
    await res.body.dump();
    throw fail(`object storage answered HTTP ${res.statusCode}`);
  }
  const header = res.headers['content-length'];
  const length = typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : undefined;
  if (length === undefined) {
    await res.body.dump();
    throw fail('object storage sent no Content-Length');
  }
  if (length > o.maxBytes) {
    await res.body.dump();
    throw fail(`the file is ${length} bytes, more than the ${o.maxBytes} accepted`);
  }
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let received = 0;
  try {
    for await (const chunk of res.body) {
      const b = chunk as Buffer;
      received += b.length;
      if (received > length) throw fail(`more bytes than the ${length} announced`);
      hash.update(b);
      chunks.push(b);
    }
  } catch (err) {
    if (err instanceof EdgewatchError) throw err;
    throw fail(`download interrupted: ${(err as Error).message}`);
  }
  if (received !== length) throw fail(`got ${received} bytes of the ${length} announced`);
  return { bytes: Buffer.concat(chunks, received), sha256: hash.digest('hex') };
}
