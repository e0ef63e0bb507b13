/** Runs one loaded model in the current thread: normalises pixels, times inference honestly, decodes the output. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfconv from '@tensorflow/tfjs-converter';
import type * as tfl from '@tensorflow/tfjs-layers';
import { EdgewatchError, isEdgewatchError } from '../errors.js';
import type { DecodedInput, InputSpec, RawPrediction, TaskType } from '../types.js';
import { checkClassificationOutput, checkDetectionOutput, decodeCenternet, toProbabilities, topKClassification } from './decode-output.js';
import { stageLayersModel, type FusedPlan } from './fuse-layers.js';
import { loadModelFolder, MODEL_JSON, type LoadedModel } from './load-model.js';
import type { ManifestFile, ModelOutput } from './manifest.js';

/** What a runner (or worker) tells about its model; plain data, safe to post between threads. */
export interface ModelInfo {
  name: string;
  /** Absolute model folder. */
  dir: string;
  /** sha256 hex of model.json + shards + manifest: reported with every prediction. */
  hash: string;
  task: TaskType;
  labels: string[];
  input: InputSpec;
  format: 'graph' | 'layers';
  /** TF.js backend running the model (`tensorflow`, `wasm` or `cpu`). */
  backend: string;
  /** `edgewatch.json` or `metadata.json`. */
  manifestFile: string;
  description?: string;
  trainedAccuracy?: number;
  /** How the model runs: `layers`, `graph`, or `fused` (a layers model compiled to fused ops, verified against it); with the reason when not fused. */
  execution?: { mode: 'layers' | 'graph' | 'fused'; detail?: string };
}

export interface RunnerOptions {
  /** Classes reported per classification prediction (default 1). */
  topK?: number;
  /** Overrides the manifest / folder name. */
  name?: string;
  /** Compile a layers model to fused ops (batch norms folded) when it verifies against the model (default true). */
  optimize?: boolean;
  /** Largest difference tolerated between the fused plan's output and the layers model's own (default {@link FUSED_TOLERANCE}). */
  fusedTolerance?: number;
  /**
   * Called where loading has just left garbage behind, before running grows the backend's memory:
   * once the weights are on the backend (file shards, dequantised arrays), and once a fused plan is
   * built (its weights folded in JavaScript).
   */
  collectGarbage?: () => void;
  /** The folder's manifest, already read (see loadModelFolder). */
  manifest?: ManifestFile;
}

/** Largest difference tolerated between the fused plan's output and the layers model's own. */
export const FUSED_TOLERANCE = 1e-3;

/** One prediction and the model's own time, in seconds, from input tensor ready to output on the host. */
export interface TimedPrediction {
  prediction: RawPrediction;
  latencySeconds: number;
}

/** A compile error when a `switch` over the output kinds misses one; at run time (a manifest that bypassed its schema) EW_MODEL_OUTPUT. */
function noDecoder(output: never, file: string): never {
  const kind = (output as { kind?: unknown }).kind;
  throw new EdgewatchError('EW_MODEL_OUTPUT', `${file}: edgewatch has no decoder for output kind ${JSON.stringify(kind)}`, { details: { file, kind } });
}

/** How many output tensors the decoder of `output.kind` reads. */
export function outputTensorCount(output: ModelOutput, file: string): number {
  switch (output.kind) {
    case 'classification':
      return 1;
    case 'detection':
      return 1;
    default:
      return noDecoder(output, file);
  }
}

function outputCountError(file: string, kind: string, expected: number, actual: number): EdgewatchError {
  return new EdgewatchError(
    'EW_MODEL_OUTPUT',
    `${file}: the model has ${actual} outputs but its ${kind} output is decoded from exactly ${expected}; export the model with ${expected === 1 ? 'a single output' : `${expected} outputs`}`,
    { details: { file, kind, expected, actual } },
  );
}

/** Original (displayed) size of the image, used to map detection boxes back to it. */
export interface OriginalSize {
  width: number;
  height: number;
}

/** An in-process model: load it once (after `selectBackend`), warm it up, then predict one image at a time. */
export class ModelRunner {
  readonly info: ModelInfo;
  #loaded: LoadedModel;
  readonly #topK: number;
  /** Output tensors the manifest's decoder reads: the model must return exactly this many. */
  readonly #outputCount: number;
  /** Per channel (model order): value = pixel * scale + offset, i.e. (pixel - mean) / std. */
  readonly #scale: Float32Array;
  readonly #offset: Float32Array;
  /** Source channel (RGB index) for each model channel. */
  readonly #sourceChannel: number[];
  #graphNeedsAsync = false;
  #disposed = false;
  #fused: FusedPlan | undefined;
  /** The layers model was released once its fused plan was verified. */
  #modelDisposed = false;

  private constructor(loaded: LoadedModel, topK: number) {
    this.#loaded = loaded;
    this.#topK = topK;
    const m = loaded.manifest;
    this.#outputCount = outputTensorCount(m.output, `${loaded.dir}/${MODEL_JSON}`);
    this.info = {
      name: loaded.name,
      dir: loaded.dir,
      hash: loaded.hash,
      task: m.task,
      labels: [...m.labels],
      input: { ...loaded.input },
      format: loaded.format,
      backend: tf.getBackend(),
      manifestFile: loaded.manifestFile,
      ...(m.description !== undefined ? { description: m.description } : {}),
      ...(m.trainedAccuracy !== undefined ? { trainedAccuracy: m.trainedAccuracy } : {}),
    };
    const channels = loaded.input.channels;
    this.#sourceChannel = channels === 1 ? [0] : m.input.channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2];
    this.#scale = new Float32Array(channels);
    this.#offset = new Float32Array(channels);
    for (let c = 0; c < channels; c++) {
      const src = this.#sourceChannel[c]!;
      this.#scale[c] = 1 / m.input.std[src]!;
      this.#offset[c] = -m.input.mean[src]! / m.input.std[src]!;
    }
  }

  /**
   * Loads a model folder on the current backend. Throws EW_MODEL_LOAD / EW_MODEL_MANIFEST /
   * EW_MODEL_INPUT, or EW_MODEL_OUTPUT when the model's number of outputs is not the one its
   * manifest's output kind decodes.
   */
  static async load(dir: string, options: RunnerOptions = {}): Promise<ModelRunner> {
    const loaded = await loadModelFolder(dir, { ...(options.name !== undefined ? { name: options.name } : {}), ...(options.manifest ? { manifest: options.manifest } : {}) });
    options.collectGarbage?.();
    let runner: ModelRunner;
    try {
      runner = new ModelRunner(loaded, options.topK ?? 1);
      const declared = loaded.model.outputs.length;
      if (declared !== runner.#outputCount) throw outputCountError(runner.#modelFile(), loaded.manifest.output.kind, runner.#outputCount, declared);
    } catch (err) {
      loaded.model.dispose();
      throw err;
    }
    runner.info.execution = { mode: loaded.format === 'layers' ? 'layers' : 'graph' };
    if (loaded.format === 'layers' && options.optimize !== false) {
      await runner.#tryFuse(options.name, options.fusedTolerance ?? FUSED_TOLERANCE);
      options.collectGarbage?.();
    }
    return runner;
  }

  /**
   * Compiles the layers model to fused ops and keeps the plan only if it gives the same output on a
   * test input. The layers model runs first, its weights are folded in JavaScript, and it is
   * released before the plan's weights go to the backend: the wasm memory (which never shrinks) then
   * holds one copy of the weights at a time, not two with their packed XNNPACK forms. A plan that
   * fails the check reloads the layers model.
   */
  async #tryFuse(name: string | undefined, tolerance: number): Promise<void> {
    const model = this.#loaded.model as tfl.LayersModel;
    const { width, height, channels } = this.info.input;
    const x = tf.randomUniform([1, height, width, channels], -1, 1, 'float32', 7) as tf.Tensor4D;
    let plan: FusedPlan | undefined;
    let diff: number;
    try {
      const expected = tf.tidy(() => tf.reshape(model.predict(x) as tf.Tensor, [-1]));
      const staged = stageLayersModel(model);
      if ('unsupported' in staged) {
        expected.dispose();
        this.info.execution = { mode: 'layers', detail: `not fused: ${staged.unsupported}` };
        return;
      }
      // The plan will hold its own copies of the weights: the layers model's are never read again.
      model.dispose();
      this.#modelDisposed = true;
      const built = staged.build();
      plan = built;
      diff = tf.tidy(() => {
        const actual = tf.reshape(built.run(x), [-1]);
        if (expected.size !== actual.size) return Number.POSITIVE_INFINITY;
        return tf.max(tf.abs(tf.sub(expected, actual))).dataSync()[0]!;
      });
      expected.dispose();
    } finally {
      x.dispose();
    }
    if (diff <= tolerance) {
      this.#fused = plan;
      this.info.execution = { mode: 'fused', detail: `${plan.layers} layers → ${plan.ops} ops, max difference ${diff.toExponential(1)}` };
      return;
    }
    plan.dispose();
    this.#loaded = await loadModelFolder(this.#loaded.dir, { ...(name !== undefined ? { name } : {}), manifest: this.#loaded.manifestSource });
    this.#modelDisposed = false;
    this.info.execution = { mode: 'layers', detail: `not fused: output differs by ${diff}` };
  }

  /** Runs the model twice on a black image so that kernels are compiled before any timed prediction; checks the output shape. */
  async warmUp(): Promise<void> {
    const { width, height, channels } = this.info.input;
    const pixels = new Uint8Array(width * height * channels);
    for (let i = 0; i < 2; i++) await this.predict({ spec: this.info.input, pixels }, { width, height });
  }

  /** Predicts one image (already resized to `info.input`). Throws EW_INFER_FAILED (or EW_MODEL_OUTPUT for an undecodable output). */
  async predict(input: DecodedInput, original: OriginalSize): Promise<TimedPrediction> {
    return this.predictSync(input, original) ?? (await this.#predictAsync(input, original));
  }

  /**
   * Predicts one image without yielding to the event loop, or returns undefined when the model can
   * only run asynchronously (a graph with control flow or dynamic shapes, e.g. NMS: `executeAsync`).
   * A host runs its champion this way from inside a paused shadow prediction (see kernel-gate.ts).
   */
  predictSync(input: DecodedInput, original: OriginalSize): TimedPrediction | undefined {
    if (this.#graphNeedsAsync) return undefined;
    return this.#guard(input, (x, started) => {
      const outputs = this.#executeSync(x);
      if (!outputs) return undefined;
      try {
        return this.#finish(outputs, outputs.map((o) => o.dataSync() as Float32Array), started, original);
      } finally {
        tf.dispose(outputs);
      }
    });
  }

  /** Whether predictSync runs this model (known once the model has run, e.g. after warmUp). */
  get runsSync(): boolean {
    return !this.#graphNeedsAsync;
  }

  async #predictAsync(input: DecodedInput, original: OriginalSize): Promise<TimedPrediction> {
    return this.#guard(input, async (x, started) => {
      const outputs = await this.#executeAsync(x);
      try {
        return this.#finish(outputs, (await Promise.all(outputs.map((o) => o.data()))) as Float32Array[], started, original);
      } finally {
        tf.dispose(outputs);
      }
    });
  }

  /** Makes the input tensor, starts the clock, runs `fn`, and frees the input; errors become EW_INFER_FAILED. */
  #guard<T>(input: DecodedInput, fn: (x: tf.Tensor4D, started: number) => T): T {
    if (this.#disposed) throw new EdgewatchError('EW_INFER_FAILED', `model ${this.info.name} is closed`);
    const wrap = (err: unknown): never => {
      if (isEdgewatchError(err)) throw err;
      throw new EdgewatchError('EW_INFER_FAILED', `model ${this.info.name}: inference failed (${(err as Error).message})`, { cause: err });
    };
    let x: tf.Tensor4D | undefined;
    let result: T;
    try {
      x = this.#toTensor(input);
      result = fn(x, performance.now());
    } catch (err) {
      x?.dispose();
      return wrap(err);
    }
    if (result instanceof Promise) {
      return result.then(
        (value) => (x.dispose(), value),
        (err: unknown) => (x.dispose(), wrap(err)),
      ) as T;
    }
    x.dispose();
    return result;
  }

  /** The latency (input ready → values on the host) and the decoded prediction; checks the output count. */
  #finish(outputs: tf.Tensor[], values: Float32Array[], started: number, original: OriginalSize): TimedPrediction {
    const latencySeconds = (performance.now() - started) / 1000;
    if (outputs.length !== this.#outputCount) {
      throw outputCountError(this.#modelFile(), this.#loaded.manifest.output.kind, this.#outputCount, outputs.length);
    }
    const read = outputs.map((o, i) => ({ values: values[i] as Float32Array, shape: o.shape }));
    return { prediction: this.#decode(read, original), latencySeconds };
  }

  /** Frees the model's weights. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#fused?.dispose();
    if (!this.#modelDisposed) this.#loaded.model.dispose();
  }

  #modelFile(): string {
    return `${this.info.dir}/${MODEL_JSON}`;
  }

  /** (pixel - mean) / std per channel, channel order swapped if needed, as a [1, h, w, c] float32 tensor. */
  #toTensor(input: DecodedInput): tf.Tensor4D {
    const { width, height, channels } = this.info.input;
    const inChannels = input.spec.channels;
    if (input.spec.width !== width || input.spec.height !== height || input.pixels.length !== width * height * inChannels || (channels === 3 && inChannels !== 3)) {
      throw new EdgewatchError(
        'EW_INFER_FAILED',
        `model ${this.info.name} takes ${width}×${height}×${channels} pixels; got ${input.spec.width}×${input.spec.height}×${inChannels} (${input.pixels.length} bytes)`,
      );
    }
    const pixelCount = width * height;
    const data = new Float32Array(pixelCount * channels);
    const src = input.pixels;
    if (channels === 1 && inChannels === 3) {
      // Grey model fed colour pixels: ITU-R BT.601 luma.
      for (let p = 0; p < pixelCount; p++) {
        const grey = 0.299 * src[p * 3]! + 0.587 * src[p * 3 + 1]! + 0.114 * src[p * 3 + 2]!;
        data[p] = grey * this.#scale[0]! + this.#offset[0]!;
      }
    } else {
      for (let c = 0; c < channels; c++) {
        const from = this.#sourceChannel[c]!;
        const scale = this.#scale[c]!;
        const offset = this.#offset[c]!;
        for (let p = 0; p < pixelCount; p++) data[p * channels + c] = src[p * inChannels + from]! * scale + offset;
      }
    }
    return tf.tensor4d(data, [1, height, width, channels]);
  }

  /** Runs the model without awaiting, or returns undefined (nothing allocated) when the graph needs executeAsync. */
  #executeSync(x: tf.Tensor4D): tf.Tensor[] | undefined {
    if (this.#fused) return asList(this.#fused.run(x));
    const model = this.#loaded.model;
    if (this.#loaded.format === 'layers') return asList((model as tfl.LayersModel).predict(x));
    try {
      return asList((model as tfconv.GraphModel).execute(x));
    } catch (err) {
      // Graphs with control flow or dynamic shapes (e.g. NMS) must run with executeAsync.
      if (!/executeAsync/i.test((err as Error).message)) throw err;
      this.#graphNeedsAsync = true;
      return undefined;
    }
  }

  async #executeAsync(x: tf.Tensor4D): Promise<tf.Tensor[]> {
    return asList(await (this.#loaded.model as tfconv.GraphModel).executeAsync(x));
  }

  /** Decodes the output tensors (as many as `outputTensorCount` says, checked by the caller) by the manifest's output kind. */
  #decode(outputs: ReadonlyArray<{ values: Float32Array; shape: number[] }>, original: OriginalSize): RawPrediction {
    const output = this.#loaded.manifest.output;
    switch (output.kind) {
      case 'classification': {
        const { values, shape } = outputs[0]!;
        checkClassificationOutput(shape, this.info.labels.length, this.#modelFile());
        return topKClassification(toProbabilities(values, output.activation), this.#topK);
      }
      case 'detection': {
        const { values, shape } = outputs[0]!;
        checkDetectionOutput(shape, this.#modelFile());
        return decodeCenternet(values, shape[1]!, output, this.info.input, original);
      }
      default:
        return noDecoder(output, this.#modelFile());
    }
  }
}

function asList(out: tf.Tensor | tf.Tensor[] | tf.NamedTensorMap): tf.Tensor[] {
  if (out instanceof tf.Tensor) return [out];
  if (Array.isArray(out)) return out;
  return Object.values(out);
}
