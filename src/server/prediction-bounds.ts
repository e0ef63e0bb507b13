/**
 * What the service checks in a prediction object beyond its shape (protocol/prediction.ts): scores
 * in [0, 1], class ids among the deployment's labels, boxes and polygons inside the image. The
 * agent's own check stays the shape only, so that it keeps accepting everything it produces.
 */
import type { ParsedPrediction } from '../protocol/prediction.js';

/** What a prediction is checked against. */
export interface PredictionLimits {
  /** Image size as displayed (the request's `width` and `height`). */
  width: number;
  height: number;
  /** Number of labels of the deployment; 0 means no labels, and then any non-negative class id is accepted. */
  labelCount: number;
}

/** One refused value, `field` as a dotted path (`raw_predictions.detection_boxes.0.2`). */
export interface BoundsProblem {
  field: string;
  message: string;
}

/** Problems reported per prediction object: enough to fix the sender, never a reply as large as the request. */
const MAX_PROBLEMS = 20;

const BOX_SIDES = ['top', 'left', 'bottom', 'right'] as const;

/** The out-of-range values of prediction `p`, sent under request key `key` (e.g. `raw_predictions`); empty when all are in range. */
export function predictionBoundsProblems(p: ParsedPrediction, key: string, limits: PredictionLimits): BoundsProblem[] {
  const problems: BoundsProblem[] = [];
  const add = (field: string, message: string): boolean => {
    problems.push({ field: `${key}.${field}`, message });
    return problems.length >= MAX_PROBLEMS;
  };
  for (const [i, s] of p.detection_scores.entries()) {
    if (!(s >= 0 && s <= 1) && add(`detection_scores.${i}`, `is ${s}; a score must be from 0 to 1`)) return problems;
  }
  for (const [i, c] of p.detection_classes.entries()) {
    const bad = c < 0 || (limits.labelCount > 0 && c >= limits.labelCount);
    const allowed = limits.labelCount > 0 ? `a class id of this deployment is from 0 to ${limits.labelCount - 1} (its ${limits.labelCount} labels)` : 'a class id is a non-negative integer';
    if (bad && add(`detection_classes.${i}`, `is ${c}; ${allowed}`)) return problems;
  }
  const { width, height } = limits;
  if ('detection_boxes' in p) {
    for (const [i, box] of p.detection_boxes.entries()) {
      for (const [j, v] of box.entries()) {
        const max = j % 2 === 0 ? height : width;
        if ((v < 0 || v > max) && add(`detection_boxes.${i}.${j}`, `${BOX_SIDES[j] ?? 'coordinate'} ${v} is outside the image (${width}×${height}; a box is [top, left, bottom, right] in pixels)`)) return problems;
      }
    }
  }
  if ('detection_masks' in p) {
    for (const [i, polygon] of p.detection_masks.entries()) {
      for (const [j, point] of polygon.entries()) {
        const [x, y] = point as [number, number];
        if ((x < 0 || x > width || y < 0 || y > height) && add(`detection_masks.${i}.${j}`, `point [${x}, ${y}] is outside the image (${width}×${height}; a point is [x, y] in pixels)`)) return problems;
      }
    }
  }
  return problems;
}
