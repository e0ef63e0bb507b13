/**
 * What a valid prediction object is (DESIGN.md §2), per task type: one zod schema each, built once,
 * shared by the agent (which checks what it is about to send) and the embedded service (which checks
 * what it receives).
 */
import { z } from 'zod';
import type { RawPrediction, TaskType } from '../types.js';

const int = z.number().int();
const score = z.number().refine(Number.isFinite, 'must be a finite number');

const detectionClasses = z.array(int);
/** Always present on the wire, `null` when unused; a sender that omits it means null. */
const detectionTexts = z
  .array(z.string())
  .nullish()
  .transform((v) => v ?? null);
const detectionScores = z.array(score);
const detectionBoxes = z.array(z.array(int).length(4, 'a box is [top, left, bottom, right]'));
const detectionMasks = z.array(z.array(z.array(int).length(2, 'a point is [x, y]')));

/**
 * The object schema of `shape` (keys in the order the SDK emits them) with every list of `perObject`
 * as long as `detection_classes`; `detection_texts` may also be empty. Unknown keys (e.g. the
 * deprecated `detection_boxes` of a segmentation) are dropped.
 */
function predictionObject<Shape extends { detection_classes: typeof detectionClasses; detection_texts: typeof detectionTexts }>(
  shape: Shape,
  perObject: ReadonlyArray<Exclude<keyof Shape & string, 'detection_classes' | 'detection_texts'>>,
) {
  return z.object(shape).superRefine((p, ctx) => {
    const record = p as Record<string, unknown>;
    const n = (record.detection_classes as unknown[]).length;
    for (const key of perObject) {
      const list = record[key] as unknown[];
      if (list.length !== n) ctx.addIssue({ code: 'custom', path: [key], message: `has ${list.length} items but detection_classes has ${n}` });
    }
    const texts = record.detection_texts as string[] | null;
    if (texts !== null && texts.length > 0 && texts.length !== n) {
      ctx.addIssue({ code: 'custom', path: ['detection_texts'], message: `has ${texts.length} items but detection_classes has ${n}` });
    }
  });
}

const PREDICTION_SCHEMAS = {
  CLASSIFICATION: predictionObject(
    { detection_classes: detectionClasses, detection_texts: detectionTexts, detection_scores: detectionScores },
    ['detection_scores'],
  ),
  OBJECT_DETECTION: predictionObject(
    { detection_classes: detectionClasses, detection_texts: detectionTexts, detection_boxes: detectionBoxes, detection_scores: detectionScores },
    ['detection_scores', 'detection_boxes'],
  ),
  SEGMENTATION: predictionObject(
    { detection_classes: detectionClasses, detection_texts: detectionTexts, detection_scores: detectionScores, detection_masks: detectionMasks },
    ['detection_scores', 'detection_masks'],
  ),
} satisfies Record<TaskType, z.ZodType<RawPrediction>>;

/**
 * The schema of a prediction object of task `type`. Its output is a fresh copy with keys in the SDK's
 * order (`model_dump()` of the pydantic class): classification `detection_classes, detection_texts,
 * detection_scores`; detection adds `detection_boxes` before the scores; segmentation adds
 * `detection_masks` after them. Issues name the key (and index) at fault.
 */
export function predictionSchema<T extends TaskType>(type: T): (typeof PREDICTION_SCHEMAS)[T] {
  return PREDICTION_SCHEMAS[type];
}

/** A validated prediction object, of whichever task. */
export type ParsedPrediction = z.output<(typeof PREDICTION_SCHEMAS)[TaskType]>;

/**
 * Which PredictionFormat a prediction object is: masks make it SEGMENTATION, boxes
 * OBJECT_DETECTION, neither CLASSIFICATION (a segmentation's deprecated boxes are ignored).
 */
export function predictionTask(prediction: RawPrediction): TaskType {
  if ('detection_masks' in prediction && prediction.detection_masks !== undefined) return 'SEGMENTATION';
  if ('detection_boxes' in prediction && prediction.detection_boxes !== undefined) return 'OBJECT_DETECTION';
  return 'CLASSIFICATION';
}
