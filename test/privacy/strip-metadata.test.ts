/** --strip-metadata: GPS (or all metadata but orientation) leaves the uploaded bytes losslessly; the stored datalake image is checked end to end. */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { stripMetadata } from '../../src/privacy/strip-metadata.js';
import { eraseGps } from '../../src/privacy/tiff-exif.js';
import { picturePixels } from '../helpers/images.js';
import { agentArgs, startAgent, startService, tempFolder, waitUntil } from '../helpers/service.js';

const SECRET = 'SECRETDATUM';
const GPS = { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 1234/100', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 3999/100', GPSMapDatum: SECRET };
const XMP = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,30.2N"/></rdf:RDF></x:xmpmeta>`;

/** A photo as a phone writes it: orientation 6, camera make, GPS IFD. */
async function photo(format: 'jpeg' | 'png', o: { width?: number; height?: number; xmp?: boolean } = {}): Promise<Buffer> {
  const width = o.width ?? 96;
  const height = o.height ?? 64;
  let image = sharp(picturePixels(width, height), { raw: { width, height, channels: 3 } })
    .withMetadata({ orientation: 6 })
    .withExifMerge({ IFD0: { Make: 'TestCam' }, IFD3: GPS });
  if (o.xmp) image = image.withXmp(XMP);
  return format === 'jpeg' ? image.jpeg({ quality: 90 }).toBuffer() : image.png().toBuffer();
}

async function pixels(bytes: Buffer): Promise<Buffer> {
  return sharp(bytes).raw().toBuffer();
}

test('gps: the GPS IFD is gone, the rest of EXIF and every pixel stay (JPEG)', async () => {
  const original = await photo('jpeg', { xmp: true });
  assert.ok(original.includes(SECRET) && original.includes('GPSLatitude'), 'the fixture carries GPS in EXIF and XMP');
  const stripped = stripMetadata(original, 'IMAGE/JPEG', 'gps');
  assert.ok(!stripped.includes(SECRET), 'GPS values erased');
  assert.ok(!stripped.includes('exif:GPS'), 'XMP naming GPS dropped');
  const meta = await sharp(stripped).metadata();
  assert.equal(meta.orientation, 6);
  assert.ok(meta.exif?.includes('TestCam'), 'other EXIF tags kept');
  assert.ok(!hasGpsPointer(meta.exif as Buffer), 'no GPS IFD pointer left in IFD0');
  assert.deepEqual(await pixels(stripped), await pixels(original), 'lossless');
});

test('all: only orientation is left (JPEG), pixels unchanged', async () => {
  const original = await photo('jpeg', { xmp: true });
  const stripped = stripMetadata(original, 'IMAGE/JPEG', 'all');
  const meta = await sharp(stripped).metadata();
  assert.equal(meta.orientation, 6);
  assert.ok(!stripped.includes('TestCam') && !stripped.includes(SECRET) && !stripped.includes('xmpmeta'));
  assert.equal(meta.xmp, undefined);
  assert.deepEqual(await pixels(stripped), await pixels(original));
});

test('none, or nothing to remove: the very same buffer (no copy)', async () => {
  const original = await photo('jpeg');
  assert.equal(stripMetadata(original, 'IMAGE/JPEG', 'none'), original);
  const plain = await sharp(picturePixels(32, 32), { raw: { width: 32, height: 32, channels: 3 } }).jpeg().toBuffer();
  assert.equal(stripMetadata(plain, 'IMAGE/JPEG', 'gps'), plain);
  assert.equal(stripMetadata(plain, 'IMAGE/JPEG', 'all'), plain);
});

test('PNG: GPS removed from eXIf (CRC rewritten), all keeps only orientation', async () => {
  const original = await photo('png');
  assert.ok(original.includes(SECRET), 'sharp wrote an eXIf chunk with GPS');
  for (const mode of ['gps', 'all'] as const) {
    const stripped = stripMetadata(original, 'IMAGE/PNG', mode);
    assert.ok(!stripped.includes(SECRET), mode);
    const meta = await sharp(stripped).metadata(); // a bad CRC fails here
    assert.equal(meta.orientation, 6, mode);
    assert.equal(stripped.includes('TestCam'), mode === 'gps', mode);
    assert.deepEqual(await pixels(stripped), await pixels(original), mode);
  }
});

test('an EXIF block that cannot be walked is dropped under gps (orientation rebuilt when readable)', async () => {
  const original = await photo('jpeg');
  const broken = Buffer.from(original);
  // The GPS pointer now leads outside the block: the surgery cannot trust the block.
  const exifAt = broken.indexOf('Exif\0\0', 0, 'latin1') + 6;
  const tiff = broken.subarray(exifAt);
  const entry = findEntry(tiff, 0x8825);
  tiff.writeUInt32LE(0xfffff0, entry + 8);
  assert.throws(() => eraseGps(Buffer.from(tiff.subarray(0, 400))), RangeError);
  const stripped = stripMetadata(broken, 'IMAGE/JPEG', 'gps');
  assert.ok(!stripped.includes(SECRET) && !stripped.includes('TestCam'));
  assert.equal((await sharp(stripped).metadata()).orientation, 6);
  assert.deepEqual(await pixels(stripped), await pixels(original));
});

test('end to end: the image stored in the service datalake has no GPS and keeps its orientation; --strip-metadata none keeps GPS', async (t) => {
  const service = await startService(t);
  for (const mode of ['gps', 'none'] as const) {
    const dir = await tempFolder(t);
    const inbox = join(dir, 'inbox');
    await mkdir(inbox);
    const original = await photo('jpeg', { width: 120 + (mode === 'gps' ? 0 : 8), height: 80 });
    await writeFile(join(inbox, `phone-${mode}.jpg`), original);
    const before = service.count();
    const { agent } = await startAgent(t, agentArgs({ host: service.url, inbox, stateDir: join(dir, 'state') }, ['--once', '--strip-metadata', mode]), { PICSELLIA_API_TOKEN: service.token });
    const summary = await agent.runOnce();
    assert.equal(summary.monitored, 1, mode);
    await waitUntil(() => service.count() === before + 1, 10_000, 'stored');
    const stored = await readFile(join(service.dataDir, 'datalake', storedImagePath(service.dataDir)));
    const meta = await sharp(stored).metadata();
    assert.equal(meta.orientation, 6, `${mode}: orientation kept`);
    assert.equal(stored.includes(SECRET), mode === 'none', `${mode}: GPS ${mode === 'none' ? 'kept' : 'gone'}`);
    assert.equal(hasGpsPointer(meta.exif as Buffer), mode === 'none');
    assert.deepEqual(await pixels(stored), await pixels(original), `${mode}: same pixels`);
    await agent.close();
  }
});

/** Datalake path of the last stored prediction. */
function storedImagePath(dataDir: string): string {
  const db = new Database(join(dataDir, 'monitoring.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT image_path FROM predictions ORDER BY rowid DESC LIMIT 1').get() as { image_path: string }).image_path;
  } finally {
    db.close();
  }
}

/** Offset (in the TIFF block) of the IFD0 entry with `tag`, little-endian blocks only (what sharp writes). */
function findEntry(tiff: Buffer, tag: number): number {
  assert.equal(tiff.toString('latin1', 0, 2), 'II');
  const ifd0 = tiff.readUInt32LE(4);
  const n = tiff.readUInt16LE(ifd0);
  for (let i = 0; i < n; i += 1) if (tiff.readUInt16LE(ifd0 + 2 + i * 12) === tag) return ifd0 + 2 + i * 12;
  return -1;
}

/** True when IFD0 of sharp's `metadata().exif` (`Exif\0\0` + TIFF) points to a GPS IFD. */
function hasGpsPointer(exif: Buffer | undefined): boolean {
  if (!exif) return false;
  return findEntry(exif.subarray(6), 0x8825) >= 0;
}
