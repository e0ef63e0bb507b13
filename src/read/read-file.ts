/** Reads a whole file into memory once, refusing empty, oversized and non-regular files (and, unless asked, symbolic links) before reading. */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { EdgewatchError } from '../errors.js';
import { classifyFsError } from './classify-error.js';

/** The bytes of a file with the facts of the handle they were read from. */
export interface FileBytes {
  bytes: Buffer;
  sizeBytes: number;
  mtimeMs: number;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * Open flags: read-only and non-blocking (a FIFO swapped in for the file must not hang the open; it
 * is then refused as not a regular file), plus O_NOFOLLOW unless links are followed, so that a file
 * swapped for a symbolic link after the watcher's lstat is not followed (the kernel answers ELOOP).
 * O_NOFOLLOW and O_NONBLOCK are 0/undefined where the platform has none (Windows).
 */
function openFlags(followSymlinks: boolean): number {
  return constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (followSymlinks ? 0 : (constants.O_NOFOLLOW ?? 0));
}

/**
 * Reads `path` through one handle: fstat, size checks, then the bytes. With `followSymlinks` false
 * (the default) a symbolic link at `path` is not opened: EW_IMAGE_SYMLINK. Throws `EdgewatchError` only.
 */
export async function readFileBytes(path: string, maxFileBytes: number, followSymlinks = false): Promise<FileBytes> {
  let handle;
  try {
    handle = await open(path, openFlags(followSymlinks));
  } catch (err) {
    if (!followSymlinks && (err as NodeJS.ErrnoException | undefined)?.code === 'ELOOP') {
      throw new EdgewatchError(
        'EW_IMAGE_SYMLINK',
        `${path} is a symbolic link (it was a regular file when the watcher saw it) and followSymlinks is off: it was not followed; find out who replaced it, or turn on --follow-symlinks if links in this folder are expected.`,
        { cause: err, details: { path, errno: 'ELOOP' } },
      );
    }
    throw classifyFsError(err, path);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw new EdgewatchError('EW_IMAGE_UNREADABLE', `${path} is not a regular file (a directory or device named like an image); remove or rename it.`, {
        details: { path, errno: 'EISDIR' },
      });
    }
    const tooLarge = (size: number) =>
      new EdgewatchError(
        'EW_IMAGE_TOO_LARGE',
        `${path} is ${megabytes(size)}, larger than maxFileBytes (${megabytes(maxFileBytes)}); raise maxFileBytes if it is a genuine image.`,
        { details: { path, sizeBytes: size, maxFileBytes } },
      );
    if (stats.size > maxFileBytes) throw tooLarge(stats.size);
    if (stats.size === 0) throw new EdgewatchError('EW_IMAGE_EMPTY', `${path} is empty (0 bytes); check the camera or copy job that wrote it.`, { details: { path } });
    const bytes = await handle.readFile();
    // The file may have changed between fstat and read: judge the bytes actually read.
    if (bytes.length > maxFileBytes) throw tooLarge(bytes.length);
    if (bytes.length === 0) throw new EdgewatchError('EW_IMAGE_EMPTY', `${path} is empty (0 bytes); check the camera or copy job that wrote it.`, { details: { path } });
    return { bytes, sizeBytes: bytes.length, mtimeMs: stats.mtimeMs };
  } catch (err) {
    throw classifyFsError(err, path);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
