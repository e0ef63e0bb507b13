/** The datalake folder: images stored as received, one file per prediction, under `<deployment>/<yyyy-mm-dd>/<id>.<ext>` (folders 0700, files 0600). */
import { mkdir, rm, rmdir } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../fs-atomic.js';

function safeSegment(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return s === '' ? '_' : s.slice(0, 100);
}

/** Stores and finds image files below one root folder; never resolves a path outside it. */
export class Datalake {
  readonly root: string;
  /** Folders this process created or found (one per deployment and day): no mkdir per image. */
  readonly #folders = new Set<string>();

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Writes `bytes` durably (temp file, fsync, rename) and returns the path relative to the root. */
  async write(deploymentName: string, id: string, ext: 'jpg' | 'png', bytes: Uint8Array, when: Date): Promise<string> {
    const day = when.toISOString().slice(0, 10);
    const rel = [safeSegment(deploymentName), day, `${id}.${ext}`].join('/');
    const file = join(this.root, rel);
    const folder = dirname(file);
    if (!this.#folders.has(folder)) {
      await mkdir(folder, { recursive: true, mode: 0o700 });
      this.#folders.add(folder);
    }
    try {
      await writeFileAtomic(file, bytes, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // The folder was removed behind the service's back: create it again.
      await mkdir(folder, { recursive: true, mode: 0o700 });
      await writeFileAtomic(file, bytes, 0o600);
    }
    return rel;
  }

  /** Absolute path of a stored relative path, or null if it would leave the root. */
  resolve(rel: string): string | null {
    const file = resolve(this.root, rel);
    const inside = relative(this.root, file);
    if (inside === '' || inside.startsWith('..') || inside.startsWith(sep) || resolve(this.root, inside) !== file) return null;
    return file;
  }

  /** Removes a stored file (a lost duplicate race, retention); a file already gone is not an error. */
  async remove(rel: string): Promise<void> {
    const file = this.resolve(rel);
    if (file !== null) await rm(file, { force: true });
  }

  /**
   * Removes the folder holding `rel` (a deployment's day) if it is empty, else leaves it; returns true when removed.
   * A write racing this finds its folder gone and creates it again (see `write`).
   */
  async removeFolderIfEmpty(rel: string): Promise<boolean> {
    const file = this.resolve(rel);
    if (file === null) return false;
    const folder = dirname(file);
    if (folder === this.root) return false;
    try {
      await rmdir(folder);
    } catch {
      return false; // not empty, or already gone
    }
    this.#folders.delete(folder);
    return true;
  }
}
