/** Unpacks a model zip safely: the central directory is checked first (names, symlinks, entry count, sizes), then fflate inflates each entry within those caps. */
import { posix } from 'node:path';
import { unzipSync } from 'fflate';
import { EdgewatchError } from '../errors.js';

/** Limits of `unpackModelZip`. */
export interface ZipLimits {
  /** Most entries (files and folders) a zip may hold. */
  maxEntries: number;
  /** Most bytes all entries may unpack to, together. */
  maxTotalBytes: number;
}

/** Defaults: a TF.js model is a model.json, a manifest and a few dozen shards. */
export const DEFAULT_ZIP_LIMITS: ZipLimits = { maxEntries: 1_000, maxTotalBytes: 2 * 1024 * 1024 * 1024 };

interface CentralEntry {
  name: string;
  compressedBytes: number;
  bytes: number;
  isDirectory: boolean;
  isSymlink: boolean;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
/** Unix file-type bits of a symlink in the high half of the external attributes (made on a Unix host). */
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

function unsafe(message: string, details: Record<string, unknown> = {}): EdgewatchError {
  return new EdgewatchError('EW_MODEL_ZIP_UNSAFE', message, { details });
}

/** Reads the central directory (the truth an unzipper follows) without inflating anything. */
function readCentralDirectory(zip: Uint8Array, label: string): CentralEntry[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new EdgewatchError('EW_MODEL_NOT_TFJS', `${label} is not a zip file: a model file must be the TF.js model folder zipped (model.json and shards at its root).`);
  const count = view.getUint16(eocd + 10, true);
  let offset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || offset === 0xffffffff) throw unsafe(`${label} is a ZIP64 archive: a TF.js model zip never needs one; zip the model folder again.`);
  const entries: CentralEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (offset + 46 > zip.length || view.getUint32(offset, true) !== CENTRAL) throw unsafe(`${label}: damaged zip central directory (entry ${n}).`);
    const madeBy = view.getUint16(offset + 4, true) >> 8;
    const compressedBytes = view.getUint32(offset + 20, true);
    const bytes = view.getUint32(offset + 24, true);
    const nameLength = view.getUint16(offset + 28, true);
    const extraLength = view.getUint16(offset + 30, true);
    const commentLength = view.getUint16(offset + 32, true);
    const external = view.getUint32(offset + 38, true);
    const name = Buffer.from(zip.subarray(offset + 46, offset + 46 + nameLength)).toString('utf8');
    const mode = external >>> 16;
    // 3 = Unix, 19 = OS X: only these carry a Unix mode in the external attributes.
    const isSymlink = (madeBy === 3 || madeBy === 19) && (mode & S_IFMT) === S_IFLNK;
    entries.push({ name, compressedBytes, bytes, isDirectory: name.endsWith('/'), isSymlink });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** A relative path inside the model folder, or an error: no absolute path, drive letter, backslash, `..` or empty part. */
function safeRelativePath(name: string, label: string): string {
  const bad = (why: string) => unsafe(`${label}: entry "${name}" ${why}; refused (zip the model folder with its files at the root).`, { entry: name });
  if (name.includes('\\')) throw bad('contains a backslash');
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) throw bad('is an absolute path');
  if (name.includes('\0')) throw bad('contains a NUL byte');
  const parts = name.replace(/\/$/, '').split('/');
  if (parts.some((p) => p === '..')) throw bad('escapes the folder (..)');
  const normalized = posix.normalize(name.replace(/\/$/, ''));
  if (normalized === '.' || normalized.startsWith('../')) throw bad('escapes the folder');
  return normalized;
}

/** Model-file formats that are not TF.js, with the converter command to suggest. */
const OTHER_FORMATS: Array<[RegExp, string]> = [
  [/(^|\/)saved_model\.pbt?x?t?$/, 'a TensorFlow SavedModel: tensorflowjs_converter --input_format=tf_saved_model <saved_model_dir> <out_dir>'],
  [/\.(h5|keras)$/i, 'a Keras model: tensorflowjs_converter --input_format=keras <model.h5> <out_dir>'],
  [/\.onnx$/i, 'an ONNX model: convert it to TensorFlow (onnx-tf), then tensorflowjs_converter --input_format=tf_saved_model'],
  [/\.tflite$/i, 'a TFLite model: export a SavedModel from the source and run tensorflowjs_converter --input_format=tf_saved_model'],
  [/\.(pt|pth)$/i, 'a PyTorch model: export to ONNX/TensorFlow, then tensorflowjs_converter'],
];

/**
 * Unpacks a TF.js model zip into memory: `model.json` and shards at the root (or inside one
 * top-level folder, which is stripped). Throws EW_MODEL_ZIP_UNSAFE for an entry that escapes the
 * folder or is a symlink, more than `maxEntries` entries, or more than `maxTotalBytes` unpacked
 * (declared or actual); EW_MODEL_NOT_TFJS when it is not a zip or holds no model.json (naming the
 * converter when it recognises a SavedModel, Keras, ONNX... file).
 */
export function unpackModelZip(zip: Uint8Array, label: string, limits: ZipLimits = DEFAULT_ZIP_LIMITS): Map<string, Buffer> {
  const entries = readCentralDirectory(zip, label);
  if (entries.length > limits.maxEntries) throw unsafe(`${label} has ${entries.length} entries, more than the ${limits.maxEntries} a model zip may hold.`, { entries: entries.length });
  let declared = 0;
  const names = new Map<string, string>();
  for (const e of entries) {
    if (e.isSymlink) throw unsafe(`${label}: entry "${e.name}" is a symbolic link; refused (a model zip holds plain files only).`, { entry: e.name });
    const path = safeRelativePath(e.name, label);
    declared += e.bytes;
    if (declared > limits.maxTotalBytes) throw unsafe(`${label} unpacks to more than ${limits.maxTotalBytes} bytes; refused (decompression bomb?).`, { maxTotalBytes: limits.maxTotalBytes });
    // Deflate cannot expand more than 1032:1; a larger declared ratio is a forged header.
    if (e.bytes > e.compressedBytes * 1032 + 1024) throw unsafe(`${label}: entry "${e.name}" declares an impossible compression ratio; refused.`, { entry: e.name });
    if (!e.isDirectory) names.set(e.name, path);
  }
  let unpacked: Record<string, Uint8Array>;
  try {
    unpacked = unzipSync(zip, { filter: (f) => names.has(f.name) && f.originalSize <= limits.maxTotalBytes });
  } catch (err) {
    throw unsafe(`${label} cannot be unpacked: ${(err as Error).message}.`);
  }
  let total = 0;
  const files = new Map<string, Buffer>();
  for (const [name, bytes] of Object.entries(unpacked)) {
    total += bytes.length;
    if (total > limits.maxTotalBytes) throw unsafe(`${label} unpacks to more than ${limits.maxTotalBytes} bytes; refused (decompression bomb?).`);
    const path = names.get(name);
    if (path === undefined) continue;
    files.set(path, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  }
  return stripSingleFolder(files, label);
}

/** Files at the root when model.json is there; else the contents of the one folder holding model.json. */
function stripSingleFolder(files: Map<string, Buffer>, label: string): Map<string, Buffer> {
  if (files.has('model.json')) return files;
  const candidates = [...files.keys()].filter((p) => p.endsWith('/model.json') && p.split('/').length === 2);
  if (candidates.length === 1) {
    const prefix = (candidates[0] as string).slice(0, -'model.json'.length);
    const inner = new Map<string, Buffer>();
    for (const [p, b] of files) if (p.startsWith(prefix)) inner.set(p.slice(prefix.length), b);
    return inner;
  }
  for (const [re, what] of OTHER_FORMATS) {
    const hit = [...files.keys()].find((p) => re.test(p));
    if (hit) throw new EdgewatchError('EW_MODEL_NOT_TFJS', `${label} holds ${what} (found ${hit}); edgewatch runs TF.js models only: convert it, then push the output folder.`, { details: { entry: hit } });
  }
  throw new EdgewatchError('EW_MODEL_NOT_TFJS', `${label} has no model.json at its root: zip the TF.js model folder (model.json, weight shards, edgewatch.json) with its files at the root; a TensorFlow model needs tensorflowjs_converter first.`);
}
