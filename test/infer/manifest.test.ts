/** Manifest parsing (edgewatch.json, Teachable Machine metadata.json) and output decoding. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEdgewatchError } from '../../src/errors.js';
import { parseManifest, parseTeachableMachine } from '../../src/infer/manifest.js';
import { decodeCenternet, toProbabilities, topKClassification } from '../../src/infer/decode-output.js';

const base = { task: 'CLASSIFICATION', labels: ['a', 'b', 'c'] };

test('defaults: rgb, fill, RGB/255, softmax', () => {
  const m = parseManifest(base, 'x/edgewatch.json');
  assert.deepEqual(m.input, { fit: 'fill', channelOrder: 'rgb', mean: [0, 0, 0], std: [255, 255, 255] });
  assert.deepEqual(m.output, { kind: 'classification', activation: 'softmax' });
});

test('per-channel values, bgr, explicit size and extra informative keys', () => {
  const m = parseManifest(
    { ...base, name: 'n', description: 'd', trainedAccuracy: 0.9, input: { width: 10, height: 12, channels: 3, fit: 'cover', channelOrder: 'bgr', mean: [1, 2, 3], std: 127.5 }, output: { activation: 'logits' } },
    'f',
  );
  assert.equal(m.input.width, 10);
  assert.deepEqual(m.input.mean, [1, 2, 3]);
  assert.deepEqual(m.input.std, [127.5, 127.5, 127.5]);
  assert.equal(m.input.channelOrder, 'bgr');
  assert.equal(m.trainedAccuracy, 0.9);
});

test('bad manifests are EW_MODEL_MANIFEST naming the file and key', () => {
  const cases: Array<[unknown, string]> = [
    [{ labels: ['a'] }, 'task'],
    [{ ...base, labels: [] }, 'labels'],
    [{ ...base, unknownKey: 1 }, ''],
    [{ ...base, input: { fit: 'stretch' } }, 'input.fit'],
    [{ ...base, input: { std: 0 } }, 'input.std'],
    [{ ...base, output: { activation: 'relu' } }, 'output.activation'],
    [{ task: 'OBJECT_DETECTION', labels: ['a'], output: {} }, 'output.decoder'],
    ['not an object', ''],
  ];
  for (const [raw, key] of cases) {
    assert.throws(
      () => parseManifest(raw, '/m/edgewatch.json'),
      (err: unknown) => isEdgewatchError(err, 'EW_MODEL_MANIFEST') && err.message.startsWith('/m/edgewatch.json: ') && err.message.includes(key),
      JSON.stringify(raw),
    );
  }
});

test('SEGMENTATION is declared unsupported', () => {
  assert.throws(
    () => parseManifest({ task: 'SEGMENTATION', labels: ['a'] }, 'f'),
    (err: unknown) => isEdgewatchError(err, 'EW_MODEL_MANIFEST') && /SEGMENTATION is not supported/.test(err.message),
  );
});

test('detection manifest defaults', () => {
  const m = parseManifest({ task: 'OBJECT_DETECTION', labels: ['a'], output: { decoder: 'centernet' } }, 'f');
  assert.deepEqual(m.output, { kind: 'detection', decoder: 'centernet', boxes: 'normalized', scoreThreshold: 0.3, maxDetections: 100 });
});

test('Teachable Machine metadata: classification, [-1, 1], square, centre crop', () => {
  const m = parseTeachableMachine({ tfjsVersion: '1.3.1', tmVersion: '2.4.7', modelName: 'tm-my-image-model', labels: ['cat', 'dog'], imageSize: 224 }, 'metadata.json');
  assert.equal(m.task, 'CLASSIFICATION');
  assert.deepEqual(m.labels, ['cat', 'dog']);
  assert.deepEqual(m.input, { width: 224, height: 224, channels: 3, fit: 'cover', channelOrder: 'rgb', mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] });
  assert.throws(() => parseTeachableMachine({ imageSize: 224 }, 'metadata.json'), (err: unknown) => isEdgewatchError(err, 'EW_MODEL_MANIFEST'));
});

test('activations: softmax passthrough, logits softmaxed, sigmoid', () => {
  assert.deepEqual([...toProbabilities([0.2, 0.8], 'softmax')], [0.2, 0.8]);
  const p = toProbabilities([1, 1, 1, 1], 'logits');
  for (const v of p) assert.ok(Math.abs(v - 0.25) < 1e-12);
  assert.ok(Math.abs(toProbabilities([0], 'sigmoid')[0]! - 0.5) < 1e-12);
  const big = toProbabilities([1000, 0], 'logits');
  assert.ok(Number.isFinite(big[0]!) && big[0]! > 0.999);
});

test('top-k: sorted by score, k capped by the class count', () => {
  assert.deepEqual(topKClassification([0.1, 0.6, 0.3], 2), { detection_classes: [1, 2], detection_texts: null, detection_scores: [0.6, 0.3] });
  assert.equal(topKClassification([0.1, 0.6, 0.3], 10).detection_classes.length, 3);
});

test('centernet decoding: threshold, order, max detections, boxes in original pixels for each fit', () => {
  // rows: x1, y1, x2, y2, score, class (normalised to the input)
  const rows = [0.25, 0.5, 0.75, 1.0, 0.9, 2, 0, 0, 0.5, 0.5, 0.2, 1, 0, 0, 1, 1, 0.95, 0];
  const output = { decoder: 'centernet' as const, boxes: 'normalized' as const, scoreThreshold: 0.3, maxDetections: 10 };
  const fill = decodeCenternet(rows, 3, output, { width: 100, height: 100, channels: 3, fit: 'fill' }, { width: 400, height: 200 });
  assert.deepEqual(fill.detection_classes, [0, 2]);
  assert.deepEqual(fill.detection_boxes, [
    [0, 0, 200, 400],
    [100, 100, 200, 300],
  ]);
  assert.equal(fill.detection_texts, null);
  const cover = decodeCenternet(rows, 3, { ...output, maxDetections: 1 }, { width: 100, height: 100, channels: 3, fit: 'cover' }, { width: 400, height: 200 });
  // 400×200 scaled by 0.5 to 200×100, centre 100×100 kept: x offset 100 (scaled) = 200 original.
  assert.deepEqual(cover.detection_boxes, [[0, 100, 200, 300]]);
  const contain = decodeCenternet(rows, 3, { ...output, maxDetections: 1 }, { width: 100, height: 100, channels: 3, fit: 'contain' }, { width: 400, height: 200 });
  // 400×200 scaled by 0.25 to 100×50, letterboxed 25 px top and bottom.
  assert.deepEqual(contain.detection_boxes, [[0, 0, 200, 400]]);
  for (const box of [...fill.detection_boxes, ...cover.detection_boxes]) for (const v of box) assert.ok(Number.isInteger(v));
});
