/** The sidecar sink: one JSON file per image, in a results folder (`<image name>.<id>.json`) or beside the image (`<image>.json`), written atomically; a late shadow is merged into it. */
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../fs-atomic.js';
import type { SinkRow } from '../state/sink-queue.js';
import type { LateShadowRecord, SinkRecord } from './record.js';
import { diskDown, type DeliveryOutcome, type SinkTarget } from './sink.js';

/** `beside`: next to the image; anything else is the results folder. */
export const BESIDE = 'beside';

/** Where the sidecar of `record` goes. In a results folder the image id's first 12 characters keep same-named images of different folders apart. */
export function sidecarPath(setting: string, record: Pick<SinkRecord, 'path' | 'imageId'>): string {
  if (setting === BESIDE) return `${record.path}.json`;
  return join(setting, `${basename(record.path)}.${record.imageId.slice(0, 12)}.json`);
}

/** The sidecar's current content, or undefined when there is none (or it is not one of ours for this image). */
async function currentSidecar(path: string, imageId: string): Promise<SinkRecord | LateShadowRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as SinkRecord | LateShadowRecord;
    return parsed.imageId === imageId ? parsed : undefined;
  } catch {
    return undefined; // a file that is not JSON is replaced
  }
}

/**
 * What the sidecar holds after `incoming`: a late shadow is added to the image's record already
 * written; an image's record written again after it (delivered twice, or retried from dead letters) keeps it.
 */
export function mergeSidecar(existing: SinkRecord | LateShadowRecord | undefined, incoming: SinkRecord | LateShadowRecord): SinkRecord | LateShadowRecord {
  if (incoming.schema === 'edgewatch.late-shadow/1') {
    return existing?.schema === 'edgewatch.prediction/1' ? { ...existing, shadow: incoming.shadow } : incoming;
  }
  return existing?.shadow !== undefined && incoming.shadow === undefined ? { ...incoming, shadow: existing.shadow } : incoming;
}

export class SidecarSink implements SinkTarget {
  readonly name = 'sidecar';
  readonly batchSize = 32;
  readonly #setting: string;
  #folderReady = false;

  constructor(setting: string) {
    this.#setting = setting;
  }

  async deliver(rows: readonly SinkRow[]): Promise<DeliveryOutcome[]> {
    const out: DeliveryOutcome[] = [];
    for (const row of rows) {
      try {
        if (!this.#folderReady && this.#setting !== BESIDE) {
          await mkdir(this.#setting, { recursive: true });
          this.#folderReady = true;
        }
        const incoming = JSON.parse(row.record) as SinkRecord | LateShadowRecord;
        const path = sidecarPath(this.#setting, incoming);
        const record = mergeSidecar(await currentSidecar(path, incoming.imageId), incoming);
        await writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
        out.push({ kind: 'delivered' });
      } catch (err) {
        this.#folderReady = false;
        out.push({ kind: 'retry', code: 'EW_SINK_WRITE', message: `cannot write the sidecar: ${(err as Error).message}`, unreachable: diskDown(err) });
        // The next ones would fail the same way (disk full, folder gone): they wait for the retry.
        while (out.length < rows.length) out.push({ kind: 'untried' });
      }
    }
    return out;
  }

  async close(): Promise<void> {}
}
