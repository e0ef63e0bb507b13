/** The model manifest: edgewatch.json (or Teachable Machine's metadata.json) says what the graph cannot: task, labels, input preprocessing, output decoding. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { EdgewatchError } from '../errors.js';
import type { TaskType } from '../types.js';

/** File name of the edgewatch manifest inside a model folder. */
export const MANIFEST_FILE = 'edgewatch.json';
/** File name of Teachable Machine's metadata, accepted when there is no edgewatch.json. */
export const TEACHABLE_MACHINE_FILE = 'metadata.json';

const perChannel = z
  .union([z.number(), z.array(z.number()).min(1).max(3)])
  .describe('One value for every channel, or one per channel (RGB order).');

const inputSchema = z
  .object({
    width: z.number().int().positive().optional().describe('Model input width (default: from the model input shape).'),
    height: z.number().int().positive().optional().describe('Model input height (default: from the model input shape).'),
    channels: z.union([z.literal(1), z.literal(3)]).optional().describe('1 (grey) or 3 (colour); default: from the model input shape.'),
    fit: z.enum(['fill', 'cover', 'contain']).default('fill').describe('How the image is resized: stretch, centre crop, or letterbox.'),
    channelOrder: z.enum(['rgb', 'bgr']).default('rgb').describe('Channel order the model expects.'),
    mean: perChannel.default(0).describe('Subtracted from each 0-255 pixel value.'),
    std: perChannel
      .default(255)
      .refine((v) => (Array.isArray(v) ? v : [v]).every((x) => x !== 0), 'std must not be 0')
      .describe('Divisor applied after subtracting mean.'),
  })
  .strict();

const classificationOutputSchema = z
  .object({
    activation: z
      .enum(['softmax', 'logits', 'sigmoid'])
      .default('softmax')
      .describe('softmax: the output is already probabilities; logits: softmax is applied; sigmoid: sigmoid is applied per class.'),
  })
  .strict();

const detectionOutputSchema = z
  .object({
    decoder: z.literal('centernet').describe('A [1, N, 6] output of x1, y1, x2, y2, score, class rows.'),
    boxes: z.enum(['normalized', 'pixels']).default('normalized').describe('Box coordinates are fractions of the input size, or input pixels.'),
    scoreThreshold: z.number().min(0).max(1).default(0.3).describe('Detections scoring below this are dropped.'),
    maxDetections: z.number().int().positive().default(100).describe('At most this many detections, best first.'),
  })
  .strict();

const commonKeys = {
  name: z.string().min(1).optional().describe('Model name reported with its predictions (default: the folder name).'),
  description: z.string().optional().describe('Free text.'),
  trainedAccuracy: z.number().min(0).max(1).optional().describe('Held-out accuracy measured when the model was trained (informative).'),
  labels: z.array(z.string()).min(1).describe('Class names; Picsellia class ids are indexes into this list.'),
  input: inputSchema.default({ fit: 'fill', channelOrder: 'rgb', mean: 0, std: 255 }),
};

/** Schema of edgewatch.json. */
export const modelManifestSchema = z.discriminatedUnion('task', [
  z.object({ ...commonKeys, task: z.literal('CLASSIFICATION'), output: classificationOutputSchema.default({ activation: 'softmax' }) }).strict(),
  z.object({ ...commonKeys, task: z.literal('OBJECT_DETECTION'), output: detectionOutputSchema }).strict(),
  z.object({ ...commonKeys, task: z.literal('SEGMENTATION'), output: z.unknown().optional() }).strict(),
]);

/** Teachable Machine image-model metadata (extra keys such as tfjsVersion are ignored). */
const teachableMachineSchema = z.looseObject({
  labels: z.array(z.string()).min(1),
  imageSize: z.number().int().positive().default(224),
  modelName: z.string().optional(),
});

export type ClassificationOutput = z.output<typeof classificationOutputSchema>;
export type DetectionOutput = z.output<typeof detectionOutputSchema>;

/**
 * How the model's output is decoded, one member per kind. A kind added here without a decoder in
 * model-runner.ts (`#decode`, `outputTensorCount`) does not compile.
 */
export type ModelOutput = { kind: 'classification'; activation: ClassificationOutput['activation'] } | ({ kind: 'detection' } & DetectionOutput);

/** The output kinds the manifest can declare. */
export type OutputKind = ModelOutput['kind'];

/** Input preprocessing after defaults; width/height/channels may still come from the model. */
export interface ManifestInput {
  width?: number;
  height?: number;
  channels?: 1 | 3;
  fit: 'fill' | 'cover' | 'contain';
  channelOrder: 'rgb' | 'bgr';
  /** Three values (per RGB channel). */
  mean: [number, number, number];
  std: [number, number, number];
}

/** A validated manifest, whichever file it came from. */
export interface ModelManifest {
  name?: string;
  description?: string;
  trainedAccuracy?: number;
  task: TaskType;
  labels: string[];
  input: ManifestInput;
  output: ModelOutput;
}

/** A model folder's manifest as read: parsed, its path, and its bytes (part of the model's hash). Plain data: it crosses to a model host as is. */
export interface ManifestFile {
  manifest: ModelManifest;
  file: string;
  bytes: Uint8Array;
}

function threeOf(v: number | number[]): [number, number, number] {
  const a = Array.isArray(v) ? v : [v];
  return [a[0]!, a[1] ?? a[0]!, a[2] ?? a[0]!];
}

function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

function manifestError(file: string, message: string, cause?: unknown, key?: string): EdgewatchError {
  return new EdgewatchError('EW_MODEL_MANIFEST', `${file}: ${message}`, { cause, details: { file, ...(key ? { key } : {}) } });
}

/** Validates a parsed edgewatch.json object; `file` is only used in error messages. */
export function parseManifest(raw: unknown, file: string): ModelManifest {
  const parsed = modelManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw manifestError(file, `invalid manifest: ${formatIssues(parsed.error)}`, parsed.error, first?.path.join('.'));
  }
  const m = parsed.data;
  if (m.task === 'SEGMENTATION') {
    throw manifestError(file, 'task SEGMENTATION is not supported yet: use a CLASSIFICATION or OBJECT_DETECTION model', undefined, 'task');
  }
  const input: ManifestInput = {
    fit: m.input.fit,
    channelOrder: m.input.channelOrder,
    mean: threeOf(m.input.mean),
    std: threeOf(m.input.std),
    ...(m.input.width !== undefined ? { width: m.input.width } : {}),
    ...(m.input.height !== undefined ? { height: m.input.height } : {}),
    ...(m.input.channels !== undefined ? { channels: m.input.channels } : {}),
  };
  const output: ModelManifest['output'] =
    m.task === 'CLASSIFICATION' ? { kind: 'classification', activation: m.output.activation } : { kind: 'detection', ...m.output };
  return {
    task: m.task,
    labels: m.labels,
    input,
    output,
    ...(m.name !== undefined ? { name: m.name } : {}),
    ...(m.description !== undefined ? { description: m.description } : {}),
    ...(m.trainedAccuracy !== undefined ? { trainedAccuracy: m.trainedAccuracy } : {}),
  };
}

/** Maps Teachable Machine metadata to a manifest: classification, RGB in [-1, 1], square input, centre crop. */
export function parseTeachableMachine(raw: unknown, file: string): ModelManifest {
  const parsed = teachableMachineSchema.safeParse(raw);
  if (!parsed.success) throw manifestError(file, `invalid Teachable Machine metadata: ${formatIssues(parsed.error)}`, parsed.error);
  const { labels, imageSize, modelName } = parsed.data;
  return {
    task: 'CLASSIFICATION',
    labels,
    input: { width: imageSize, height: imageSize, channels: 3, fit: 'cover', channelOrder: 'rgb', mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] },
    output: { kind: 'classification', activation: 'softmax' },
    ...(modelName ? { name: modelName } : {}),
  };
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw manifestError(path, `cannot be read (${(err as Error).message})`, err);
  }
}

function parseJson(bytes: Buffer, file: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw manifestError(file, `is not valid JSON (${(err as Error).message}): fix or regenerate it`, err);
  }
}

/** Reads `edgewatch.json`, else Teachable Machine's `metadata.json`, from a model folder. */
export async function readManifest(dir: string): Promise<ManifestFile> {
  const own = join(dir, MANIFEST_FILE);
  const ownBytes = await readIfExists(own);
  if (ownBytes) return { manifest: parseManifest(parseJson(ownBytes, own), own), file: own, bytes: ownBytes };
  const tm = join(dir, TEACHABLE_MACHINE_FILE);
  const tmBytes = await readIfExists(tm);
  if (tmBytes) return { manifest: parseTeachableMachine(parseJson(tmBytes, tm), tm), file: tm, bytes: tmBytes };
  throw new EdgewatchError(
    'EW_MODEL_MANIFEST',
    `${own}: missing; a model folder needs an ${MANIFEST_FILE} (task, labels, input) or a Teachable Machine ${TEACHABLE_MACHINE_FILE}`,
    { details: { file: own } },
  );
}
