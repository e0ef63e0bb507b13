/** Loads a TF.js model folder from disk (our own IOHandler: TF.js has no file:// loader without tfjs-node), checks it, and hashes it. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfconv from '@tensorflow/tfjs-converter';
import type * as tfl from '@tensorflow/tfjs-layers';
import { EdgewatchError } from '../errors.js';
import type { InputSpec } from '../types.js';
import type { ManifestFile, ModelManifest } from './manifest.js';

/** The model.json file name inside a model folder. */
export const MODEL_JSON = 'model.json';

/** A loaded, checked model and everything needed to feed it. */
export interface LoadedModel {
  /** Absolute folder path. */
  dir: string;
  name: string;
  /** sha256 (hex) over model.json, every shard in manifest order, then the manifest file. */
  hash: string;
  format: 'graph' | 'layers';
  model: tfconv.GraphModel | tfl.LayersModel;
  manifest: ModelManifest;
  /** The manifest as read, kept so that the folder can be loaded again without reading it. */
  manifestSource: ManifestFile;
  /** The pixels the model wants (manifest values, else the model's input shape). */
  input: InputSpec;
  /** Name of the manifest file used (edgewatch.json or metadata.json). */
  manifestFile: string;
}

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

function loadError(file: string, message: string, cause?: unknown): EdgewatchError {
  return new EdgewatchError('EW_MODEL_LOAD', `${file}: ${message}`, { cause, details: { file } });
}

/** Bytes a weight group needs according to its specs, or undefined when it cannot be known (strings). */
function expectedGroupBytes(weights: tf.io.WeightsManifestEntry[]): number | undefined {
  let total = 0;
  for (const w of weights) {
    const dtype = w.quantization?.dtype ?? w.dtype;
    const size = BYTES_PER_ELEMENT[dtype];
    if (size === undefined) return undefined;
    total += w.shape.reduce((a, b) => a * b, 1) * size;
  }
  return total;
}

function parseModelJson(bytes: Buffer, file: string): tf.io.ModelJSON {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw loadError(file, `is not valid JSON (${(err as Error).message}); re-export the model`, err);
  }
  const j = json as Partial<tf.io.ModelJSON> | null;
  if (typeof j !== 'object' || j === null || typeof j.modelTopology !== 'object' || j.modelTopology === null) {
    throw loadError(file, 'has no modelTopology: not a TF.js model.json (convert the model with tensorflowjs_converter)');
  }
  if (!Array.isArray(j.weightsManifest)) throw loadError(file, 'has no weightsManifest list: not a TF.js model.json');
  return j as tf.io.ModelJSON;
}

/**
 * Reads model.json and its shards and builds an IOHandler over them (loads from memory), while
 * feeding every byte read into `hash`. Missing or wrongly sized shards are EW_MODEL_LOAD.
 */
async function readArtifacts(dir: string, hash: ReturnType<typeof createHash>): Promise<{ artifacts: tf.io.ModelArtifacts; json: tf.io.ModelJSON }> {
  const jsonFile = join(dir, MODEL_JSON);
  let jsonBytes: Buffer;
  try {
    jsonBytes = await readFile(jsonFile);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw loadError(jsonFile, code === 'ENOENT' ? 'missing: a model folder needs model.json and its weight shards' : `cannot be read (${(err as Error).message})`, err);
  }
  hash.update(jsonBytes);
  const json = parseModelJson(jsonBytes, jsonFile);
  const artifacts = await tf.io.getModelArtifactsForJSON(json, async (weightsManifest) => {
    const buffers: ArrayBuffer[] = [];
    for (const group of weightsManifest) {
      let groupBytes = 0;
      for (const path of group.paths) {
        const shardFile = join(dir, decodeURIComponent(path));
        let shard: Buffer;
        try {
          shard = await readFile(shardFile);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          throw loadError(shardFile, code === 'ENOENT' ? `missing weight shard listed in ${MODEL_JSON}: copy the complete model folder` : `cannot be read (${(err as Error).message})`, err);
        }
        hash.update(shard);
        groupBytes += shard.byteLength;
        buffers.push(shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength) as ArrayBuffer);
      }
      const expected = expectedGroupBytes(group.weights);
      if (expected !== undefined && expected !== groupBytes) {
        throw loadError(
          join(dir, group.paths.join(', ')),
          `weight shard(s) hold ${groupBytes} bytes but ${MODEL_JSON} declares ${expected}: the shard is truncated or belongs to another model`,
        );
      }
    }
    return [weightsManifest.flatMap((g) => g.weights), buffers];
  });
  return { artifacts, json };
}

function isLayersModel(json: tf.io.ModelJSON): boolean {
  if (json.format === 'layers-model') return true;
  if (json.format === 'graph-model') return false;
  const topology = json.modelTopology as { class_name?: unknown; model_config?: unknown; node?: unknown };
  return topology.class_name !== undefined || topology.model_config !== undefined;
}

/** [height, width, channels] of the model's single image input (null where the model leaves it open). */
function modelInputShape(model: tfconv.GraphModel | tfl.LayersModel, file: string): Array<number | null> {
  const inputs = model.inputs as Array<{ shape?: Array<number | null> | number[] }>;
  if (inputs.length !== 1) {
    throw new EdgewatchError('EW_MODEL_INPUT', `${file}: the model has ${inputs.length} inputs; edgewatch feeds models with one image input [1, height, width, channels]`, { details: { file } });
  }
  const shape = inputs[0]!.shape;
  if (!shape || shape.length !== 4) {
    throw new EdgewatchError(
      'EW_MODEL_INPUT',
      `${file}: the model input has shape [${shape?.map((d) => d ?? -1).join(', ') ?? '?'}]; an image model takes [batch, height, width, channels] (rank 4)`,
      { details: { file, shape } },
    );
  }
  return shape.slice(1).map((d) => (d === -1 ? null : d ?? null));
}

function resolveInputSpec(shape: Array<number | null>, manifest: ModelManifest, file: string, manifestFile: string): InputSpec {
  const [h, w, c] = shape;
  const height = manifest.input.height ?? h;
  const width = manifest.input.width ?? w;
  const channels = manifest.input.channels ?? c ?? 3;
  if (!height || !width) {
    throw new EdgewatchError('EW_MODEL_INPUT', `${file}: the model input size is not fixed; set input.width and input.height in ${manifestFile}`, { details: { file } });
  }
  if (channels !== 1 && channels !== 3) {
    throw new EdgewatchError('EW_MODEL_INPUT', `${file}: the model input has ${channels} channels; edgewatch feeds 1 (grey) or 3 (colour)`, { details: { file } });
  }
  for (const [what, fromModel, wanted] of [
    ['height', h, height],
    ['width', w, width],
    ['channels', c, channels],
  ] as const) {
    if (fromModel !== null && fromModel !== undefined && fromModel !== wanted) {
      throw new EdgewatchError('EW_MODEL_INPUT', `${file}: ${manifestFile} says input ${what} ${wanted} but the model takes ${fromModel}; fix the manifest`, {
        details: { file, key: `input.${what}` },
      });
    }
  }
  return { width, height, channels, fit: manifest.input.fit };
}

/**
 * Loads and checks a model folder: manifest, model.json, shards, input shape; computes its hash.
 * A model host is given the manifest its caller read (`options.manifest`): the schema's library is
 * then never loaded in the host's thread, where it cost 12 MB of RSS per host.
 */
export async function loadModelFolder(dirInput: string, options: { name?: string; manifest?: ManifestFile } = {}): Promise<LoadedModel> {
  const dir = resolve(dirInput);
  const manifestSource = options.manifest ?? (await (await import('./manifest.js')).readManifest(dir));
  const { manifest, file: manifestPath, bytes: manifestBytes } = manifestSource;
  const hash = createHash('sha256');
  const { artifacts, json } = await readArtifacts(dir, hash);
  hash.update(manifestBytes);
  const jsonFile = join(dir, MODEL_JSON);
  const layers = isLayersModel(json);
  let model: tfconv.GraphModel | tfl.LayersModel;
  try {
    const handler = tf.io.fromMemory(artifacts);
    // Each host loads the one TF.js model library its model needs (about 8 MB of code apiece).
    model = layers ? await (await import('@tensorflow/tfjs-layers')).loadLayersModel(handler) : await (await import('@tensorflow/tfjs-converter')).loadGraphModel(handler);
  } catch (err) {
    throw loadError(jsonFile, `TF.js cannot build the ${layers ? 'layers' : 'graph'} model (${(err as Error).message})`, err);
  }
  // A graph model keeps the artifacts it was loaded from (this very object: fromMemory passes it
  // through) for save(), which edgewatch never calls: its weight bytes would stay in the host for
  // life next to their copy on the backend (InceptionV3: 22 MB per host).
  delete artifacts.weightData;
  try {
    const input = resolveInputSpec(modelInputShape(model, jsonFile), manifest, jsonFile, basename(manifestPath));
    return {
      dir,
      name: options.name ?? manifest.name ?? basename(dir),
      hash: hash.digest('hex'),
      format: layers ? 'layers' : 'graph',
      model,
      manifest,
      manifestSource,
      input,
      manifestFile: basename(manifestPath),
    };
  } catch (err) {
    model.dispose();
    throw err;
  }
}
