/** What the read stage hands to the rest of the pipeline for one image file. */
import type { DecodedInput, WireContentType } from '../types.js';

/** Limits applied to every file before and during decoding. */
export interface ReadLimits {
  /** Largest accepted width×height (as stored); larger images are rejected as decompression bombs. */
  maxPixels: number;
  /** Largest accepted file size in bytes, checked before the file is read. */
  maxFileBytes: number;
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
