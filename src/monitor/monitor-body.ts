/** Builds the JSON body of `POST /api/deployment/{id}/predictions` exactly as the Picsellia SDK emits it. */
import { EdgewatchError } from '../errors.js';
import { hasWireMagic, isWireContentType } from '../protocol/content-type.js';
import { predictionSchema, predictionTask } from '../protocol/prediction.js';
import type { RawPrediction, WireContentType } from '../types.js';

export { predictionTask };

/** One model as it is named in `custom_metadata.edgewatch`: name and content hash of its folder. */
export interface ModelIdentity {
  name: string;
  hash: string;
  /** The platform's model version id, when the model came from the deployment (`--champion deployment`). */
  modelVersionId?: string;
}

/**
 * `custom_metadata.edgewatch`: what the protocol cannot say (DESIGN.md §4), so that a backlog
 * replayed after a model change stays attributed to the models that actually ran.
 */
export interface EdgewatchMetadata {
  /** Stable image id (content hash + deployment): the idempotency key from ledger to service. */
  imageId: string;
  champion: ModelIdentity;
  shadow?: ModelIdentity;
  /** TF.js backend in use (`tensorflow`, `wasm`, `cpu`). */
  backend: string;
  agentVersion: string;
  /** Capture time: the file's mtime, epoch seconds (float). */
  capturedAt: number;
  /** Name of the machine that ran the models. */
  host?: string;
  /**
   * With `--sample`: the probability p with which this prediction was sent and the rule that set it
   * (`rate`, `class:<label>`, `disagreement`, `+cap` when the cap scaled it). The embedded service
   * weights the prediction by 1/p; absent means p = 1 (everything sent).
   */
  sampling?: { probability: number; policy: string };
}

/** The predictions body without its image: what `encodeMonitorBody` puts before it. */
export type MonitorFields = Omit<MonitorBody, 'image'>;

/** The predictions body, keys in the SDK's emission order (`image` last). */
export interface MonitorBody {
  filename: string;
  content_type: WireContentType;
  height: number;
  width: number;
  raw_predictions: RawPrediction;
  /** Champion inference time, seconds. */
  latency: number;
  source: string;
  tags: string[];
  metadata?: Record<string, unknown>;
  custom_metadata: { edgewatch: EdgewatchMetadata };
  /** Epoch seconds of the prediction (float): always sent, the agent buffers. */
  timestamp: number;
  /** Shadow inference time, seconds (present exactly when `shadow_raw_predictions` is). */
  shadow_latency?: number;
  shadow_raw_predictions?: RawPrediction;
  /** Standard padded base64 of the whole file, no line breaks. */
  image: string;
}

/** One model's result for one image. */
export interface ModelResult {
  prediction: RawPrediction;
  /** Measured inference time in seconds, sent unchanged. */
  latencySeconds: number;
}

/** Everything `buildMonitorBody` needs for one image. */
export interface MonitorBodyInput {
  /** Basename of the image file (no directory part). */
  filename: string;
  contentType: WireContentType;
  /** Displayed size (EXIF orientation applied), pixels. */
  width: number;
  height: number;
  /** The whole file. */
  bytes: Buffer;
  champion: ModelResult;
  shadow?: ModelResult;
  source: string;
  tags: readonly string[];
  metadata?: Record<string, unknown>;
  /** Epoch seconds of the prediction (float). */
  timestamp: number;
  edgewatch: EdgewatchMetadata;
}

function invalid(message: string, details: Record<string, unknown> = {}): EdgewatchError {
  return new EdgewatchError('EW_MONITOR_PROTOCOL', `Cannot build the monitor body: ${message}.`, { details });
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Validates a prediction object against the protocol's schema for its task (protocol/prediction.ts,
 * the one the embedded service applies) and returns a copy with its keys in the SDK's order
 * (`model_dump()` of the pydantic class). Throws EW_MONITOR_PROTOCOL naming each key at fault
 * (`raw_predictions.detection_scores has 1 items but detection_classes has 2`): a malformed
 * prediction is a programming error of the infer stage, and the service would reject it anyway.
 */
export function normalizePrediction(prediction: RawPrediction, label = 'raw_predictions'): RawPrediction {
  if (prediction === null || typeof prediction !== 'object') throw invalid(`${label} is not an object`);
  const parsed = predictionSchema(predictionTask(prediction)).safeParse(prediction);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({ field: [label, ...issue.path.map(String)].join('.'), message: issue.message }));
  throw invalid(issues.map((i) => `${i.field} ${i.message}`).join('; '), { issues });
}

/** True when `bytes` start with the magic number of `contentType` (kept under this name for the monitor stage's public surface). */
export const magicMatches: (bytes: Uint8Array, contentType: WireContentType) => boolean = hasWireMagic;

function checkSampling(sampling: { probability: number; policy: string }): { probability: number; policy: string } {
  const { probability, policy } = sampling;
  if (!isFiniteNumber(probability) || probability <= 0 || probability > 1) throw invalid('edgewatch.sampling.probability must be in (0, 1]', { probability });
  if (typeof policy !== 'string' || policy === '') throw invalid('edgewatch.sampling.policy must be a non-empty string');
  return { probability, policy };
}

function checkLatency(value: unknown, key: string): number {
  if (!isFiniteNumber(value) || value < 0) throw invalid(`${key} must be a finite number of seconds ≥ 0`, { key });
  return value;
}

/**
 * Builds the predictions body with keys in the SDK's order: filename, content_type, height, width,
 * raw_predictions, latency, source, tags, metadata?, custom_metadata, timestamp, shadow_latency?,
 * shadow_raw_predictions?, image.
 *
 * Latencies and the timestamp are passed through unchanged. JSON has no int/float distinction:
 * a latency measured as exactly 0 serialises as `0` (not `0.0`); it is never rounded up or
 * otherwise altered. Throws EW_MONITOR_PROTOCOL on any malformed input.
 */
export function buildMonitorBody(input: MonitorBodyInput): MonitorBody {
  // Buffer base64 is the standard alphabet, padded, without line breaks.
  return { ...buildMonitorFields(input), image: input.bytes.toString('base64') };
}

/** `buildMonitorBody` without the image: every check, every field but `image`, in the SDK's order. */
export function buildMonitorFields(input: MonitorBodyInput): MonitorFields {
  const { filename, contentType, width, height, bytes } = input;
  if (typeof filename !== 'string' || filename === '' || /[/\\]/.test(filename)) throw invalid('filename must be a non-empty basename', { filename });
  if (!isWireContentType(contentType)) throw invalid('content type must be IMAGE/JPEG or IMAGE/PNG', { contentType });
  if (!isInt(width) || width <= 0 || !isInt(height) || height <= 0) throw invalid('width and height must be positive integers', { width, height });
  if (!Buffer.isBuffer(bytes) || bytes.length === 0) throw invalid('image bytes are empty', { filename });
  if (!magicMatches(bytes, contentType)) throw invalid(`the bytes of ${filename} are not ${contentType}`, { filename, contentType });
  if (typeof input.source !== 'string' || input.source === '') throw invalid('source must be a non-empty string');
  if (!Array.isArray(input.tags) || !input.tags.every((t) => typeof t === 'string')) throw invalid('tags must be a list of strings');
  if (!isFiniteNumber(input.timestamp)) throw invalid('timestamp must be finite epoch seconds');
  const e = input.edgewatch;
  if (e === null || typeof e !== 'object' || typeof e.imageId !== 'string' || e.imageId === '') throw invalid('edgewatch.imageId is required');
  if (!isFiniteNumber(e.capturedAt)) throw invalid('edgewatch.capturedAt must be finite epoch seconds');

  const champion = normalizePrediction(input.champion.prediction, 'raw_predictions');
  const latency = checkLatency(input.champion.latencySeconds, 'latency');
  let shadow: RawPrediction | undefined;
  let shadowLatency: number | undefined;
  if (input.shadow !== undefined) {
    shadow = normalizePrediction(input.shadow.prediction, 'shadow_raw_predictions');
    shadowLatency = checkLatency(input.shadow.latencySeconds, 'shadow_latency');
    if (predictionTask(shadow) !== predictionTask(champion)) {
      throw invalid(`the shadow prediction is ${predictionTask(shadow)} but the champion's is ${predictionTask(champion)}`);
    }
  }

  const edgewatch: EdgewatchMetadata = {
    imageId: e.imageId,
    champion: modelIdentity(e.champion),
    ...(e.shadow === undefined ? {} : { shadow: modelIdentity(e.shadow) }),
    backend: e.backend,
    agentVersion: e.agentVersion,
    capturedAt: e.capturedAt,
    ...(e.host === undefined ? {} : { host: e.host }),
    ...(e.sampling === undefined ? {} : { sampling: checkSampling(e.sampling) }),
  };
  const fields: MonitorFields = {
    filename,
    content_type: contentType,
    height,
    width,
    raw_predictions: champion,
    latency,
    source: input.source,
    tags: [...input.tags],
    ...(input.metadata === undefined ? {} : { metadata: input.metadata }),
    custom_metadata: { edgewatch },
    timestamp: input.timestamp,
    ...(shadow === undefined ? {} : { shadow_latency: shadowLatency as number, shadow_raw_predictions: shadow }),
  };
  return fields;
}

function modelIdentity(m: ModelIdentity): ModelIdentity {
  return { name: m.name, hash: m.hash, ...(m.modelVersionId === undefined ? {} : { modelVersionId: m.modelVersionId }) };
}

/** The exact bytes sent for `body` (compact JSON, UTF-8): what the outbox persists and replays. */
export function serializeMonitorBody(body: MonitorBody): Buffer {
  return Buffer.from(JSON.stringify(body), 'utf8');
}

/**
 * Bytes of the image encoded per call: a multiple of 3 (so the pieces' base64 concatenate to the
 * whole's) whose base64, 120,000 characters, stays a regular V8 heap string. A longer string goes to
 * V8's large-object space, whose every allocation takes fresh pages: measured on a 2-vCPU VM, a
 * 350 KB string cost 1.2 ms that way (≈ 300 MB/s, a page fault per 4 KB) against ≈ 20 GB/s below.
 */
const BASE64_PIECE_BYTES = 90_000;

/** Standard padded base64 of `bytes`, as ASCII bytes, encoded piecewise (no large string). */
export function base64Bytes(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil(bytes.length / 3) * 4);
  let offset = 0;
  for (let start = 0; start < bytes.length; start += BASE64_PIECE_BYTES) {
    const piece = Buffer.from(bytes.buffer, bytes.byteOffset + start, Math.min(BASE64_PIECE_BYTES, bytes.length - start));
    offset += out.write(piece.toString('base64'), offset, 'latin1');
  }
  return out;
}

const IMAGE_KEY = Buffer.from('"image":"', 'latin1');
const CLOSING = Buffer.from('"}', 'latin1');

/**
 * The same bytes as `serializeMonitorBody({ ...fields, image })` for `imageBase64` =
 * `base64Bytes(image bytes)`, built without the image ever being a JavaScript string:
 * the fields as JSON, then `"image":"<base64>"}` (base64 needs no JSON escaping).
 */
export function encodeMonitorBody(fields: MonitorFields, imageBase64: Buffer): Buffer {
  // The fields are never empty (filename is required): `{…}` becomes `{…,`.
  const head = JSON.stringify(fields);
  return Buffer.concat([Buffer.from(`${head.slice(0, -1)},`, 'utf8'), IMAGE_KEY, imageBase64, CLOSING]);
}
