/** The JSONL sink: one line per record appended (and fsynced) to a file, rotated by size to `<file>.1` … `<file>.N`, the oldest deleted. */
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SinkRow } from '../state/sink-queue.js';
import { diskDown, type DeliveryOutcome, type SinkTarget } from './sink.js';

export interface JsonlOptions {
  path: string;
  /** Size from which the next write goes to a new file. */
  maxBytes: number;
  /** Rotated files kept besides the current one. */
  maxFiles: number;
}

const ignoreMissing = (err: NodeJS.ErrnoException) => {
  if (err.code !== 'ENOENT') throw err;
};

export class JsonlSink implements SinkTarget {
  readonly name = 'jsonl';
  readonly batchSize = 200;
  readonly #o: JsonlOptions;
  /** Bytes in the current file (read at the first write). */
  #size: number | undefined;

  constructor(options: JsonlOptions) {
    this.#o = options;
  }

  async #rotate(): Promise<void> {
    const { path, maxFiles } = this.#o;
    await unlink(`${path}.${maxFiles}`).catch(ignoreMissing);
    for (let i = maxFiles - 1; i >= 1; i -= 1) await rename(`${path}.${i}`, `${path}.${i + 1}`).catch(ignoreMissing);
    await rename(path, `${path}.1`).catch(ignoreMissing);
    this.#size = 0;
  }

  async deliver(rows: readonly SinkRow[]): Promise<DeliveryOutcome[]> {
    try {
      if (this.#size === undefined) {
        await mkdir(dirname(this.#o.path), { recursive: true });
        this.#size = await stat(this.#o.path).then((s) => s.size, (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? 0 : Promise.reject(err)));
      }
      // Lines go to the current file until it would pass maxBytes; a batch may span a rotation.
      let start = 0;
      while (start < rows.length) {
        const lines: Buffer[] = [];
        let bytes = 0;
        let end = start;
        for (; end < rows.length; end += 1) {
          const line = Buffer.from(`${(rows[end] as SinkRow).record}\n`, 'utf8');
          if ((this.#size as number) + bytes + line.length > this.#o.maxBytes && (lines.length > 0 || (this.#size as number) > 0)) break;
          lines.push(line);
          bytes += line.length;
        }
        if (lines.length === 0) {
          await this.#rotate();
          continue;
        }
        await this.#append(Buffer.concat(lines));
        this.#size = (this.#size as number) + bytes;
        start = end;
      }
      return rows.map(() => ({ kind: 'delivered' }));
    } catch (err) {
      this.#size = undefined;
      return rows.map(() => ({ kind: 'retry', code: 'EW_SINK_WRITE', message: `cannot append to ${this.#o.path}: ${(err as Error).message}`, unreachable: diskDown(err) }));
    }
  }

  async #append(data: Buffer): Promise<void> {
    const handle = await open(this.#o.path, 'a', 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } catch (err) {
      // No torn line left behind (e.g. the disk filled mid-write): the batch is written again whole.
      await handle.truncate(this.#size).catch(() => undefined);
      throw err;
    } finally {
      await handle.close();
    }
  }

  async close(): Promise<void> {}
}
