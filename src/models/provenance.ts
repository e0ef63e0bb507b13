/** SOURCE.txt of a pulled model: where it came from and the sha256 of every file, written at pull time and read back to verify the folder. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { AGENT_VERSION as VERSION } from '../version.js';
import type { KnownModel } from './catalog.js';
import type { FetchedTarball } from './npm-tarball.js';
import { isPlainFileName } from './weights-manifest.js';

/** The provenance file of a pulled model: package, version, integrity and the sha256 of every other file. */
export const SOURCE_FILE = 'SOURCE.txt';

/** One file of a pulled model folder. */
export interface PulledFile {
  name: string;
  bytes: number;
  sha256: string;
}

/** Hex sha256 of `bytes`. */
export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The `edgewatch.json` written for a catalogue entry (compared byte for byte by {@link matchesCatalog}). */
export function manifestText(model: KnownModel): string {
  return `${JSON.stringify(model.manifest, null, 2)}\n`;
}

/** The SOURCE.txt of `model` pulled from `tarball`, listing `files` in sha256sum format. */
export function sourceText(model: KnownModel, tarball: FetchedTarball, files: PulledFile[]): string {
  return [
    `model: ${model.name}`,
    `description: ${model.description}`,
    `package: ${model.package}`,
    `version: ${model.version}`,
    `tarball: ${basename(tarball.file)} (${tarball.bytes} bytes)`,
    `integrity: ${tarball.integrity}`,
    `path in package: ${model.modelDir}/${model.modelFile}`,
    `license: ${model.license} (see ${basename(model.licenseFile)}, copied from the package)`,
    ...(model.keepOutputs ? [`changed: model.json signature outputs reduced to ${model.keepOutputs.join(', ')} (weights and graph unchanged)`] : []),
    `pulled by: edgewatch ${VERSION} (edgewatch models pull ${model.name})`,
    '',
    'sha256 of each file (sha256sum format):',
    ...files.map((f) => `${f.sha256}  ${f.name}`),
    '',
  ].join('\n');
}

/**
 * Checks a pulled model folder against its SOURCE.txt: returns its files when every listed file
 * exists with the recorded sha256 (model.json and edgewatch.json included), else null.
 */
export async function verifyPulledModel(dir: string): Promise<PulledFile[] | null> {
  let source: string;
  try {
    source = await readFile(join(dir, SOURCE_FILE), 'utf8');
  } catch {
    return null;
  }
  const listed = [...source.matchAll(/^([0-9a-f]{64}) {2}(\S.*)$/gm)].map((m) => ({ sha256: m[1]!, name: m[2]! }));
  const names = new Set(listed.map((f) => f.name));
  if (!names.has('model.json') || !names.has('edgewatch.json')) return null;
  const files: PulledFile[] = [];
  for (const entry of listed) {
    if (!isPlainFileName(entry.name)) return null;
    let bytes: Buffer;
    try {
      bytes = await readFile(join(dir, entry.name));
    } catch {
      return null;
    }
    if (sha256(bytes) !== entry.sha256) return null;
    files.push({ name: entry.name, bytes: bytes.length, sha256: entry.sha256 });
  }
  return files;
}

/** True when a verified folder was written from this catalogue entry (same tarball, same manifest). */
export async function matchesCatalog(dir: string, model: KnownModel): Promise<boolean> {
  const [source, manifest] = await Promise.all([readFile(join(dir, SOURCE_FILE), 'utf8'), readFile(join(dir, 'edgewatch.json'), 'utf8')]);
  return source.includes(`\nintegrity: ${model.integrity}\n`) && manifest === manifestText(model);
}
