/** Every kind of bad image gets its exact code from readImage, is moved aside by rejectFile with its reason, and nothing else is lost. */
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { isEdgewatchError, type ErrorCode } from '../../src/errors.js';
import { readImage, rejectFile } from '../../src/read/index.js';
import type { InputSpec } from '../../src/types.js';
import { BAD_IMAGES, tempDir, writeJpeg, writePng } from '../helpers/images.js';

const LIMITS = { maxPixels: 100_000_000, maxFileBytes: 64 * 1024 * 1024 };
const SPECS: InputSpec[] = [{ width: 64, height: 64, channels: 3, fit: 'fill' }];

async function readError(path: string, specs: InputSpec[] = SPECS, limits = LIMITS): Promise<{ code: ErrorCode; message: string }> {
  try {
    await readImage(path, specs, limits);
  } catch (err) {
    assert.ok(isEdgewatchError(err), `an EdgewatchError, got ${String(err)}`);
    return { code: err.code, message: err.message };
  }
  assert.fail(`${path} was read without error`);
}

for (const bad of BAD_IMAGES) {
  for (const specs of [SPECS, [SPECS[0] as InputSpec, { width: 32, height: 32, channels: 1, fit: 'cover' } as InputSpec]]) {
    test(`${bad.kind} (${specs.length} spec${specs.length > 1 ? 's' : ''}) → ${bad.code}`, async (t) => {
      const dir = await tempDir(t);
      const path = await bad.make(dir);
      const { code, message } = await readError(path, specs);
      assert.equal(code, bad.code);
      assert.ok(message.includes(path), `the message names the file: ${message}`);
    });
  }
}

test('each bad file is moved to rejected/ with a reason file; good files beside them stay and read fine', async (t) => {
  const dir = await tempDir(t);
  const rejected = join(dir, 'rejected');
  const good = await writeJpeg(dir, 'good.jpg');
  const goodPng = await writePng(dir, 'good.png');
  for (const bad of BAD_IMAGES) {
    const path = await bad.make(dir);
    let error;
    try {
      await readImage(path, SPECS, LIMITS);
    } catch (err) {
      error = err;
    }
    assert.ok(isEdgewatchError(error, bad.code), bad.kind);
    if (bad.code === 'EW_WATCH_VANISHED') {
      await assert.rejects(rejectFile(path, rejected, error), (e) => isEdgewatchError(e, 'EW_WATCH_VANISHED'));
      continue;
    }
    const { movedTo, reasonFile } = await rejectFile(path, rejected, error);
    await assert.rejects(stat(path), { code: 'ENOENT' });
    assert.equal(movedTo, join(rejected, path.slice(dir.length + 1)));
    assert.equal(reasonFile, `${movedTo}.reason.json`);
    await stat(movedTo);
    const reason = JSON.parse(await readFile(reasonFile, 'utf8'));
    assert.equal(reason.code, bad.code);
    assert.equal(reason.message, error.message);
    assert.equal(reason.originalPath, path);
    assert.ok(!Number.isNaN(Date.parse(reason.rejectedAt)));
  }
  const names = (await readdir(rejected)).sort();
  assert.equal(names.length, (BAD_IMAGES.length - 1) * 2, `one file and one reason per bad input: ${names.join(', ')}`);
  assert.ok(!names.some((n) => n.endsWith('.tmp')), 'no temporary file left');
  assert.deepEqual((await readdir(dir)).sort(), ['good.jpg', 'good.png', 'rejected']);
  await readImage(good, SPECS, LIMITS);
  await readImage(goodPng, SPECS, LIMITS);
});

test('a file larger than maxFileBytes → EW_IMAGE_TOO_LARGE before it is read; pixel limit honours maxPixels', async (t) => {
  const dir = await tempDir(t);
  const path = await writeJpeg(dir, 'big.jpg', { width: 200, height: 100 });
  const size = (await stat(path)).size;
  assert.equal((await readError(path, SPECS, { ...LIMITS, maxFileBytes: size - 1 })).code, 'EW_IMAGE_TOO_LARGE');
  await readImage(path, SPECS, { ...LIMITS, maxFileBytes: size });
  assert.equal((await readError(path, SPECS, { ...LIMITS, maxPixels: 200 * 100 - 1 })).code, 'EW_IMAGE_TOO_LARGE');
  await readImage(path, SPECS, { ...LIMITS, maxPixels: 200 * 100 });
});

test('truncated WebP, GIF, TIFF and AVIF → EW_IMAGE_TRUNCATED; damaged PNG data with its end intact → EW_IMAGE_CORRUPT', async (t) => {
  const dir = await tempDir(t);
  const pixels = Buffer.alloc(160 * 120 * 3);
  for (let i = 0; i < pixels.length; i += 1) pixels[i] = (i * 7919) & 255;
  const raw = { raw: { width: 160, height: 120, channels: 3 as const } };
  const encoded: Record<string, Buffer> = {
    webp: await sharp(pixels, raw).webp().toBuffer(),
    gif: await sharp(pixels, raw).gif().toBuffer(),
    tiff: await sharp(pixels, raw).tiff().toBuffer(),
    avif: await sharp(pixels, raw).avif({ effort: 0 }).toBuffer(),
  };
  for (const [ext, bytes] of Object.entries(encoded)) {
    const path = join(dir, `cut.${ext}`);
    await writeFile(path, bytes.subarray(0, bytes.length >> 1));
    assert.equal((await readError(path)).code, 'EW_IMAGE_TRUNCATED', ext);
  }
  const png = await sharp(pixels, raw).png().toBuffer();
  const damaged = Buffer.from(png);
  for (let i = 200; i < damaged.length - 100; i += 997) damaged[i] = (damaged[i] ?? 0) ^ 0x55;
  const path = join(dir, 'damaged.png');
  await writeFile(path, damaged);
  assert.equal((await readError(path)).code, 'EW_IMAGE_CORRUPT');
});
