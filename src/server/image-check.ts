/** Checks a received image: its bytes match the declared content type and its displayed size matches the declared width/height. */
import sharp from 'sharp';
import { sniffWireContentType, type WireContentType } from '../protocol/content-type.js';

/** Why an image was refused, naming the request field at fault. */
export interface ImageProblem {
  field: 'image' | 'content_type' | 'width' | 'height';
  message: string;
}

/** Returns the problems of an image (empty when it is acceptable). Reads the header only: no pixel decode. */
export async function checkImage(bytes: Buffer, contentType: WireContentType, width: number, height: number): Promise<ImageProblem[]> {
  const sniffed = sniffWireContentType(bytes);
  if (sniffed === null) return [{ field: 'image', message: 'is not a JPEG or PNG file' }];
  if (sniffed !== contentType) return [{ field: 'content_type', message: `is ${contentType} but the image bytes are ${sniffed}` }];
  let shown: { width: number; height: number };
  try {
    const meta = await sharp(bytes).metadata();
    shown = meta.autoOrient ?? { width: meta.width, height: meta.height };
  } catch {
    return [{ field: 'image', message: 'cannot be read as an image (corrupt header)' }];
  }
  const problems: ImageProblem[] = [];
  if (shown.width !== width) problems.push({ field: 'width', message: `is ${width} but the image is ${shown.width} pixels wide (EXIF orientation applied)` });
  if (shown.height !== height) problems.push({ field: 'height', message: `is ${height} but the image is ${shown.height} pixels high (EXIF orientation applied)` });
  return problems;
}
