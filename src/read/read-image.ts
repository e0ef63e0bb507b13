/** The read stage: one file read once, hashed, checked by a full decode, and turned into each model's pixels; `ImageRead` is what it hands on. */
import { createHash } from 'node:crypto';
import { basename, extname } from 'node:path';
import sharp from 'sharp';
import { inputSpecKey, type DecodedInput, type InputSpec, type WireContentType } from '../types.js';
import { classifySharpError, unsupportedImage } from './classify-error.js';
import { decodeInputs, sharpInputOptions } from './decode.js';
import { readFileBytes } from './read-file.js';
import { sniffImageFormat, type ImageFormat } from './sniff.js';

/** Limits applied to every file before and during decoding. */
export interface ReadLimits {
  /** Largest accepted width×height (as stored); larger images are rejected as decompression bombs. */
  maxPixels: number;
  /** Largest accepted file size in bytes, checked before the file is read. */
  maxFileBytes: number;
  /** Open a symbolic link at the path (the folder's followSymlinks); absent or false: EW_IMAGE_SYMLINK. */
  followSymlinks?: boolean;
}

/** Wall-clock time spent in each step of `readImage`, in milliseconds. */
export interface ReadTimings {
  /** Opening, reading and hashing the file. */
  readMs: number;
  /**
   * The single decode. When there is exactly one distinct spec the resize is fused into the decode
   * (sharp's shrink-on-load) and counted here, with `resizeMs` 0.
   */
  decodeMs: number;
  /** Resizing the shared decode to each distinct spec. */
  resizeMs: number;
  /** Encoding the JPEG uploaded in place of a WebP/TIFF/GIF/AVIF source (0 when not converted). */
  encodeMs: number;
}

/** One image file, read once, checked by a full decode, with its pixels for each model. */
export interface ImageRead {
  /** Path of the file as given to `readImage`. */
  path: string;
  /** Basename of the original file. */
  filename: string;
  /** `filename`, or the same basename ending in `.jpg` when the bytes were converted. */
  uploadFilename: string;
  /** Bytes to upload: the original JPEG/PNG file, or a quality-90 JPEG conversion (orientation applied). */
  bytes: Buffer;
  contentType: WireContentType;
  /** True when `bytes` is a JPEG made from another format. */
  converted: boolean;
  /** sharp's name of the source format: jpeg, png, webp, tiff, gif or heif. */
  format: string;
  /** Width as displayed (EXIF orientation applied). */
  width: number;
  /** Height as displayed (EXIF orientation applied). */
  height: number;
  /** Hex SHA-256 of the original file bytes. */
  sha256: string;
  sizeBytes: number;
  mtimeMs: number;
  /** One per distinct spec (by `inputSpecKey`), in first-seen order. */
  inputs: DecodedInput[];
  timings: ReadTimings;
}

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
 * EW_IMAGE_TOO_LARGE, EW_IMAGE_SYMLINK, EW_IMAGE_UNSUPPORTED, EW_IMAGE_TRUNCATED or EW_IMAGE_CORRUPT.
 */
export async function readImage(path: string, specs: readonly InputSpec[], limits: ReadLimits): Promise<ImageRead> {
  const readStarted = performance.now();
  const file = await readFileBytes(path, limits.maxFileBytes, limits.followSymlinks === true);
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
