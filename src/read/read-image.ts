/** The read stage: one file read once, hashed, checked by a full decode, and turned into each model's pixels. */
import { createHash } from 'node:crypto';
import { basename, extname } from 'node:path';
import sharp from 'sharp';
import { inputSpecKey, type InputSpec, type WireContentType } from '../types.js';
import { classifySharpError, unsupportedImage } from './classify-error.js';
import { decodeInputs, sharpInputOptions } from './decode.js';
import type { ImageRead, ReadLimits } from './image-read.js';
import { readFileBytes } from './read-file.js';
import { sniffImageFormat, type ImageFormat } from './sniff.js';

/** Formats uploaded as they are; every other accepted format is converted to JPEG. */
const UPLOADED_AS_IS: Partial<Record<ImageFormat, WireContentType>> = { jpeg: 'IMAGE/JPEG', png: 'IMAGE/PNG' };
const ACCEPTED_FORMATS: ReadonlySet<string> = new Set<ImageFormat>(['jpeg', 'png', 'gif', 'webp', 'tiff', 'heif']);

/** `specs` without repeats (by `inputSpecKey`), in first-seen order. */
export function distinctSpecs(specs: readonly InputSpec[]): InputSpec[] {
  const seen = new Map<string, InputSpec>();
  for (const spec of specs) if (!seen.has(inputSpecKey(spec))) seen.set(inputSpecKey(spec), spec);
  return [...seen.values()];
}

/**
 * Reads the image at `path` for the models whose inputs are `specs`.
 * Throws `EdgewatchError` only: EW_WATCH_VANISHED, EW_IMAGE_UNREADABLE, EW_IMAGE_EMPTY,
 * EW_IMAGE_TOO_LARGE, EW_IMAGE_UNSUPPORTED, EW_IMAGE_TRUNCATED or EW_IMAGE_CORRUPT.
 */
export async function readImage(path: string, specs: readonly InputSpec[], limits: ReadLimits): Promise<ImageRead> {
  const readStarted = performance.now();
  const file = await readFileBytes(path, limits.maxFileBytes);
  const sha256 = createHash('sha256').update(file.bytes).digest('hex');
  const readMs = performance.now() - readStarted;

  const sniffed = sniffImageFormat(file.bytes);
  if (!sniffed) throw unsupportedImage(path, 'unknown file signature');
  let metadata;
  try {
    metadata = await sharp(file.bytes, sharpInputOptions(limits.maxPixels)).metadata();
  } catch (err) {
    throw classifySharpError(err, path, file.bytes);
  }
  if (!ACCEPTED_FORMATS.has(metadata.format)) throw unsupportedImage(path, `sharp reads it as ${metadata.format}`);

  const contentType = UPLOADED_AS_IS[metadata.format as ImageFormat];
  const converted = contentType === undefined;
  const unique = distinctSpecs(specs);
  const decoded = await decodeInputs(file.bytes, path, unique, { maxPixels: limits.maxPixels, convert: converted });
  const filename = basename(path);
  return {
    path,
    filename,
    uploadFilename: converted ? `${basename(filename, extname(filename))}.jpg` : filename,
    bytes: decoded.jpeg ?? file.bytes,
    contentType: contentType ?? 'IMAGE/JPEG',
    converted,
    format: metadata.format,
    width: metadata.autoOrient.width,
    height: metadata.autoOrient.height,
    sha256,
    sizeBytes: file.sizeBytes,
    mtimeMs: file.mtimeMs,
    inputs: decoded.inputs,
    timings: { readMs, decodeMs: decoded.decodeMs, resizeMs: decoded.resizeMs, encodeMs: decoded.encodeMs },
  };
}
