/** The JSON record every sink receives for each image (see README "Result sinks"): one shape for the sidecar, JSONL, webhook and MQTT. */
import { basename } from 'node:path';
import type { RawPrediction, TaskType } from '../types.js';

/** One object of a prediction, as decoded: class id, its label, score, and the box or polygon of detection / segmentation. */
export interface SinkResult {
  classId: number;
  label: string | null;
  score: number;
  /** `[top, left, bottom, right]`, integer pixels of the displayed image. */
  box?: number[];
  /** `[[x, y], ...]`, integer pixels. */
  polygon?: number[][];
}

/** One model's output in a record. */
export interface SinkModelOutput {
  name: string;
  /** Content hash of the model folder (model.json, shards, manifest): the version that ran. */
  version: string;
  task: TaskType;
  latencySeconds: number;
  results: SinkResult[];
}

/** The fields every record starts with: which image, where it was, when it was captured and predicted. */
interface RecordHead {
  /** The image id (content hash + deployment): de-duplicate on it (delivery is at least once). */
  imageId: string;
  /** Where the file was when it was read. */
  path: string;
  filename: string;
  /** The file's mtime, epoch seconds. */
  capturedAt: number;
  /** When the model's prediction was made (the champion's; in a late-shadow record the shadow's), epoch seconds. */
  predictedAt: number;
  deployment: string;
}

/** What a sink receives per image, `schema` first. */
export interface SinkRecord extends RecordHead {
  schema: 'edgewatch.prediction/1';
  /** Displayed size (EXIF orientation applied). */
  width: number;
  height: number;
  champion: SinkModelOutput;
  /** The shadow's output when it ran in time; a deferred shadow follows as a `LateShadowRecord` once done. */
  shadow?: SinkModelOutput;
  /** Whether the prediction goes to the monitoring service, with what probability and under which `--sample` rule. */
  monitoring: { sent: boolean; probability: number; policy: string };
}

/** A model's prediction decoded for a record. */
export function sinkOutput(model: { name: string; hash: string; task: TaskType; labels: readonly string[] }, prediction: RawPrediction, latencySeconds: number): SinkModelOutput {
  const boxes = 'detection_boxes' in prediction ? prediction.detection_boxes : undefined;
  const masks = 'detection_masks' in prediction ? prediction.detection_masks : undefined;
  const results = prediction.detection_classes.map((classId, i): SinkResult => ({
    classId,
    label: model.labels[classId] ?? null,
    score: prediction.detection_scores[i] ?? 0,
    ...(boxes?.[i] ? { box: boxes[i] } : {}),
    ...(masks?.[i] ? { polygon: masks[i] } : {}),
  }));
  return { name: model.name, version: model.hash, task: model.task, latencySeconds, results };
}

/** The record's JSON text (what the state database keeps and every sink delivers). */
export function encodeSinkRecord(record: Omit<SinkRecord, 'schema' | 'filename'>): string {
  return encodeRecord<SinkRecord>('edgewatch.prediction/1', record);
}

/** A record's JSON text: `schema`, `imageId`, `path`, `filename` (the path's last part), then the rest in the given order. */
function encodeRecord<R extends RecordHead & { schema: string }>(schema: R['schema'], record: Omit<R, 'schema' | 'filename'>): string {
  const { imageId, path, ...rest } = record;
  return JSON.stringify({ schema, imageId, path, filename: basename(path), ...rest });
}

/**
 * The follow-up record of a shadow that came late (deferred shadow work, README "Shadow priority"):
 * queued once the shadow's prediction is made, after the image's `SinkRecord` that went out without
 * it. De-duplicate on `imageId` too: a consumer merges `shadow` into the image's record.
 */
export interface LateShadowRecord extends RecordHead {
  schema: 'edgewatch.late-shadow/1';
  shadow: SinkModelOutput;
}

/** The sink-queue key of an image's late-shadow record (its own key: the image's record keeps the image id). */
export function lateShadowSinkKey(imageId: string): string {
  return `${imageId}:shadow`;
}

/** The late-shadow record's JSON text. */
export function encodeLateShadowRecord(record: Omit<LateShadowRecord, 'schema' | 'filename'>): string {
  return encodeRecord<LateShadowRecord>('edgewatch.late-shadow/1', record);
}
