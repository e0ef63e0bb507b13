/** Reads a TF.js model out of an extracted npm package without running its code: shards checked against the weights manifest, converted to a plain model.json with `.bin` shards. */
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgewatchError } from '../errors.js';
import { readBundleExport } from './browserify-bundle.js';
import type { KnownModel } from './catalog.js';
import { readWeightsGroups } from './weights-manifest.js';

/**
 * Reads model.json and its shards from `modelRoot` (the model's folder in the extracted package),
 * verified, as the files to write (model.json first). Throws EW_PULL_VERIFY (wrong shape or size)
 * or EW_PULL_FAILED (a file missing).
 */
export async function readPackagedModel(model: KnownModel, modelRoot: string): Promise<Map<string, Buffer>> {
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

/**
 * The bytes of `file`, which must be a regular file of the extracted package (not a link).
 * Throws EW_PULL_FAILED when it is missing, EW_PULL_VERIFY when it is not a regular file.
 */
export async function readRegularFile(file: string, modelName: string): Promise<Buffer> {
  let info;
  try {
    info = await lstat(file);
  } catch (err) {
    throw new EdgewatchError('EW_PULL_FAILED', `${file} is missing from the extracted package; the package layout may have changed.`, { cause: err, details: { model: modelName, file } });
  }
  if (!info.isFile()) throw new EdgewatchError('EW_PULL_VERIFY', `${file} in the package is not a regular file.`, { details: { model: modelName, file } });
  return readFile(file);
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

function verifyError(where: string, why: string): EdgewatchError {
  return new EdgewatchError('EW_PULL_VERIFY', `${where}: ${why}.`, { details: { model: where } });
}
