/** Checks a received image: its bytes match the declared content type and its displayed size matches the declared width/height. */
import sharp from 'sharp';

/** Why an image was refused, naming the request field at fault. */
export interface ImageProblem {
  field: 'image' | 'content_type' | 'width' | 'height';
  message: string;
}

/** Content type read from the magic bytes, or null when neither JPEG nor PNG. */
export function sniffContentType(bytes: Uint8Array): 'IMAGE/JPEG' | 'IMAGE/PNG' | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'IMAGE/JPEG';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'IMAGE/PNG';
  return null;
}

/** Returns the problems of an image (empty when it is acceptable). Reads the header only: no pixel decode. */
export async function checkImage(bytes: Buffer, contentType: 'IMAGE/JPEG' | 'IMAGE/PNG', width: number, height: number): Promise<ImageProblem[]> {
  const sniffed = sniffContentType(bytes);
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
