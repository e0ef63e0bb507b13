/** Types shared by several pipeline stages: tasks and prediction objects of the Picsellia protocol. */

/** Deployment / model task, spelled as the Picsellia platform spells `Deployment.type`. */
export type TaskType = 'CLASSIFICATION' | 'OBJECT_DETECTION' | 'SEGMENTATION';
export const TASK_TYPES: readonly TaskType[] = ['CLASSIFICATION', 'OBJECT_DETECTION', 'SEGMENTATION'];

/** `ClassificationPredictionFormat` as serialised by the SDK (`detection_texts` always present). */
export interface ClassificationPrediction {
  detection_classes: number[];
  detection_texts: string[] | null;
  detection_scores: number[];
}

/** `DetectionPredictionFormat`: boxes are integer `[top, left, bottom, right]` pixels of the displayed image. */
export interface DetectionPrediction extends ClassificationPrediction {
  detection_boxes: number[][];
}

/** `SegmentationPredictionFormat`: one integer `[[x, y], ...]` polygon per object. */
export interface SegmentationPrediction extends ClassificationPrediction {
  detection_masks: number[][][];
}

export type RawPrediction = ClassificationPrediction | DetectionPrediction | SegmentationPrediction;

/** Upper-case content types: the only two the protocol accepts (defined with their magic bytes in protocol/content-type.ts). */
export type { WireContentType } from './protocol/content-type.js';

/**
 * The pixels one model wants: the read stage decodes each image once and resizes it once per
 * distinct spec; the infer stage normalises. `fill` stretches to width×height, `cover` crops the
 * centre, `contain` letterboxes with black.
 */
export interface InputSpec {
  width: number;
  height: number;
  channels: 1 | 3;
  fit: 'fill' | 'cover' | 'contain';
}

/** A decoded, resized image: `pixels` is HWC uint8 (RGB, or grey when channels is 1). */
export interface DecodedInput {
  spec: InputSpec;
  pixels: Uint8Array;
}

/** Key identifying specs that can share one resize. */
export function inputSpecKey(spec: InputSpec): string {
  return `${spec.width}x${spec.height}x${spec.channels}:${spec.fit}`;
}
