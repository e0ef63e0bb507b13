/** Decodes an image once with sharp and produces the pixels of each distinct input spec (and a JPEG when converting). */
import sharp, { type Sharp, type SharpOptions } from 'sharp';
import { EdgewatchError } from '../errors.js';
import type { DecodedInput, InputSpec } from '../types.js';
import { classifySharpError } from './classify-error.js';

/** Quality of the JPEG uploaded in place of a non-JPEG/PNG source. */
export const CONVERSION_JPEG_QUALITY = 90;

/** What `decodeInputs` produced, with the time each step took. */
export interface DecodeResult {
  inputs: DecodedInput[];
  /** The JPEG to upload, when `convert` was asked. */
  jpeg: Buffer | undefined;
  decodeMs: number;
  resizeMs: number;
  encodeMs: number;
}

interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 3;
}

const BLACK = { r: 0, g: 0, b: 0, alpha: 1 };

/**
 * sharp options for untrusted input: `failOn: 'warning'` is the only level that rejects a JPEG whose
 * entropy-coded data is garbage (libjpeg only warns "Corrupt JPEG data" and paints grey blocks);
 * truncation is caught at every level. `autoOrient` applies the EXIF orientation.
 */
export function sharpInputOptions(maxPixels: number): SharpOptions {
  return { limitInputPixels: maxPixels, failOn: 'warning', autoOrient: true };
}

function withSpec(pipeline: Sharp, spec: InputSpec): Sharp {
  return pipeline
    .removeAlpha()
    .resize(spec.width, spec.height, { fit: spec.fit, background: BLACK })
    .toColourspace(spec.channels === 1 ? 'b-w' : 'srgb')
    .raw({ depth: 'uchar' });
}

async function toInput(pipeline: Sharp, spec: InputSpec, path: string): Promise<DecodedInput> {
  const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
  if (info.width !== spec.width || info.height !== spec.height || info.channels !== spec.channels || data.length !== spec.width * spec.height * spec.channels) {
    throw new EdgewatchError(
      'EW_IMAGE_CORRUPT',
      `${path} decoded to ${info.width}×${info.height}×${info.channels} instead of ${spec.width}×${spec.height}×${spec.channels}; this is a bug, please report it with the file.`,
      { details: { path } },
    );
  }
  return { spec, pixels: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

function fromRaw(raw: RawImage): Sharp {
  return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels }, limitInputPixels: false });
}

async function decodeRaw(pipeline: Sharp): Promise<RawImage> {
  const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: 3 };
}

/**
 * Decodes `bytes` once and returns one `DecodedInput` per spec (`specs` must already be distinct).
 * - one spec, no conversion: a single pipeline decoding straight to the spec (JPEG shrink-on-load);
 * - several specs: one decode, shrunk on load to the smallest size that still covers every spec in
 *   both dimensions, then one resize per spec from that buffer;
 * - conversion: one full-resolution decode, encoded to JPEG and resized per spec.
 * Any sharp failure is classified by `classifySharpError`.
 */
export async function decodeInputs(bytes: Buffer, path: string, specs: readonly InputSpec[], options: { maxPixels: number; convert: boolean }): Promise<DecodeResult> {
  const input = sharpInputOptions(options.maxPixels);
  const result: DecodeResult = { inputs: [], jpeg: undefined, decodeMs: 0, resizeMs: 0, encodeMs: 0 };
  try {
    const first = specs[0];
    if (!options.convert && specs.length <= 1) {
      const started = performance.now();
      // With no spec the decode still has to run to prove the file complete; a tiny target keeps it cheap.
      const spec = first ?? { width: 8, height: 8, channels: 3, fit: 'fill' };
      const decoded = await toInput(withSpec(sharp(bytes, input), spec), spec, path);
      if (first) result.inputs.push(decoded);
      result.decodeMs = performance.now() - started;
      return result;
    }
    let started = performance.now();
    let pipeline = sharp(bytes, input);
    if (!options.convert) {
      const coverWidth = Math.max(...specs.map((s) => s.width));
      const coverHeight = Math.max(...specs.map((s) => s.height));
      pipeline = pipeline.resize(coverWidth, coverHeight, { fit: 'outside', withoutEnlargement: true });
    }
    const raw = await decodeRaw(pipeline);
    result.decodeMs = performance.now() - started;
    if (options.convert) {
      started = performance.now();
      result.jpeg = await fromRaw(raw).jpeg({ quality: CONVERSION_JPEG_QUALITY }).toBuffer();
      result.encodeMs = performance.now() - started;
    }
    started = performance.now();
    result.inputs = await Promise.all(specs.map((spec) => toInput(withSpec(fromRaw(raw), spec), spec, path)));
    result.resizeMs = performance.now() - started;
    return result;
  } catch (err) {
    throw classifySharpError(err, path, bytes);
  }
}
