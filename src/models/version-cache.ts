/** A deployment's model versions on disk: downloaded once per (model version, model file), unpacked safely and atomically under the state folder, with the labels the platform holds. */
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgewatchError } from '../errors.js';
import type { ModelFile, ModelRegistryApi, ModelVersion } from '../monitor/model-registry-api.js';
import { removeInterruptedWrites, writeFolderAtomically } from './atomic-folder.js';
import { downloadModelFile } from './model-download.js';
import { DEFAULT_ZIP_LIMITS, unpackModelZip, type ZipLimits } from './model-zip.js';

/** The record kept beside the unpacked files: what was downloaded, and its digest. */
export const DOWNLOAD_RECORD = 'edgewatch-download.json';

/** A model version ready to load. */
export interface CachedVersion {
  /** The unpacked TF.js model folder. */
  dir: string;
  versionId: string;
  /** `<model name> <version name>`, for logs. */
  label: string;
  fileId: string;
  objectName: string;
  sizeBytes: number;
  sha256: string;
  /** True when it was on disk already (no download). */
  cached: boolean;
}

export interface FetchVersionOptions {
  api: Pick<ModelRegistryApi, 'modelVersion' | 'modelFile' | 'connector' | 'retrievePresignedUrl'>;
  organizationId: string;
  versionId: string;
  /** `--model-file-name`. */
  fileName: string;
  /** `<stateDir>/models`. */
  cacheDir: string;
  /** The deployment's type: the task of a zip without a manifest. */
  deploymentType: string;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  limits?: ZipLimits;
}

/** Folder-safe form of an id (ids are UUIDs on the platform; anything else is hashed). */
function safeName(id: string): string {
  return /^[A-Za-z0-9._-]{1,80}$/.test(id) && !id.startsWith('.') ? id : createHash('sha256').update(id).digest('hex').slice(0, 32);
}

/** The cache folder of one (version, model file): keyed on the file's id and object name, since `store(replace=True)` gives a version a new file. */
function cacheFolder(versionId: string, file: ModelFile): { parent: string; name: string } {
  const key = createHash('sha256').update(`${file.id}\n${file.object_name}`).digest('hex').slice(0, 24);
  return { parent: safeName(versionId), name: key };
}

/**
 * The model version's TF.js folder: from the cache when its record names the same ModelFile id and
 * object name, else downloaded (see `downloadModelFile`), unpacked (`unpackModelZip`), given an
 * edgewatch.json from the version's labels and type when the zip has none (or labels when its
 * manifest has none), and written atomically. Throws EW_MODEL_FILE_MISSING, EW_MODEL_DOWNLOAD,
 * EW_MODEL_ZIP_UNSAFE, EW_MODEL_NOT_TFJS, EW_MODEL_MANIFEST or the platform's EW_MONITOR_* codes.
 */
export async function fetchModelVersion(o: FetchVersionOptions): Promise<CachedVersion> {
  const version = await o.api.modelVersion(o.versionId);
  const file = await o.api.modelFile(o.versionId, o.fileName);
  const label = `${version.origin.name} ${version.name}`;
  const { parent, name } = cacheFolder(o.versionId, file);
  const parentDir = join(o.cacheDir, parent);
  const dir = join(parentDir, name);
  const known = await readRecord(dir);
  if (known && known.fileId === file.id && known.objectName === file.object_name) {
    return { dir, versionId: o.versionId, label, fileId: file.id, objectName: file.object_name, sizeBytes: known.sizeBytes, sha256: known.sha256, cached: true };
  }
  const limits = o.limits ?? DEFAULT_ZIP_LIMITS;
  const what = `model file "${file.name}" (${file.filename}) of ${label}`;
  const download = await downloadModelFile({
    presignedUrl: file.presigned_url,
    newUrl: async () => o.api.retrievePresignedUrl(await o.api.connector(o.organizationId), file.object_name),
    maxBytes: limits.maxTotalBytes,
    timeoutMs: o.timeoutMs,
    signal: o.signal,
    label: what,
  });
  const unpacked = unpackModelZip(download.bytes, what, limits);
  const files = new Map<string, Buffer>();
  for (const [path, bytes] of unpacked) if (!path.includes('/') && path !== DOWNLOAD_RECORD) files.set(path, bytes);
  files.set('edgewatch.json', manifestFor(files, version, o.deploymentType, what));
  files.delete('metadata.json');
  const record = {
    versionId: o.versionId,
    fileId: file.id,
    objectName: file.object_name,
    filename: file.filename,
    sizeBytes: download.bytes.length,
    sha256: download.sha256,
    downloadedAt: new Date().toISOString(),
    files: Object.fromEntries([...files].map(([name, bytes]) => [name, bytes.length])),
  };
  files.set(DOWNLOAD_RECORD, Buffer.from(`${JSON.stringify(record, null, 2)}\n`));
  await mkdir(parentDir, { recursive: true });
  await removeInterruptedWrites(parentDir, name);
  await writeFolderAtomically(parentDir, name, files);
  return { dir, versionId: o.versionId, label, fileId: file.id, objectName: file.object_name, sizeBytes: record.sizeBytes, sha256: record.sha256, cached: false };
}

/**
 * The platform's labels as a list indexed by class id: `labels["0"], labels["1"]…` when the map is
 * 0-based; otherwise (e.g. the SDK's `{"1": "cat", "2": "dog"}`) the values in key order, as
 * Picsellia's own annotators read a map without "0".
 */
export function labelsFromVersion(labels: Record<string, string> | null | undefined): string[] | undefined {
  if (!labels) return undefined;
  const keys = Object.keys(labels).filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b));
  if (keys.length === 0) return undefined;
  return keys.map((k) => labels[k] as string);
}

/** The edgewatch.json to write: the zip's own (labels added when it has none), Teachable Machine's, or one made from the version. */
function manifestFor(files: Map<string, Buffer>, version: ModelVersion, deploymentType: string, what: string): Buffer {
  const fromPlatform = labelsFromVersion(version.labels);
  const name = `${version.origin.name}-${version.name}`;
  const own = files.get('edgewatch.json');
  const tm = files.get('metadata.json');
  let manifest: Record<string, unknown>;
  if (own) {
    manifest = parseObject(own, `${what}: edgewatch.json`);
    if (!Array.isArray(manifest.labels) || manifest.labels.length === 0) manifest.labels = fromPlatform;
  } else if (tm) {
    const meta = parseObject(tm, `${what}: metadata.json`);
    const size = typeof meta.imageSize === 'number' ? meta.imageSize : 224;
    manifest = {
      task: 'CLASSIFICATION',
      labels: Array.isArray(meta.labels) && meta.labels.length > 0 ? meta.labels : fromPlatform,
      input: { width: size, height: size, channels: 3, fit: 'cover', mean: 127.5, std: 127.5 },
    };
  } else {
    manifest = { task: version.type === 'NOT_CONFIGURED' ? deploymentType : version.type, labels: fromPlatform };
  }
  if (!Array.isArray(manifest.labels) || manifest.labels.length === 0) {
    throw new EdgewatchError('EW_MODEL_MANIFEST', `${what}: no labels, neither in the zip's edgewatch.json nor in the model version's labels: set the version's labels or add them to edgewatch.json.`);
  }
  manifest.name ??= name;
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
}

function parseObject(bytes: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new EdgewatchError('EW_MODEL_MANIFEST', `${what} is not valid JSON (${(err as Error).message}): fix it and push the model again.`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new EdgewatchError('EW_MODEL_MANIFEST', `${what} is not a JSON object.`);
  return v as Record<string, unknown>;
}

/** The record of a complete cached folder: every unpacked file still there with its size; else undefined (downloaded again). */
async function readRecord(dir: string): Promise<{ fileId: string; objectName: string; sizeBytes: number; sha256: string } | undefined> {
  try {
    const r = JSON.parse(await readFile(join(dir, DOWNLOAD_RECORD), 'utf8')) as Record<string, unknown>;
    if (typeof r.fileId !== 'string' || typeof r.objectName !== 'string' || typeof r.sizeBytes !== 'number' || typeof r.sha256 !== 'string') return undefined;
    if (r.files === null || typeof r.files !== 'object') return undefined;
    for (const [name, size] of Object.entries(r.files as Record<string, unknown>)) {
      if ((await stat(join(dir, name))).size !== size) return undefined;
    }
    return { fileId: r.fileId, objectName: r.objectName, sizeBytes: r.sizeBytes, sha256: r.sha256 };
  } catch {
    // No record (not downloaded yet, or an interrupted write): download again.
  }
  return undefined;
}
