/** Recognises raster image files by their first bytes and spots files cut short, without decoding. */
import { hasWireMagic } from '../protocol/content-type.js';

/** The source formats edgewatch accepts, named as sharp names them. */
export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'heif';

const HEIF_BRANDS = new Set(['avif', 'avis', 'heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1']);

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, Math.max(0, Math.min(end, bytes.length) - start)).toString('latin1');
}

/**
 * The image format announced by the file's signature, or undefined when the bytes do not start like
 * any accepted raster format (text, SVG, PDF...): such files never reach the decoder.
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (hasWireMagic(bytes, 'IMAGE/JPEG')) return 'jpeg';
  if (hasWireMagic(bytes, 'IMAGE/PNG')) return 'png';
  const head6 = ascii(bytes, 0, 6);
  if (head6 === 'GIF87a' || head6 === 'GIF89a') return 'gif';
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return 'webp';
  const head4 = ascii(bytes, 0, 4);
  if (head4 === 'II*\0' || head4 === 'MM\0*' || head4 === 'II+\0' || head4 === 'MM\0+') return 'tiff';
  if (bytes.length >= 12 && ascii(bytes, 4, 8) === 'ftyp' && HEIF_BRANDS.has(ascii(bytes, 8, 12))) return 'heif';
  return undefined;
}

function pngEndsEarly(view: DataView): boolean {
  let offset = 8;
  while (offset + 8 <= view.byteLength) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(view.getUint8(offset + 4), view.getUint8(offset + 5), view.getUint8(offset + 6), view.getUint8(offset + 7));
    const next = offset + 12 + length;
    if (next > view.byteLength) return true;
    if (type === 'IEND') return false;
    offset = next;
  }
  return true;
}

function isoBoxesEndEarly(view: DataView): boolean {
  let offset = 0;
  while (offset + 8 <= view.byteLength) {
    let size = view.getUint32(offset);
    if (size === 0) return false;
    if (size === 1) {
      if (offset + 16 > view.byteLength) return true;
      size = Number(view.getBigUint64(offset + 8));
    }
    if (size < 8) return false;
    offset += size;
  }
  return offset > view.byteLength;
}

function tiffEndsEarly(view: DataView, littleEndian: boolean): boolean {
  if (view.byteLength < 8) return true;
  const big = view.getUint16(2, littleEndian) === 43;
  if (big) return view.byteLength < 16 || Number(view.getBigUint64(8, littleEndian)) + 8 > view.byteLength;
  return view.getUint32(4, littleEndian) + 2 > view.byteLength;
}

/**
 * True when the structure of the file proves it was cut short: a PNG chunk or ISO box running past
 * the end, a WebP RIFF size larger than the file, a TIFF directory beyond the end, a GIF without its
 * trailer. JPEG has no reliable length field: its truncation is recognised from the decoder's message.
 */
export function endsEarly(bytes: Uint8Array, format: ImageFormat): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (format) {
    case 'png':
      return pngEndsEarly(view);
    case 'webp':
      return bytes.length < 12 || view.getUint32(4, true) + 8 > bytes.length;
    case 'tiff':
      return tiffEndsEarly(view, bytes[0] === 0x49);
    case 'gif':
      return bytes[bytes.length - 1] !== 0x3b;
    case 'heif':
      return isoBoxesEndEarly(view);
    case 'jpeg': {
      // A complete JPEG ends with the EOI marker (FF D9), at most followed by zero padding. Only
      // consulted after a decode failed, so trailers some cameras append after EOI do not matter.
      let end = bytes.length;
      while (end > 2 && bytes[end - 1] === 0x00) end -= 1;
      return !(bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9);
    }
  }
}
