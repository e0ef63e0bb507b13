/** Moves a bad file aside, never overwriting anything, and writes the reason beside it atomically. */
import { constants } from 'node:fs';
import { copyFile, cp, link, lstat, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { EdgewatchError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';

/** Where `rejectFile` put the file and its reason. */
export interface RejectResult {
  movedTo: string;
  reasonFile: string;
}

/** Content of `<movedName>.reason.json`. */
export interface RejectReason {
  code: string;
  message: string;
  originalPath: string;
  rejectedAt: string;
}

const MAX_SUFFIX = 10_000;

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function candidateName(name: string, n: number): string {
  if (n === 0) return name;
  const ext = extname(name);
  return `${basename(name, ext)}-${n}${ext}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return false;
    throw err;
  }
}

async function fsyncPath(path: string, flags = 'r'): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Copies across devices without overwriting, makes the copy durable, then removes the original. */
async function moveAcrossDevices(source: string, destination: string): Promise<void> {
  const stats = await lstat(source);
  if (stats.isDirectory()) {
    await cp(source, destination, { recursive: true, errorOnExist: true, force: false });
  } else {
    await copyFile(source, destination, constants.COPYFILE_EXCL);
    await fsyncPath(destination);
  }
  await rm(source, { recursive: true, force: true });
}

/**
 * Moves `source` to a free name in `directory` without overwriting anything. Returns the new path,
 * or undefined when `source` vanished. Regular files go through link+unlink (fails rather than
 * overwrites); what cannot be hard-linked (directories, some file systems) is renamed after checking
 * the name is free.
 */
async function moveToFreeName(source: string, directory: string): Promise<string | undefined> {
  const name = basename(source);
  for (let n = 0; n < MAX_SUFFIX; n += 1) {
    const destination = join(directory, candidateName(name, n));
    // The reason file of an earlier rejection may hold this name's slot even if the image was removed.
    if ((await exists(destination)) || (await exists(`${destination}.reason.json`))) continue;
    try {
      await link(source, destination);
      await unlink(source);
      return destination;
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ENOENT') {
        if (!(await exists(source))) return undefined;
        throw err;
      }
      if (code === 'EEXIST') continue;
      if (code === 'EXDEV') {
        await moveAcrossDevices(source, destination);
        return destination;
      }
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK') throw err;
    }
    try {
      await rename(source, destination);
      return destination;
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ENOENT' && !(await exists(source))) return undefined;
      if (code === 'EXDEV') {
        await moveAcrossDevices(source, destination);
        return destination;
      }
      if (code === 'EEXIST' || code === 'ENOTEMPTY') continue;
      throw err;
    }
  }
  throw new Error(`no free name for ${name} after ${MAX_SUFFIX} attempts`);
}


/**
 * Moves the bad file `path` into `rejectedDir` (created if needed; a name already taken gets a
 * `-N` suffix) and writes `<movedName>.reason.json` beside it with the error's code and message.
 * Throws EW_WATCH_VANISHED (nothing moved, nothing written) when the file is already gone, and
 * EW_REJECT_MOVE when it cannot be moved or the reason cannot be written.
 */
export async function rejectFile(path: string, rejectedDir: string, error: EdgewatchError): Promise<RejectResult> {
  let movedTo: string | undefined;
  try {
    await mkdir(rejectedDir, { recursive: true });
    movedTo = await moveToFreeName(path, rejectedDir);
  } catch (err) {
    throw new EdgewatchError('EW_REJECT_MOVE', `Could not move rejected file ${path} to ${rejectedDir} (${(err as Error).message}); check that folder exists and is writable.`, {
      cause: err,
      details: { path, rejectedDir, reason: error.code },
    });
  }
  if (movedTo === undefined) {
    throw new EdgewatchError('EW_WATCH_VANISHED', `${path} disappeared before it could be moved to ${rejectedDir}; nothing to reject.`, {
      details: { path, reason: error.code },
    });
  }
  const reasonFile = `${movedTo}.reason.json`;
  const reason: RejectReason = { code: error.code, message: error.message, originalPath: path, rejectedAt: new Date().toISOString() };
  try {
    await writeFileAtomic(reasonFile, `${JSON.stringify(reason, null, 2)}\n`);
    await fsyncPath(rejectedDir).catch(() => undefined);
  } catch (err) {
    throw new EdgewatchError('EW_REJECT_MOVE', `Moved ${path} to ${movedTo} but could not write ${reasonFile} (${(err as Error).message}); check the disk.`, {
      cause: err,
      details: { path, movedTo, reason: error.code },
    });
  }
  return { movedTo, reasonFile };
}
