/** readImage on good images: dimensions as displayed, upload bytes and content type, one decode per distinct spec, pixels, step timings. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { test } from 'node:test';
import sharp from 'sharp';
import { readImage, type ImageRead, type ReadTimings } from '../../src/read/index.js';
import type { InputSpec } from '../../src/types.js';
import { tempDir, writeAvif, writeGif, writeGreyJpeg, writeJpeg, writePng, writeTiff, writeWebp } from '../helpers/images.js';

const LIMITS = { maxPixels: 100_000_000, maxFileBytes: 64 * 1024 * 1024 };
const RGB224: InputSpec = { width: 224, height: 224, channels: 3, fit: 'fill' };
const GREY64: InputSpec = { width: 64, height: 64, channels: 1, fit: 'cover' };

/** `readImage` with the wall-clock time of the whole call, in milliseconds. */
async function timedRead(path: string, specs: readonly InputSpec[]): Promise<{ image: ImageRead; wallMs: number }> {
  const started = performance.now();
  const image = await readImage(path, specs, LIMITS);
  return { image, wallMs: performance.now() - started };
}

/**
 * The timings are exactly the four steps, each a finite number of milliseconds ≥ 0, and the steps
 * (which run one after another inside the call) add up to no more than the call took.
 */
function assertTimings(timings: ReadTimings, wallMs: number): void {
  assert.deepEqual(Object.keys(timings).sort(), ['decodeMs', 'encodeMs', 'readMs', 'resizeMs']);
  for (const [step, ms] of Object.entries(timings)) assert.ok(Number.isFinite(ms) && ms >= 0, `${step} is ${ms}`);
  const stepsMs = timings.readMs + timings.decodeMs + timings.resizeMs + timings.encodeMs;
  assert.ok(stepsMs <= wallMs, `the steps took ${stepsMs} ms within a call of ${wallMs} ms`);
}

/** Mean of one channel over a row of HWC pixels. */
function rowMean(pixels: Uint8Array, width: number, channels: number, row: number, channel: number): number {
  let sum = 0;
  for (let x = 0; x < width; x += 1) sum += pixels[(row * width + x) * channels + channel] ?? 0;
  return sum / width;
}

test('JPEG: original bytes uploaded as IMAGE/JPEG, sha256 of the file, size and mtime, pixels w*h*c', async (t) => {
  const dir = await tempDir(t);
  const path = await writeJpeg(dir, 'Camera 1.JPG', { width: 320, height: 240 });
  const original = await readFile(path);
  const { image, wallMs } = await timedRead(path, [RGB224]);
  assert.equal(image.path, path);
  assert.equal(image.filename, 'Camera 1.JPG');
  assert.equal(image.uploadFilename, 'Camera 1.JPG');
  assert.equal(image.contentType, 'IMAGE/JPEG');
  assert.equal(image.converted, false);
  assert.equal(image.format, 'jpeg');
  assert.deepEqual([image.width, image.height], [320, 240]);
  assert.ok(image.bytes.equals(original));
  assert.equal(image.sha256, createHash('sha256').update(original).digest('hex'));
  assert.equal(image.sizeBytes, original.length);
  assert.equal(image.mtimeMs, (await stat(path)).mtimeMs);
  assert.equal(image.inputs.length, 1);
  assert.deepEqual(image.inputs[0]?.spec, RGB224);
  assert.ok(image.inputs[0]?.pixels instanceof Uint8Array);
  assert.equal(image.inputs[0]?.pixels.length, 224 * 224 * 3);
  assertTimings(image.timings, wallMs);
  assert.equal(image.timings.resizeMs, 0, 'one spec: resize fused into the decode');
  assert.equal(image.timings.encodeMs, 0, 'not converted: nothing encoded');
});

test('EXIF orientation 6: a landscape-stored photo displays as portrait, in dimensions and in pixels', async (t) => {
  const dir = await tempDir(t);
  // Stored 80×40 with its left half red and right half blue; orientation 6 rotates 90° clockwise.
  const path = await writeJpeg(dir, 'rotated.jpg', { width: 80, height: 40, orientation: 6 });
  const stored = await sharp(path).metadata();
  assert.deepEqual([stored.width, stored.height, stored.orientation], [80, 40, 6]);
  const spec: InputSpec = { width: 40, height: 80, channels: 3, fit: 'fill' };
  const image = await readImage(path, [spec], LIMITS);
  assert.deepEqual([image.width, image.height], [40, 80]);
  const pixels = image.inputs[0]?.pixels ?? new Uint8Array();
  // Displayed: the stored left (red) half is now on top, the blue half at the bottom.
  assert.ok(rowMean(pixels, 40, 3, 5, 0) > 150 && rowMean(pixels, 40, 3, 5, 2) < 100, 'top is red');
  assert.ok(rowMean(pixels, 40, 3, 75, 2) > 150 && rowMean(pixels, 40, 3, 75, 0) < 100, 'bottom is blue');
});

test('PNG: original bytes uploaded as IMAGE/PNG; alpha dropped and 16-bit scaled to 8-bit pixels', async (t) => {
  const dir = await tempDir(t);
  const path = await writePng(dir, 'frame.png', { width: 64, height: 48, alpha: true });
  const image = await readImage(path, [RGB224], LIMITS);
  assert.equal(image.contentType, 'IMAGE/PNG');
  assert.equal(image.converted, false);
  assert.ok(image.bytes.equals(await readFile(path)));
  assert.deepEqual([image.width, image.height], [64, 48]);
  assert.equal(image.inputs[0]?.pixels.length, 224 * 224 * 3);

  const deep = await writePng(dir, 'deep.png', { width: 64, height: 48, sixteenBit: true });
  assert.equal((await sharp(deep).metadata()).depth, 'ushort');
  const deepImage = await readImage(deep, [{ width: 64, height: 48, channels: 3, fit: 'fill' }], LIMITS);
  const pixels = deepImage.inputs[0]?.pixels ?? new Uint8Array();
  // Left half is red (≈215), not clipped to 255 as a bare 16→8-bit cast would give.
  const red = rowMean(pixels.subarray(0, 16 * 3), 16, 3, 0, 0);
  assert.ok(red > 150 && red < 250, `red channel ${red}`);
});

for (const [label, write, format] of [
  ['WebP', writeWebp, 'webp'],
  ['TIFF', writeTiff, 'tiff'],
  ['GIF', writeGif, 'gif'],
  ['AVIF', writeAvif, 'heif'],
] as const) {
  test(`${label}: converted to a quality-90 JPEG of the displayed dimensions, uploaded as .jpg`, async (t) => {
    const dir = await tempDir(t);
    const path = await write(dir, `shot.${format}`, { width: 80, height: 40, orientation: label === 'GIF' ? undefined : 6 });
    const { image, wallMs } = await timedRead(path, [RGB224, GREY64]);
    assertTimings(image.timings, wallMs);
    const displayed = label === 'GIF' ? [80, 40] : [40, 80];
    assert.equal(image.format, format);
    assert.equal(image.converted, true);
    assert.equal(image.contentType, 'IMAGE/JPEG');
    assert.equal(image.uploadFilename, 'shot.jpg');
    assert.deepEqual([image.width, image.height], displayed);
    const original = await readFile(path);
    assert.equal(image.sha256, createHash('sha256').update(original).digest('hex'), 'hash of the original, not the conversion');
    assert.equal(image.sizeBytes, original.length);
    const uploaded = await sharp(image.bytes).metadata();
    assert.equal(uploaded.format, 'jpeg');
    assert.deepEqual([uploaded.width, uploaded.height], displayed);
    assert.ok(uploaded.orientation === undefined || uploaded.orientation === 1, 'orientation applied, not re-tagged');
    await sharp(image.bytes, { failOn: 'warning' }).raw().toBuffer();
    assert.equal(image.inputs[0]?.pixels.length, 224 * 224 * 3);
    assert.equal(image.inputs[1]?.pixels.length, 64 * 64 * 1);
  });
}

test('equal specs share one decode: inputs.length 1; distinct specs keep first-seen order', async (t) => {
  const dir = await tempDir(t);
  const path = await writeJpeg(dir, 'a.jpg', { width: 320, height: 240 });
  const same = await readImage(path, [RGB224, { ...RGB224 }], LIMITS);
  assert.equal(same.inputs.length, 1);
  assert.equal(same.timings.resizeMs, 0, 'one spec: resize fused into the decode');

  const { image: two, wallMs } = await timedRead(path, [GREY64, RGB224, GREY64]);
  assertTimings(two.timings, wallMs);
  assert.deepEqual(
    two.inputs.map((i) => i.spec),
    [GREY64, RGB224],
  );
  assert.equal(two.inputs[0]?.pixels.length, 64 * 64 * 1);
  assert.equal(two.inputs[1]?.pixels.length, 224 * 224 * 3);
  // The shared decode gives the same picture as the direct one, to within rounding.
  const direct = (await readImage(path, [RGB224], LIMITS)).inputs[0]?.pixels ?? new Uint8Array();
  const shared = two.inputs[1]?.pixels ?? new Uint8Array();
  let diff = 0;
  for (let i = 0; i < direct.length; i += 1) diff += Math.abs((direct[i] ?? 0) - (shared[i] ?? 0));
  assert.ok(diff / direct.length < 3, `mean difference ${diff / direct.length}`);
});

test('fit: contain letterboxes with black, cover and fill fill the frame; grey JPEG gives 3 channels when asked', async (t) => {
  const dir = await tempDir(t);
  const path = await writeJpeg(dir, 'wide.jpg', { width: 80, height: 40 });
  const contain: InputSpec = { width: 40, height: 40, channels: 3, fit: 'contain' };
  const cover: InputSpec = { width: 40, height: 40, channels: 3, fit: 'cover' };
  const image = await readImage(path, [contain, cover], LIMITS);
  const [boxed, cropped] = image.inputs.map((i) => i.pixels);
  assert.ok(boxed && cropped);
  assert.deepEqual([0, 1, 2].map((c) => rowMean(boxed, 40, 3, 0, c)), [0, 0, 0], 'top bar is black');
  assert.ok(rowMean(boxed, 40, 3, 20, 1) > 20, 'middle is the picture');
  assert.ok(rowMean(cropped, 40, 3, 0, 1) > 20, 'cover has no bars');

  const grey = await writeGreyJpeg(dir, 'grey.jpg', { width: 32, height: 32 });
  assert.equal((await sharp(grey).metadata()).channels, 1);
  const g = await readImage(grey, [{ width: 16, height: 16, channels: 3, fit: 'fill' }, { width: 16, height: 16, channels: 1, fit: 'fill' }], LIMITS);
  assert.equal(g.inputs[0]?.pixels.length, 16 * 16 * 3);
  assert.equal(g.inputs[1]?.pixels.length, 16 * 16 * 1);
});

test('progressive JPEG and no specs at all: still fully decoded, no inputs', async (t) => {
  const dir = await tempDir(t);
  const path = await writeJpeg(dir, 'p.jpg', { width: 320, height: 240, progressive: true });
  const image = await readImage(path, [], LIMITS);
  assert.deepEqual(image.inputs, []);
  assert.deepEqual([image.width, image.height], [320, 240]);
  const withSpec = await readImage(path, [RGB224], LIMITS);
  assert.equal(withSpec.inputs[0]?.pixels.length, 224 * 224 * 3);
});
