/**
 * Real image files made with sharp at test time, good and bad, for the read and watch tests and any
 * other test that needs images on disk.
 *
 * ```ts
 * const dir = await tempDir(t);
 * const photo = await writeJpeg(dir, 'a.jpg', { width: 80, height: 40, orientation: 6 });   // displays 40×80
 * for (const bad of BAD_IMAGES) { const path = await bad.make(dir); ... assert code === bad.code }
 * ```
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import type { TestContext } from 'node:test';
import sharp, { type Sharp } from 'sharp';
import type { ErrorCode } from '../../src/errors.js';

/** A fresh folder under the OS temp dir, removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'edgewatch-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface PictureOptions {
  width?: number;
  height?: number;
  /** EXIF orientation tag written into the file (1–8). */
  orientation?: number;
}

/**
 * RGB pixels of a synthetic picture: the left half red-ish, the right half blue-ish, with a gradient
 * and texture so that codecs have real work. Lets tests check where a side ends up after rotation.
 */
export function picturePixels(width: number, height: number): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const i = (y * width + x) * 3;
      const texture = ((x * 7 + y * 13) % 16) - 8;
      const shade = Math.round((y / Math.max(1, height - 1)) * 40);
      const left = x < width / 2;
      pixels[i] = clamp((left ? 215 : 20) + texture + shade);
      pixels[i + 1] = clamp(40 + texture + shade);
      pixels[i + 2] = clamp((left ? 20 : 215) + texture + shade);
    }
  }
  return pixels;
}

function clamp(v: number): number {
  return Math.max(0, Math.min(255, v));
}

function picture(options: PictureOptions, channels: 3 | 4 = 3): Sharp {
  const width = options.width ?? 64;
  const height = options.height ?? 48;
  let pixels = picturePixels(width, height);
  if (channels === 4) {
    const rgba = Buffer.alloc(width * height * 4);
    for (let p = 0; p < width * height; p += 1) {
      pixels.copy(rgba, p * 4, p * 3, p * 3 + 3);
      rgba[p * 4 + 3] = p % width < width / 4 ? 0 : 255;
    }
    pixels = rgba;
  }
  const image = sharp(pixels, { raw: { width, height, channels } });
  return options.orientation ? image.withMetadata({ orientation: options.orientation }) : image;
}

/** JPEG bytes of the synthetic picture. */
export async function jpegBytes(options: PictureOptions & { progressive?: boolean; quality?: number } = {}): Promise<Buffer> {
  return picture(options).jpeg({ quality: options.quality ?? 90, progressive: options.progressive ?? false }).toBuffer();
}

async function save(dir: string, name: string, bytes: Buffer | string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

export async function writeJpeg(dir: string, name: string, options: PictureOptions & { progressive?: boolean; quality?: number } = {}): Promise<string> {
  return save(dir, name, await jpegBytes(options));
}

export async function writePng(dir: string, name: string, options: PictureOptions & { alpha?: boolean; sixteenBit?: boolean } = {}): Promise<string> {
  let image = picture(options, options.alpha ? 4 : 3);
  if (options.sixteenBit) image = image.toColourspace('rgb16');
  return save(dir, name, await image.png().toBuffer());
}

export async function writeWebp(dir: string, name: string, options: PictureOptions & { alpha?: boolean } = {}): Promise<string> {
  return save(dir, name, await picture(options, options.alpha ? 4 : 3).webp({ quality: 90 }).toBuffer());
}

export async function writeTiff(dir: string, name: string, options: PictureOptions = {}): Promise<string> {
  return save(dir, name, await picture(options).tiff().toBuffer());
}

export async function writeGif(dir: string, name: string, options: PictureOptions = {}): Promise<string> {
  return save(dir, name, await picture(options).gif().toBuffer());
}

export async function writeAvif(dir: string, name: string, options: PictureOptions = {}): Promise<string> {
  return save(dir, name, await picture(options).avif({ quality: 60, effort: 0 }).toBuffer());
}

/** Grey 8-bit JPEG (one channel in the file). */
export async function writeGreyJpeg(dir: string, name: string, options: PictureOptions = {}): Promise<string> {
  return save(dir, name, await picture(options).toColourspace('b-w').jpeg({ quality: 90 }).toBuffer());
}

export async function writeEmpty(dir: string, name = 'empty.jpg'): Promise<string> {
  return save(dir, name, Buffer.alloc(0));
}

/** A valid JPEG cut in half, as a camera interrupted mid-write leaves it. */
export async function writeTruncatedJpeg(dir: string, name = 'truncated.jpg', options: { progressive?: boolean } = {}): Promise<string> {
  const bytes = await jpegBytes({ width: 320, height: 240, progressive: options.progressive ?? false });
  return save(dir, name, bytes.subarray(0, bytes.length >> 1));
}

/** A valid PNG cut in half. */
export async function writeTruncatedPng(dir: string, name = 'truncated.png'): Promise<string> {
  const bytes = await picture({ width: 320, height: 240 }).png().toBuffer();
  return save(dir, name, bytes.subarray(0, bytes.length >> 1));
}

/**
 * Valid JPEG headers (up to and including the start of scan), a garbage body, and the end marker.
 * The garbage is shorter than the picture needs: libjpeg decodes any long enough noise as a valid
 * (noisy) picture, so only damage it can notice ("Corrupt JPEG data: bad Huffman code") is testable.
 */
export async function writeCorruptJpeg(dir: string, name = 'corrupt.jpg'): Promise<string> {
  const bytes = await jpegBytes({ width: 320, height: 240 });
  let sos = -1;
  for (let i = 2; i < bytes.length - 1; i += 1) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xda) {
      sos = i;
      break;
    }
  }
  if (sos < 0) throw new Error('no start of scan in the JPEG');
  const headerEnd = sos + 2 + bytes.readUInt16BE(sos + 2);
  const garbage = Buffer.alloc(2_000);
  for (let i = 0; i < garbage.length; i += 1) garbage[i] = (Math.imul(i, 2654435761) >>> 24) & 0xfe; // never 0xff: no markers
  return save(dir, name, Buffer.concat([bytes.subarray(0, headerEnd), garbage, Buffer.from([0xff, 0xd9])]));
}

/** A text file wearing an image extension. */
export async function writeNotAnImage(dir: string, name = 'notes.jpg'): Promise<string> {
  return save(dir, name, 'These are meeting notes, not a photograph.\n');
}

/** An SVG (which sharp could render) wearing a JPEG extension: refused before any decoder runs. */
export async function writeSvgAsJpeg(dir: string, name = 'drawing.jpg'): Promise<string> {
  return save(dir, name, '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A valid one-colour 1-bit PNG of `width`×`height` (default 20000×20000 = 400 Mpx in about 50 KB):
 * a decompression bomb. Built directly (sharp would need seconds to encode 400 Mpx).
 */
export function bombPngBytes(width = 20_000, height = 20_000): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 1; // bit depth
  header[9] = 0; // greyscale
  const rowBytes = 1 + Math.ceil(width / 8);
  const data = deflateSync(Buffer.alloc(rowBytes * height), { level: 9 });
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk('IHDR', header), pngChunk('IDAT', data), pngChunk('IEND', Buffer.alloc(0))]);
}

export async function writeBombPng(dir: string, name = 'bomb.png'): Promise<string> {
  return save(dir, name, bombPngBytes());
}

/** A directory named like an image: opening it as a file fails even as root (chmod 000 does not). */
export async function makeUnreadable(dir: string, name = 'folder.jpg'): Promise<string> {
  const path = join(dir, name);
  await mkdir(path);
  return path;
}

/** A path where an image was seen and then deleted before it could be read. */
export async function makeVanished(dir: string, name = 'vanished.jpg'): Promise<string> {
  const path = await writeJpeg(dir, name);
  await rm(path);
  return path;
}

/** Every kind of bad input with the code the read stage must give it. */
export const BAD_IMAGES: ReadonlyArray<{ kind: string; code: ErrorCode; make: (dir: string) => Promise<string> }> = [
  { kind: 'zero bytes', code: 'EW_IMAGE_EMPTY', make: (dir) => writeEmpty(dir) },
  { kind: 'truncated JPEG', code: 'EW_IMAGE_TRUNCATED', make: (dir) => writeTruncatedJpeg(dir) },
  { kind: 'truncated progressive JPEG', code: 'EW_IMAGE_TRUNCATED', make: (dir) => writeTruncatedJpeg(dir, 'truncated-progressive.jpg', { progressive: true }) },
  { kind: 'truncated PNG', code: 'EW_IMAGE_TRUNCATED', make: (dir) => writeTruncatedPng(dir) },
  { kind: 'corrupt JPEG', code: 'EW_IMAGE_CORRUPT', make: (dir) => writeCorruptJpeg(dir) },
  { kind: 'text named .jpg', code: 'EW_IMAGE_UNSUPPORTED', make: (dir) => writeNotAnImage(dir) },
  { kind: 'SVG named .jpg', code: 'EW_IMAGE_UNSUPPORTED', make: (dir) => writeSvgAsJpeg(dir) },
  { kind: 'decompression bomb', code: 'EW_IMAGE_TOO_LARGE', make: (dir) => writeBombPng(dir) },
  { kind: 'directory named .jpg', code: 'EW_IMAGE_UNREADABLE', make: (dir) => makeUnreadable(dir) },
  { kind: 'vanished', code: 'EW_WATCH_VANISHED', make: (dir) => makeVanished(dir) },
];
