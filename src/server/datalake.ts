/** The datalake folder: images stored as received, one file per prediction, under `<deployment>/<yyyy-mm-dd>/<id>.<ext>` (folders 0700, files 0600). */
import { mkdir, readdir, rm, rmdir } from 'node:fs/promises';
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
   * Removes the folders holding `rels` (a deployment's days), each once, those left empty; a folder not empty or already
   * gone is left alone. A write racing this finds its folder gone and creates it again (see `write`).
   */
  async removeEmptyFolders(rels: Iterable<string>): Promise<void> {
    const folders = new Set<string>();
    for (const rel of rels) {
      const file = this.resolve(rel);
      if (file !== null && dirname(file) !== this.root) folders.add(dirname(file));
    }
    for (const folder of folders) {
      try {
        await rmdir(folder);
        this.#folders.delete(folder);
      } catch {
        // not empty, or already gone
      }
    }
  }
}

/** A stored image file's name: `<prediction id>.<ext>`, the id a UUID (what `write` makes; anything else is not the service's). */
const IMAGE_FILE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.(jpg|png)$/;
const DAY_FOLDER = /^\d{4}-\d{2}-\d{2}$/;

/** A stored image file found by `listImages`: its path relative to the root and the prediction id its name carries. */
export interface DatalakeImage {
  rel: string;
  id: string;
}

/**
 * Up to `limit` image files of the datalake, oldest day first (every deployment's folder, day folders by name), only
 * files the service writes (`<deployment>/<yyyy-mm-dd>/<uuid>.jpg|png`): notes, temp files and other folders are left out.
 */
export async function listImages(datalake: Datalake, limit: number): Promise<DatalakeImage[]> {
  const found: DatalakeImage[] = [];
  const names = async (abs: string, dirs: boolean) => {
    try {
      return (await readdir(abs, { withFileTypes: true })).filter((e) => (dirs ? e.isDirectory() : e.isFile())).map((e) => e.name);
    } catch {
      return []; // the root not created yet, or a folder removed meanwhile
    }
  };
  const days: { day: string; deployment: string }[] = [];
  for (const deployment of await names(datalake.root, true)) {
    for (const day of await names(join(datalake.root, deployment), true)) if (DAY_FOLDER.test(day)) days.push({ day, deployment });
  }
  days.sort((a, b) => a.day.localeCompare(b.day) || a.deployment.localeCompare(b.deployment));
  for (const { day, deployment } of days) {
    for (const name of (await names(join(datalake.root, deployment, day), false)).sort()) {
      const m = IMAGE_FILE.exec(name);
      if (m === null) continue;
      found.push({ rel: `${deployment}/${day}/${name}`, id: m[1] as string });
      if (found.length >= limit) return found;
    }
  }
  return found;
}
