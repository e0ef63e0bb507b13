/** Maps sharp's and the file system's errors (which carry no usable code) to edgewatch error codes, in one place. */
import { EdgewatchError } from '../errors.js';
import { endsEarly, sniffImageFormat } from './sniff.js';

const ACCEPTED = 'JPEG, PNG, WebP, TIFF, GIF or AVIF';

/** libjpeg's "Premature end of JPEG file" and libvips/giflib "unexpected end" mean the data stops early. */
const TRUNCATION = /premature end of JPEG (image|file)|unexpected end|truncat|out of data|short read/i;
/** libjpeg's recoverable-data warnings: the file is complete but its entropy-coded data is damaged. */
const DAMAGED_JPEG = /Corrupt JPEG data/i;
const UNSUPPORTED_CODEC = /unsupported (codec|feature|compression)|no decoder|not supported|unsupported image format/i;

function firstLine(message: string): string {
  return message.split('\n', 1)[0]?.trim() ?? '';
}

function sharpMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The error for a file that does not start like any accepted image format. */
export function unsupportedImage(path: string, detail: string, cause?: unknown): EdgewatchError {
  return new EdgewatchError(
    'EW_IMAGE_UNSUPPORTED',
    `${path} is not a ${ACCEPTED} image (${detail}); remove it from the watched folder or narrow the extensions setting.`,
    { cause, details: { path, detail } },
  );
}

/**
 * Turns an error thrown by sharp while reading `path` into an `EdgewatchError`.
 * `bytes`, when given, lets structure decide what messages cannot: libpng reports a cut file and a
 * damaged one with the same "libpng read error", and a TIFF cut before its directory as an
 * "unsupported image format".
 */
export function classifySharpError(err: unknown, path: string, bytes?: Uint8Array): EdgewatchError {
  if (err instanceof EdgewatchError) return err;
  const message = sharpMessage(err);
  const detail = firstLine(message);
  const details = { path, sharpMessage: message };
  if (/exceeds pixel limit/i.test(message)) {
    return new EdgewatchError(
      'EW_IMAGE_TOO_LARGE',
      `${path} has more pixels than maxPixels allows (possible decompression bomb); raise maxPixels if it is a genuine image.`,
      { cause: err, details },
    );
  }
  if (/(buffer|file) is empty/i.test(message)) {
    return new EdgewatchError('EW_IMAGE_EMPTY', `${path} is empty (0 bytes); check the camera or copy job that wrote it.`, { cause: err, details });
  }
  const format = bytes ? sniffImageFormat(bytes) : undefined;
  if (bytes && !format) return unsupportedImage(path, 'unknown file signature', err);
  if (!bytes && /unsupported image format/i.test(message)) return unsupportedImage(path, detail, err);
  if ((bytes && format && endsEarly(bytes, format)) || (TRUNCATION.test(message) && !DAMAGED_JPEG.test(message))) {
    return new EdgewatchError(
      'EW_IMAGE_TRUNCATED',
      `${path} ends early: the image is incomplete (${detail}); copy the complete file again, or raise stableMs if the writer pauses between chunks.`,
      { cause: err, details },
    );
  }
  if (UNSUPPORTED_CODEC.test(message) && !/unsupported image format/i.test(message)) return unsupportedImage(path, detail, err);
  return new EdgewatchError(
    'EW_IMAGE_CORRUPT',
    `${path} is corrupt and cannot be decoded (${detail || 'no detail from the decoder'}); check the device or transfer that produced it.`,
    { cause: err, details },
  );
}

/** Turns a file-system error met while reading `path` into an `EdgewatchError`. */
export function classifyFsError(err: unknown, path: string): EdgewatchError {
  if (err instanceof EdgewatchError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'UNKNOWN';
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new EdgewatchError('EW_WATCH_VANISHED', `${path} disappeared before it could be read (moved or deleted by another process).`, {
      cause: err,
      details: { path, errno: code },
    });
  }
  return new EdgewatchError(
    'EW_IMAGE_UNREADABLE',
    `${path} cannot be read (${code}: ${(err as Error | undefined)?.message ?? 'unknown error'}); check its permissions and the disk.`,
    { cause: err, details: { path, errno: code } },
  );
}
