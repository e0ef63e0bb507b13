/** The agent (normalizePrediction) and the embedded service (its request schemas) accept and refuse exactly the same prediction objects, naming the same field. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isEdgewatchError } from '../../src/errors.js';
import { normalizePrediction } from '../../src/monitor/monitor-body.js';
import { predictionTask } from '../../src/protocol/prediction.js';
import { describeIssues, shadowBodySchema } from '../../src/server/prediction-schema.js';
import type { RawPrediction } from '../../src/types.js';

const LABEL = 'shadow_raw_predictions';

/** The first field the agent names, or null when it accepts the prediction. */
function agentVerdict(p: RawPrediction): string | null {
  try {
    normalizePrediction(p, LABEL);
    return null;
  } catch (err) {
    assert.ok(isEdgewatchError(err, 'EW_MONITOR_PROTOCOL'), String(err));
    const issues = err.details.issues as { field: string }[] | undefined;
    return issues?.[0]?.field ?? LABEL;
  }
}

/** The first field the service names in its 422, or null when it accepts the prediction. */
function serviceVerdict(p: RawPrediction): string | null {
  const input = { shadow_raw_predictions: p, shadow_latency: 0.1 };
  const parsed = shadowBodySchema(predictionTask(p)).safeParse(input);
  return parsed.success ? null : (describeIssues(parsed.error, input)[0]?.field ?? '(body)');
}

const box = (b: unknown[]) => ({ detection_classes: [1], detection_texts: null, detection_scores: [0.5], detection_boxes: [b] });
const CASES: unknown[] = [
  { detection_classes: [], detection_texts: null, detection_scores: [] },
  { detection_classes: [0, 3], detection_scores: [0.9, 0.1] },
  { detection_classes: [0, 3], detection_texts: [], detection_scores: [0.9, 0.1] },
  { detection_classes: [0, 3], detection_texts: ['a', 'b'], detection_scores: [0.9, 0.1] },
  { detection_classes: [0, 3], detection_texts: ['a'], detection_scores: [0.9, 0.1] },
  { detection_classes: [1.5], detection_texts: null, detection_scores: [0.1] },
  { detection_classes: ['1'], detection_texts: null, detection_scores: [0.1] },
  { detection_classes: [1, 2], detection_texts: null, detection_scores: [0.1] },
  { detection_classes: [1], detection_texts: null },
  { detection_classes: [1], detection_texts: [7], detection_scores: [0.1] },
  box([1, 2, 3, 4]),
  box([1, 2, 3]),
  box([1, 2, 3, 4, 5]),
  box([1, 2, 3, 4.5]),
  { detection_classes: [1], detection_texts: null, detection_scores: [0.1], detection_boxes: [] },
  { detection_classes: [1], detection_texts: null, detection_scores: [0.1], detection_masks: [[[1, 2], [3, 4], [5, 6]]] },
  { detection_classes: [1], detection_texts: null, detection_scores: [0.1], detection_masks: [[[1, 2], [3, 4], [5, 6]]], detection_boxes: [[1, 2]] },
  { detection_classes: [1], detection_texts: null, detection_scores: [0.1], detection_masks: [[[1, 2.5]]] },
  { detection_classes: [1], detection_texts: null, detection_scores: [0.1], detection_masks: [[[1, 2, 3]]] },
  { detection_classes: [1], detection_texts: null, detection_scores: [0.1], detection_masks: [] },
];

test('agent and service accept and refuse the same prediction objects', () => {
  for (const p of CASES) {
    const prediction = p as RawPrediction;
    assert.equal(agentVerdict(prediction) === null, serviceVerdict(prediction) === null, JSON.stringify(p));
  }
});

test('agent and service name the same field of a refused prediction', () => {
  for (const p of CASES) {
    const prediction = p as RawPrediction;
    assert.equal(agentVerdict(prediction), serviceVerdict(prediction), JSON.stringify(p));
  }
  assert.equal(agentVerdict(box([1, 2, 3]) as RawPrediction), `${LABEL}.detection_boxes.0`, 'a box is four integers on both sides');
});
