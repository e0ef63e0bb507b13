/**
 * `--strip-metadata`: what the uploaded image keeps of its metadata. Lossless surgery on the file's
 * segments (JPEG) or chunks (PNG): the compressed pixels are copied byte for byte, never re-encoded.
 */
import { crc32 } from 'node:zlib';
import type { WireContentType } from '../types.js';
import { eraseGps, orientationOnlyTiff, readOrientation } from './tiff-exif.js';

/** `gps`: GPS tags removed (EXIF GPS IFD, XMP that mentions GPS); `all`: every metadata segment but orientation; `none`: untouched. */
export type StripMode = 'gps' | 'all' | 'none';

const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1');
const XMP_HEADER = Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1');
const ICC_HEADER = Buffer.from('ICC_PROFILE\0', 'latin1');
const GPS_TEXT = Buffer.from('GPS', 'latin1');

/**
 * The bytes to upload for `bytes` under `mode`. Returns `bytes` itself when nothing had to go
 * (no copy); a JPEG or PNG whose structure cannot be walked is returned as is (sharp decoded it
 * completely, so this does not happen for files the read stage accepted).
 */
export function stripMetadata(bytes: Buffer, contentType: WireContentType, mode: StripMode): Buffer {
  if (mode === 'none') return bytes;
  return contentType === 'IMAGE/JPEG' ? stripJpeg(bytes, mode) : stripPng(bytes, mode);
}

/** A JPEG segment before the scan: marker byte, and the whole segment (marker and length included). */
interface Segment {
  marker: number;
  bytes: Buffer;
}

/** The segments of a JPEG up to its first SOS, and the rest (scan data onwards); undefined when not walkable. */
function jpegSegments(bytes: Buffer): { segments: Segment[]; rest: Buffer } | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  const segments: Segment[] = [];
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1] as number;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (marker === 0xda) return { segments, rest: bytes.subarray(at) };
    const length = bytes.readUInt16BE(at + 2);
    if (length < 2 || at + 2 + length > bytes.length) return undefined;
    segments.push({ marker, bytes: bytes.subarray(at, at + 2 + length) });
    at += 2 + length;
  }
  return undefined;
}

const payload = (s: Segment) => s.bytes.subarray(4);
const startsWith = (b: Buffer, prefix: Buffer) => b.length >= prefix.length && b.subarray(0, prefix.length).equals(prefix);

function app1(content: Buffer): Buffer {
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(content.length + 2, 2);
  return Buffer.concat([head, content]);
}

function stripJpeg(bytes: Buffer, mode: 'gps' | 'all'): Buffer {
  const walked = jpegSegments(bytes);
  if (!walked) return bytes;
  const kept: Buffer[] = [];
  let changed = false;
  let orientation: number | undefined;
  for (const segment of walked.segments) {
    const data = payload(segment);
    const isExif = segment.marker === 0xe1 && startsWith(data, EXIF_HEADER);
    if (isExif) orientation ??= readOrientation(data.subarray(EXIF_HEADER.length));
    if (mode === 'all') {
      if (keptByAll(segment)) kept.push(segment.bytes);
      else changed = true;
      continue;
    }
    if (isExif) {
      const copy = Buffer.from(segment.bytes);
      try {
        if (eraseGps(copy.subarray(4 + EXIF_HEADER.length))) changed = true;
        kept.push(copy);
      } catch {
        // An EXIF block that cannot be walked may hide GPS anywhere: it goes, orientation is rebuilt.
        changed = true;
        if (orientation !== undefined && orientation !== 1) kept.push(app1(Buffer.concat([EXIF_HEADER, orientationOnlyTiff(orientation)])));
      }
    } else if (segment.marker === 0xe1 && startsWith(data, XMP_HEADER) && data.includes(GPS_TEXT)) {
      changed = true;
    } else {
      kept.push(segment.bytes);
    }
  }
  if (!changed) return bytes;
  if (mode === 'all' && orientation !== undefined && orientation !== 1) {
    // After JFIF (APP0) when there is one: JFIF must come first.
    const at = walked.segments[0]?.marker === 0xe0 ? 1 : 0;
    kept.splice(at, 0, app1(Buffer.concat([EXIF_HEADER, orientationOnlyTiff(orientation)])));
  }
  return Buffer.concat([bytes.subarray(0, 2), ...kept, walked.rest]);
}

/**
 * What `all` keeps: every non-APP segment (tables, frame header), JFIF (APP0), the ICC colour
 * profile (APP2 ICC_PROFILE: colour, not metadata about the picture) and Adobe's APP14 (it says how
 * to convert the colours). Everything else (EXIF, XMP, IPTC, MPF, comments, maker segments) goes.
 */
function keptByAll(segment: Segment): boolean {
  const m = segment.marker;
  if (m === 0xfe) return false;
  if (m < 0xe0 || m > 0xef) return true;
  if (m === 0xe0 || m === 0xee) return true;
  return m === 0xe2 && startsWith(payload(segment), ICC_HEADER);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const PNG_TEXT_CHUNKS = new Set(['tEXt', 'zTXt', 'iTXt', 'tIME']);

function pngChunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function stripPng(bytes: Buffer, mode: 'gps' | 'all'): Buffer {
  if (bytes.length < 8 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return bytes;
  const kept: Buffer[] = [bytes.subarray(0, 8)];
  let changed = false;
  let at = 8;
  while (at + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(at);
    const end = at + 12 + length;
    if (end > bytes.length) return bytes;
    const type = bytes.toString('latin1', at + 4, at + 8);
    const chunk = bytes.subarray(at, end);
    const data = chunk.subarray(8, 8 + length);
    at = end;
    if (type === 'IDAT' || type === 'IEND' || (type !== 'eXIf' && !PNG_TEXT_CHUNKS.has(type))) {
      kept.push(chunk);
      if (type === 'IEND') break;
      continue;
    }
    if (type === 'eXIf') {
      const orientation = readOrientation(data);
      const orientationChunk = orientation !== undefined && orientation !== 1 ? [pngChunk('eXIf', orientationOnlyTiff(orientation))] : [];
      if (mode === 'all') {
        changed = true;
        kept.push(...orientationChunk);
        continue;
      }
      const copy = Buffer.from(data);
      try {
        if (eraseGps(copy)) {
          changed = true;
          kept.push(pngChunk('eXIf', copy));
        } else {
          kept.push(chunk);
        }
      } catch {
        // An EXIF block that cannot be walked may hide GPS anywhere: it goes, orientation is rebuilt.
        changed = true;
        kept.push(...orientationChunk);
      }
      continue;
    }
    // Text chunks: all of them under `all`; under `gps` those that mention GPS (XMP in iTXt).
    if (mode === 'all' || data.includes(GPS_TEXT)) changed = true;
    else kept.push(chunk);
  }
  return changed ? Buffer.concat(kept) : bytes;
}
