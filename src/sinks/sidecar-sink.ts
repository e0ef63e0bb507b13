/** The sidecar sink: one JSON file per image, in a results folder (`<image name>.<id>.json`) or beside the image (`<image>.json`), written atomically. */
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../fs-atomic.js';
import type { SinkRow } from '../state/sink-queue.js';
import type { SinkRecord } from './record.js';
import { diskDown, type DeliveryOutcome, type SinkTarget } from './sink.js';

/** `beside`: next to the image; anything else is the results folder. */
export const BESIDE = 'beside';

/** Where the sidecar of `record` goes. In a results folder the image id's first 12 characters keep same-named images of different folders apart. */
export function sidecarPath(setting: string, record: Pick<SinkRecord, 'path' | 'imageId'>): string {
  if (setting === BESIDE) return `${record.path}.json`;
  return join(setting, `${basename(record.path)}.${record.imageId.slice(0, 12)}.json`);
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
        const record = JSON.parse(row.record) as SinkRecord;
        await writeFileAtomic(sidecarPath(this.#setting, record), `${JSON.stringify(record, null, 2)}\n`);
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
