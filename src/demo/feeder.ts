/** The demo feeder: drops generated shape images into a folder at a steady pace, the way a camera would (write hidden, then rename). */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { createRng, makeShapeImage, SHAPE_LABELS } from './shapes.js';

export interface FeederOptions {
  folder: string;
  /** Milliseconds between two images. */
  intervalMs: number;
  /** Stop after this many images (default: never). */
  limit?: number;
  seed?: number;
  /** Called after each image lands. */
  onImage?: (path: string) => void;
}

/** A running feeder; `close()` is idempotent. */
export interface Feeder {
  readonly written: number;
  close(): Promise<void>;
}

/** Starts dropping images: one every `intervalMs`, every fifth one a PNG, the others JPEGs. */
export async function startFeeder(options: FeederOptions): Promise<Feeder> {
  await mkdir(options.folder, { recursive: true });
  const rng = createRng(options.seed ?? Date.now());
  let written = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();

  const dropOne = async (): Promise<void> => {
    const label = SHAPE_LABELS[Math.floor(rng() * SHAPE_LABELS.length)] as (typeof SHAPE_LABELS)[number];
    const seed = Math.floor(rng() * 2 ** 31);
    const jpeg = await makeShapeImage(label, seed, 256);
    const png = written % 5 === 4;
    const bytes = png ? await sharp(jpeg).png().toBuffer() : jpeg;
    const name = `frame-${String(Date.now())}-${String(written).padStart(6, '0')}.${png ? 'png' : 'jpg'}`;
    const temp = join(options.folder, `.${name}.part`);
    await writeFile(temp, bytes);
    await rename(temp, join(options.folder, name));
    written += 1;
    options.onImage?.(join(options.folder, name));
  };

  const tick = () => {
    if (closed || (options.limit !== undefined && written >= options.limit)) return;
    current = dropOne()
      .catch(() => undefined)
      .then(() => {
        if (!closed) timer = setTimeout(tick, options.intervalMs);
      });
  };
  tick();

  let closing: Promise<void> | undefined;
  return {
    get written() {
      return written;
    },
    close() {
      closing ??= (async () => {
        closed = true;
        clearTimeout(timer);
        await current;
      })();
      return closing;
    },
  };
}
