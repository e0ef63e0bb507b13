/** Tests of buildMonitorBody / serializeMonitorBody: SDK key order, types, validation codes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isEdgewatchError } from '../../src/errors.js';
import { base64Bytes, buildMonitorBody, buildMonitorFields, encodeMonitorBody, normalizePrediction, predictionTask, serializeMonitorBody } from '../../src/monitor/monitor-body.js';
import type { RawPrediction } from '../../src/types.js';
import { validatePredictionBody } from '../helpers/fake-picsellia.js';
import { makeJpeg, makePng, sampleInput } from './sample-body.js';

const SDK_ORDER = [
  'filename', 'content_type', 'height', 'width', 'raw_predictions', 'latency', 'source', 'tags',
  'metadata', 'custom_metadata', 'timestamp', 'shadow_latency', 'shadow_raw_predictions', 'image',
];

const protocolError = (err: unknown): boolean => isEdgewatchError(err, 'EW_MONITOR_PROTOCOL');

test('keys follow the SDK order, image last; bytes round-trip', async () => {
  const jpeg = await makeJpeg();
  const body = buildMonitorBody(sampleInput(jpeg, 'img-1', { metadata: { camera: 'A' } }));
  const raw = serializeMonitorBody(body);
  const parsed = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed), SDK_ORDER);
  assert.equal(parsed.image, jpeg.toString('base64'));
  assert.ok(!/\s/.test(parsed.image as string));
  assert.ok(Buffer.from(parsed.image as string, 'base64').equals(jpeg));
  assert.equal(parsed.latency, 0.0257);
  assert.equal(parsed.shadow_latency, 0.031);
  assert.equal(parsed.timestamp, 1730000000.125);
  assert.deepEqual(parsed.raw_predictions, { detection_classes: [2], detection_texts: null, detection_scores: [0.8] });
  assert.deepEqual(Object.keys(parsed.custom_metadata as object), ['edgewatch']);
  assert.deepEqual(validatePredictionBody(parsed, 'CLASSIFICATION').errors, []);
  // compact JSON, as the SDK (orjson) emits it
  assert.ok(raw.toString('utf8').startsWith('{"filename":"img-1.jpg","content_type":"IMAGE/JPEG","height":24,"width":32,'));
});

test('encodeMonitorBody (image base64 encoded piecewise, never one string) gives the same bytes as serializeMonitorBody', async () => {
  const jpeg = await makeJpeg();
  // Sizes around the 90,000-byte pieces and every remainder modulo 3, with a non-ASCII file name.
  for (const size of [0, 1, 2, 3, 89_999, 90_000, 90_001, 180_000, 180_002, 400_001]) {
    const bytes = Buffer.concat([jpeg, Buffer.alloc(Math.max(0, size - jpeg.length), 0xa7)]).subarray(0, Math.max(size, jpeg.length));
    const input = { ...sampleInput(bytes, `img-${size}`, { metadata: { camera: 'Caméra "nord"' } }), filename: 'été 2026.jpg' };
    assert.equal(base64Bytes(bytes).toString('latin1'), bytes.toString('base64'), `base64 of ${bytes.length} bytes`);
    assert.ok(encodeMonitorBody(buildMonitorFields(input), base64Bytes(bytes)).equals(serializeMonitorBody(buildMonitorBody(input))), `body of a ${bytes.length}-byte image`);
  }
  assert.equal(base64Bytes(Buffer.alloc(0)).length, 0);
});

test('without shadow or metadata the optional keys are absent', async () => {
  const input = sampleInput(await makePng(), 'img-2', { contentType: 'IMAGE/PNG', filename: 'a.png' });
  delete input.shadow;
  delete input.edgewatch.shadow;
  const parsed = JSON.parse(serializeMonitorBody(buildMonitorBody(input)).toString('utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed), SDK_ORDER.filter((k) => !['metadata', 'shadow_latency', 'shadow_raw_predictions'].includes(k)));
  assert.equal(parsed.content_type, 'IMAGE/PNG');
});

test('a latency of exactly 0 is sent as 0, never altered', async () => {
  const input = sampleInput(await makeJpeg(), 'img-3');
  input.champion.latencySeconds = 0;
  const text = serializeMonitorBody(buildMonitorBody(input)).toString('utf8');
  assert.match(text, /"latency":0,/);
});

test('prediction keys are re-ordered as the SDK emits them (detection, segmentation)', () => {
  const det = normalizePrediction({ detection_scores: [0.9], detection_boxes: [[1, 2, 3, 4]], detection_classes: [0], detection_texts: null } as RawPrediction);
  assert.deepEqual(Object.keys(det), ['detection_classes', 'detection_texts', 'detection_boxes', 'detection_scores']);
  assert.equal(predictionTask(det), 'OBJECT_DETECTION');
  const seg = normalizePrediction({
    detection_masks: [[[1, 2], [3, 4], [5, 6]]], detection_boxes: [[1, 1, 2, 2]], detection_scores: [0.5], detection_classes: [1], detection_texts: null,
  } as RawPrediction);
  assert.deepEqual(Object.keys(seg), ['detection_classes', 'detection_texts', 'detection_scores', 'detection_masks']);
  assert.equal(predictionTask(seg), 'SEGMENTATION');
  const cls = normalizePrediction({ detection_classes: [], detection_scores: [] } as unknown as RawPrediction);
  assert.deepEqual(cls, { detection_classes: [], detection_texts: null, detection_scores: [] });
});

test('malformed predictions are EW_MONITOR_PROTOCOL', () => {
  const bad: unknown[] = [
    null,
    { detection_classes: [1.5], detection_texts: null, detection_scores: [0.1] },
    { detection_classes: [1, 2], detection_texts: null, detection_scores: [0.1] },
    { detection_classes: [1], detection_texts: null, detection_scores: [Number.NaN] },
    { detection_classes: [1], detection_texts: ['a', 'b'], detection_scores: [0.1] },
    { detection_classes: [1], detection_texts: null, detection_scores: [0.1], detection_boxes: [[1, 2, 3, 4.5]] },
    { detection_classes: [1], detection_texts: null, detection_scores: [0.1], detection_boxes: [[1, 2, 3]] },
    { detection_classes: [1], detection_texts: null, detection_scores: [0.1], detection_boxes: [] },
    { detection_classes: [1], detection_texts: null, detection_scores: [0.1], detection_masks: [[[1, 2.5]]] },
    { detection_classes: [1], detection_texts: null, detection_scores: [0.1], detection_masks: [] },
  ];
  for (const p of bad) assert.throws(() => normalizePrediction(p as RawPrediction), protocolError, JSON.stringify(p));
});

test('bad inputs are EW_MONITOR_PROTOCOL', async () => {
  const jpeg = await makeJpeg();
  const png = await makePng();
  const cases: Array<[string, (i: ReturnType<typeof sampleInput>) => void]> = [
    ['empty filename', (i) => { i.filename = ''; }],
    ['path as filename', (i) => { i.filename = 'dir/a.jpg'; }],
    ['content type', (i) => { (i as { contentType: string }).contentType = 'image/jpg'; }],
    ['bytes do not match content type', (i) => { i.bytes = png; }],
    ['empty bytes', (i) => { i.bytes = Buffer.alloc(0); }],
    ['zero width', (i) => { i.width = 0; }],
    ['fractional height', (i) => { i.height = 2.5; }],
    ['negative latency', (i) => { i.champion.latencySeconds = -1; }],
    ['NaN shadow latency', (i) => { if (i.shadow) i.shadow.latencySeconds = Number.NaN; }],
    ['timestamp', (i) => { i.timestamp = Number.POSITIVE_INFINITY; }],
    ['tags', (i) => { (i as { tags: unknown }).tags = ['a', 1]; }],
    ['source', (i) => { i.source = ''; }],
    ['imageId', (i) => { i.edgewatch.imageId = ''; }],
    ['capturedAt', (i) => { i.edgewatch.capturedAt = Number.NaN; }],
    ['shadow of another task', (i) => {
      if (i.shadow) i.shadow.prediction = { detection_classes: [1], detection_texts: null, detection_boxes: [[1, 2, 3, 4]], detection_scores: [0.3] };
    }],
  ];
  for (const [name, mutate] of cases) {
    const input = sampleInput(jpeg, 'x');
    mutate(input);
    assert.throws(() => buildMonitorBody(input), protocolError, name);
  }
});
