/** Builds the demo models' synthetic data sets: shape images rendered at several sizes, resized with sharp the way the read stage does. */
import sharp from 'sharp';
import { createRng, renderShape, SHAPE_LABELS } from '../src/demo/shapes.js';

/** N images of side `size`, HWC uint8 RGB packed one after another, with their label indexes. */
export interface ShapeDataset {
  size: number;
  count: number;
  pixels: Uint8Array;
  labels: Int32Array;
}

const RENDER_SIZES = [32, 48, 64, 96, 128, 256];

/**
 * Renders `count` images (classes balanced, order shuffled) reproducibly from `seed`. Each image
 * is drawn at a random size, sometimes round-tripped through JPEG, then resized to `size`×`size`
 * with sharp (fill), like a camera image reaching a model through the read stage.
 */
export async function makeShapeDataset(count: number, seed: number, size: number): Promise<ShapeDataset> {
  const rng = createRng(seed);
  const pixels = new Uint8Array(count * size * size * 3);
  const labels = new Int32Array(count);
  const jobs: Array<() => Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const label = i % SHAPE_LABELS.length;
    const renderSize = RENDER_SIZES[Math.floor(rng() * RENDER_SIZES.length)]!;
    const jpegQuality = rng() < 0.5 ? 0 : Math.floor(60 + rng() * 35);
    const imageSeed = Math.floor(rng() * 2 ** 32);
    labels[i] = label;
    jobs.push(async () => {
      const image = renderShape(SHAPE_LABELS[label]!, createRng(imageSeed), renderSize);
      let pipeline = sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } });
      if (jpegQuality > 0) {
        const jpeg = await pipeline.jpeg({ quality: jpegQuality }).toBuffer();
        pipeline = sharp(jpeg);
      }
      const resized = await pipeline.resize(size, size, { fit: 'fill' }).removeAlpha().raw().toBuffer();
      pixels.set(resized, i * size * size * 3);
    });
  }
  for (let start = 0; start < jobs.length; start += 64) {
    await Promise.all(jobs.slice(start, start + 64).map((job) => job()));
  }
  shuffleInPlace(pixels, labels, size * size * 3, rng);
  return { size, count, pixels, labels };
}

function shuffleInPlace(pixels: Uint8Array, labels: Int32Array, stride: number, rng: () => number): void {
  const tmp = new Uint8Array(stride);
  for (let i = labels.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const li = labels[i]!;
    labels[i] = labels[j]!;
    labels[j] = li;
    tmp.set(pixels.subarray(i * stride, (i + 1) * stride));
    pixels.copyWithin(i * stride, j * stride, (j + 1) * stride);
    pixels.set(tmp, j * stride);
  }
}
