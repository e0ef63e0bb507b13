/** Turns a model's raw output values (already on the host) into Picsellia prediction objects. */
import { EdgewatchError } from '../errors.js';
import type { ClassificationPrediction, DetectionPrediction, InputSpec } from '../types.js';
import type { ClassificationOutput, DetectionOutput } from './manifest.js';

/** Class probabilities from the raw outputs, as the manifest's activation says. */
export function toProbabilities(values: ArrayLike<number>, activation: ClassificationOutput['activation']): Float64Array {
  const out = new Float64Array(values.length);
  if (activation === 'softmax') {
    for (let i = 0; i < values.length; i++) out[i] = Math.min(1, Math.max(0, values[i]!));
  } else if (activation === 'sigmoid') {
    for (let i = 0; i < values.length; i++) out[i] = 1 / (1 + Math.exp(-values[i]!));
  } else {
    let max = -Infinity;
    for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]!);
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += out[i] = Math.exp(values[i]! - max);
    for (let i = 0; i < values.length; i++) out[i]! /= sum;
  }
  return out;
}

/** The `topK` best classes, best first (ties: lower class id first). */
export function topKClassification(probabilities: ArrayLike<number>, topK: number): ClassificationPrediction {
  const order = Array.from({ length: probabilities.length }, (_, i) => i);
  order.sort((a, b) => probabilities[b]! - probabilities[a]! || a - b);
  const best = order.slice(0, Math.max(0, Math.min(topK, order.length)));
  return { detection_classes: best, detection_texts: null, detection_scores: best.map((i) => probabilities[i]!) };
}

/** Checks a classification output against the labels (done once, at warm-up). */
export function checkClassificationOutput(shape: number[], labelCount: number, file: string): void {
  const size = shape.reduce((a, b) => a * b, 1);
  if (shape[0] !== 1 || size !== labelCount) {
    throw new EdgewatchError(
      'EW_MODEL_OUTPUT',
      `${file}: the model outputs shape [${shape.join(', ')}] but the manifest lists ${labelCount} labels; a classifier must output [1, ${labelCount}]`,
      { details: { file, shape } },
    );
  }
}

/** Checks a detection output is [1, N, 6] (done once, at warm-up). */
export function checkDetectionOutput(shape: number[], file: string): void {
  if (shape.length !== 3 || shape[0] !== 1 || shape[2] !== 6) {
    throw new EdgewatchError('EW_MODEL_OUTPUT', `${file}: decoder centernet needs an output of shape [1, N, 6] (x1, y1, x2, y2, score, class); the model outputs [${shape.join(', ')}]`, {
      details: { file, shape },
    });
  }
}

/** Maps a point of the model input back to the original image, undoing the resize `fit`. */
function inputToOriginal(spec: InputSpec, original: { width: number; height: number }): (x: number, y: number) => [number, number] {
  const sx = spec.width / original.width;
  const sy = spec.height / original.height;
  if (spec.fit === 'fill') return (x, y) => [x / sx, y / sy];
  const scale = spec.fit === 'cover' ? Math.max(sx, sy) : Math.min(sx, sy);
  // cover: the scaled image overflows and is centre-cropped (offset > 0); contain: letterboxed (offset < 0).
  const offsetX = (original.width * scale - spec.width) / 2;
  const offsetY = (original.height * scale - spec.height) / 2;
  return (x, y) => [(x + offsetX) / scale, (y + offsetY) / scale];
}

/**
 * Decodes `[1, N, 6]` rows (x1, y1, x2, y2, score, class) into integer `[top, left, bottom, right]`
 * boxes in the original image's pixels, best score first, clipped to the image.
 */
export function decodeCenternet(
  values: ArrayLike<number>,
  rows: number,
  output: DetectionOutput,
  spec: InputSpec,
  original: { width: number; height: number },
): DetectionPrediction {
  const kept: number[] = [];
  for (let r = 0; r < rows; r++) if (values[r * 6 + 4]! >= output.scoreThreshold) kept.push(r);
  kept.sort((a, b) => values[b * 6 + 4]! - values[a * 6 + 4]! || a - b);
  const best = kept.slice(0, output.maxDetections);
  const toOriginal = inputToOriginal(spec, original);
  const unit = output.boxes === 'normalized' ? [spec.width, spec.height] : [1, 1];
  const clip = (v: number, max: number) => Math.min(max, Math.max(0, Math.round(v)));
  const prediction: DetectionPrediction = { detection_classes: [], detection_texts: null, detection_scores: [], detection_boxes: [] };
  for (const r of best) {
    const [x1, y1] = toOriginal(values[r * 6]! * unit[0]!, values[r * 6 + 1]! * unit[1]!);
    const [x2, y2] = toOriginal(values[r * 6 + 2]! * unit[0]!, values[r * 6 + 3]! * unit[1]!);
    prediction.detection_boxes.push([
      clip(Math.min(y1, y2), original.height),
      clip(Math.min(x1, x2), original.width),
      clip(Math.max(y1, y2), original.height),
      clip(Math.max(x1, x2), original.width),
    ]);
    prediction.detection_scores.push(values[r * 6 + 4]!);
    prediction.detection_classes.push(Math.round(values[r * 6 + 5]!));
  }
  return prediction;
}
