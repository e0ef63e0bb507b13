/** Writes a folder of files all at once (a temporary sibling, fsynced, renamed into place) and clears what an interrupted write left. */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Makes `<parentDir>/<name>/` hold exactly `files`: they are written and fsynced into
 * `.<name>.partial-<pid>-<random>`, the current folder (if any) is moved aside, and the new one
 * renamed into place, so a reader never sees a half-written folder. On failure the partial folder
 * is removed and the error rethrown as it is.
 */
export async function writeFolderAtomically(parentDir: string, name: string, files: ReadonlyMap<string, Buffer>): Promise<void> {
  const partial = join(parentDir, `.${name}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(partial);
    for (const [file, bytes] of files) await writeDurably(join(partial, file), bytes);
    await syncDir(partial);
    const dir = join(parentDir, name);
    const old = join(parentDir, `.${name}.old-${process.pid}-${randomBytes(4).toString('hex')}`);
    const hadOld = await rename(dir, old).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      },
    );
    await rename(partial, dir);
    await syncDir(parentDir);
    if (hadOld) await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    throw err;
  }
}

/** Removes the partial and set-aside folders an interrupted {@link writeFolderAtomically} of `name` left in `parentDir`. */
export async function removeInterruptedWrites(parentDir: string, name: string): Promise<void> {
  await removeLeftovers(parentDir, [`.${name}.partial-`, `.${name}.old-`]);
}

/**
 * Removes the entries `<prefix><pid>-<random>` of `dir` left by an interrupted process, unless the
 * process that made them is still running (a concurrent pull).
 */
export async function removeLeftovers(dir: string, prefixes: string[]): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    const prefix = prefixes.find((p) => entry.startsWith(p));
    if (prefix === undefined) continue;
    const match = /^(\d+)-/.exec(entry.slice(prefix.length));
    // Another model whose name extends this one (mobilenet-v2 / mobilenet-v2-mid) is not ours.
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid !== process.pid && isAlive(pid)) continue;
    await rm(join(dir, entry), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function writeDurably(file: string, bytes: Buffer): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  } finally {
    await handle.close();
  }
}
