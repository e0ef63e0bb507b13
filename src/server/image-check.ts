/** Checks a received image: its bytes match the declared content type, it is within the pixel limit, its displayed size matches the declared width/height, and it decodes completely. */
import sharp from 'sharp';
import { sniffWireContentType, type WireContentType } from '../protocol/content-type.js';

/** Why an image was refused, naming the request field at fault. */
export interface ImageProblem {
  field: 'image' | 'content_type' | 'width' | 'height';
  message: string;
}

/**
 * Longest side of the proof decode. JPEG shrinks on load by up to 8 (the decoder still reads every
 * entropy-coded byte, so a cut file fails), so a 1080p JPEG costs about 4 ms instead of 55 ms for a
 * full-size decode; the work runs on libvips threads, not on the event loop.
 */
const PROOF_SIZE = 64;

/** sharp's first message line, e.g. `VipsJpeg: premature end of JPEG image`. */
function decoderMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n', 1)[0]?.trim() ?? '';
}

/**
 * Returns the problems of an image (empty when it is acceptable). The header gives the size
 * (`metadata()` succeeds on a truncated file), then a small decode proves every pixel is there:
 * `failOn: 'truncated'` refuses a file that ends early or cannot be decoded while tolerating the
 * warnings complete camera files often raise (e.g. extraneous bytes before a marker).
 */
export async function checkImage(bytes: Buffer, contentType: WireContentType, width: number, height: number, maxPixels: number): Promise<ImageProblem[]> {
  const sniffed = sniffWireContentType(bytes);
  if (sniffed === null) return [{ field: 'image', message: 'is not a JPEG or PNG file' }];
  if (sniffed !== contentType) return [{ field: 'content_type', message: `is ${contentType} but the image bytes are ${sniffed}` }];
  let shown: { width: number; height: number };
  try {
    // The header only (no pixel is decoded): sharp's own pixel limit would call a large image corrupt.
    const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    shown = meta.autoOrient ?? { width: meta.width, height: meta.height };
  } catch {
    return [{ field: 'image', message: 'cannot be read as an image (corrupt header)' }];
  }
  // A PNG of a few KB can hold hundreds of megapixels: refused before any decode, here and in the browsers that would show it.
  const pixels = shown.width * shown.height;
  if (pixels > maxPixels) {
    return [{ field: 'image', message: `is ${shown.width}×${shown.height} = ${pixels} pixels; the limit is ${maxPixels} pixels (edgewatch serve --max-pixels)` }];
  }
  const problems: ImageProblem[] = [];
  if (shown.width !== width) problems.push({ field: 'width', message: `is ${width} but the image is ${shown.width} pixels wide (EXIF orientation applied)` });
  if (shown.height !== height) problems.push({ field: 'height', message: `is ${height} but the image is ${shown.height} pixels high (EXIF orientation applied)` });
  if (problems.length > 0) return problems;
  try {
    await sharp(bytes, { failOn: 'truncated', limitInputPixels: maxPixels }).resize(PROOF_SIZE, PROOF_SIZE, { fit: 'inside', withoutEnlargement: true }).raw().toBuffer();
  } catch (err) {
    return [{ field: 'image', message: `does not decode completely: the file is truncated or corrupt (${decoderMessage(err) || 'no detail from the decoder'})` }];
  }
  return [];
}
