/** Test helpers: model folders as zips (what `edgewatch models push` uploads), and hand-made zips with chosen names and attributes. */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { zipSync, type Zippable } from 'fflate';

/** A zip entry: text or bytes, or with the Unix attributes of its origin (e.g. a symlink). */
export type ZipEntry = string | Uint8Array | { data: string | Uint8Array; os?: number; attrs?: number };

const bytesOf = (d: string | Uint8Array): Uint8Array => (typeof d === 'string' ? new TextEncoder().encode(d) : d);

/** A zip of exactly these entries (names as given: `../x` stays `../x`). */
export function zipOf(entries: Record<string, ZipEntry>): Buffer {
  const z: Zippable = {};
  for (const [name, e] of Object.entries(entries)) {
    if (typeof e === 'string' || e instanceof Uint8Array) z[name] = bytesOf(e);
    else z[name] = [bytesOf(e.data), { ...(e.os === undefined ? {} : { os: e.os }), ...(e.attrs === undefined ? {} : { attrs: e.attrs }) }];
  }
  return Buffer.from(zipSync(z, { level: 6 }));
}

/** The files of a model folder zipped at the root, minus `omit`, plus `extra`. */
export async function zipFolder(dir: string, o: { omit?: string[]; extra?: Record<string, ZipEntry> } = {}): Promise<Buffer> {
  const entries: Record<string, ZipEntry> = {};
  for (const name of await readdir(dir)) if (!(o.omit ?? []).includes(name)) entries[name] = await readFile(join(dir, name));
  return zipOf({ ...entries, ...(o.extra ?? {}) });
}
