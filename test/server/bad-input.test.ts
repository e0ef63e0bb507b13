/** The 422s of issue 10 item 5, each naming its field: truncated images, scores outside [0, 1], class ids outside the labels, boxes and polygons outside the image, lists of different lengths; monitor, shadow and late shadow alike. */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { jpegBytes, picturePixels } from '../helpers/images.js';
import { classification, httpRequest, makeJpeg, monitorBody, postMonitor, sdkHandshake, startTestServer, type Handshake, type HttpResult } from './sdk.js';

const ORGANIZATIONS = [
  {
    name: 'edge',
    deployments: [
      { name: 'labelled', labels: ['cat', 'dog'] },
      'free',
      { name: 'boxes', type: 'OBJECT_DETECTION' as const, labels: ['box', 'pallet'] },
      { name: 'shapes', type: 'SEGMENTATION' as const },
    ],
  },
];

type Prediction = Record<string, unknown> & { detection_classes: number[]; detection_scores: number[] };

function detection(boxes: number[][], classes = boxes.map(() => 0), scores = boxes.map(() => 0.9)): Prediction {
  return { detection_classes: classes, detection_texts: null, detection_boxes: boxes, detection_scores: scores };
}

function segmentation(masks: number[][][], classes = masks.map(() => 0), scores = masks.map(() => 0.9)): Prediction {
  return { detection_classes: classes, detection_texts: null, detection_scores: scores, detection_masks: masks };
}

function assert422(res: HttpResult, field: string, what: string): void {
  assert.equal(res.status, 422, `${what}: ${res.text}`);
  assert.equal(res.json.field, field, `${what}: ${res.text}`);
  assert.ok(Array.isArray(res.json.errors) && res.json.errors.some((e: { field: string }) => e.field === field), what);
  assert.equal(typeof res.json.message, 'string', what);
}

async function datalakeFiles(dataDir: string): Promise<string[]> {
  const entries = await readdir(join(dataDir, 'datalake'), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

let seed = 1000;
/** A distinct 16×16 JPEG per call, so that no case is answered 409. */
const freshJpeg = () => makeJpeg(16, 16, (seed += 1));

test('an image that does not decode completely: truncated JPEG (baseline, progressive) and PNG are 422 image; nothing stored, no file left', async (t) => {
  const { server, dataDir } = await startTestServer(t, { organizations: ORGANIZATIONS });
  const h = await sdkHandshake(server.url, server.token, 'edge', 'free');
  const baseline = await jpegBytes({ width: 320, height: 240 });
  const progressive = await jpegBytes({ width: 320, height: 240, progressive: true });
  const png = await sharp(picturePixels(320, 240), { raw: { width: 320, height: 240, channels: 3 } }).png().toBuffer();
  const cases: [string, Buffer, string][] = [
    ['baseline JPEG cut in half', baseline.subarray(0, baseline.length >> 1), 'IMAGE/JPEG'],
    ['baseline JPEG without its last bytes', baseline.subarray(0, baseline.length - 2), 'IMAGE/JPEG'],
    ['progressive JPEG cut at 90 %', progressive.subarray(0, Math.floor(progressive.length * 0.9)), 'IMAGE/JPEG'],
    ['PNG cut in half', png.subarray(0, png.length >> 1), 'IMAGE/PNG'],
  ];
  for (const [what, image, contentType] of cases) {
    const res = await postMonitor(h, monitorBody({ image, contentType, width: 320, height: 240, champion: classification(0, 0.5), latencyS: 0.1 }));
    assert422(res, 'image', what);
    assert.match(res.json.message, /does not decode completely/, what);
  }
  assert.equal(await server.store.count(h.deploymentId), 0);
  assert.deepEqual(await datalakeFiles(dataDir), [], 'the files written meanwhile are removed');
  for (const [what, image, contentType] of [['baseline', baseline, 'IMAGE/JPEG'], ['progressive', progressive, 'IMAGE/JPEG'], ['PNG', png, 'IMAGE/PNG']] as const) {
    const res = await postMonitor(h, monitorBody({ image, contentType, width: 320, height: 240, champion: classification(0, 0.5), latencyS: 0.1 }));
    assert.equal(res.status, 201, `complete ${what}: ${res.text}`);
  }
});

test('scores outside [0, 1]: 422 naming the score, champion and shadow; 0 and 1 accepted', async (t) => {
  const { server } = await startTestServer(t, { organizations: ORGANIZATIONS });
  const h = await sdkHandshake(server.url, server.token, 'edge', 'free');
  const post = async (champion: Prediction, shadow?: Prediction) =>
    postMonitor(h, monitorBody({ image: await freshJpeg(), width: 16, height: 16, champion, latencyS: 0.1, ...(shadow ? { shadow } : {}) }));
  assert422(await post(classification(0, 1.5)), 'raw_predictions.detection_scores.0', 'score above 1');
  assert422(await post(classification(0, -0.01)), 'raw_predictions.detection_scores.0', 'negative score');
  assert422(await post({ detection_classes: [0, 1], detection_texts: null, detection_scores: [0.5, 7] }), 'raw_predictions.detection_scores.1', 'second score');
  assert422(await post(classification(0, 0.5), classification(1, 2)), 'shadow_raw_predictions.detection_scores.0', 'shadow score above 1');
  assert.equal((await post(classification(0, 0), classification(1, 1))).status, 201, 'the bounds themselves are valid');
});

test('class ids: outside the deployment labels 422; without labels any non-negative id', async (t) => {
  const { server } = await startTestServer(t, { organizations: ORGANIZATIONS });
  const labelled = await sdkHandshake(server.url, server.token, 'edge', 'labelled');
  const free = await sdkHandshake(server.url, server.token, 'edge', 'free');
  const post = async (h: Handshake, champion: Prediction, shadow?: Prediction) =>
    postMonitor(h, monitorBody({ image: await freshJpeg(), width: 16, height: 16, champion, latencyS: 0.1, ...(shadow ? { shadow } : {}) }));
  const beyond = await post(labelled, classification(2, 0.5));
  assert422(beyond, 'raw_predictions.detection_classes.0', 'class 2 of two labels');
  assert.match(beyond.json.message, /from 0 to 1/);
  assert422(await post(labelled, classification(1, 0.5), classification(5, 0.5)), 'shadow_raw_predictions.detection_classes.0', 'shadow class beyond the labels');
  assert422(await post(labelled, classification(-1, 0.5)), 'raw_predictions.detection_classes.0', 'negative class');
  assert.equal((await post(labelled, classification(1, 0.5))).status, 201, 'last label');
  assert.equal((await post(free, classification(9999, 0.5))).status, 201, 'no labels: any non-negative id');
  assert422(await post(free, classification(-3, 0.5)), 'raw_predictions.detection_classes.0', 'no labels: negative id');
});

test('boxes outside the image: 422 naming the box and coordinate; boxes on the edges accepted', async (t) => {
  const { server } = await startTestServer(t, { organizations: ORGANIZATIONS });
  const h = await sdkHandshake(server.url, server.token, 'edge', 'boxes');
  const post = async (champion: Prediction, shadow?: Prediction) =>
    postMonitor(h, monitorBody({ image: await freshJpeg(), width: 16, height: 16, champion: champion as never, latencyS: 0.1, ...(shadow ? { shadow: shadow as never } : {}) }));
  assert422(await post(detection([[0, 0, 17, 10]])), 'raw_predictions.detection_boxes.0.2', 'bottom below the image');
  assert422(await post(detection([[1, 1, 5, 5], [0, -1, 5, 5]])), 'raw_predictions.detection_boxes.1.1', 'left of the image');
  assert422(await post(detection([[0, 0, 4, 16]]), detection([[0, 0, 4, 20]])), 'shadow_raw_predictions.detection_boxes.0.3', 'shadow box right of the image');
  assert422(await post(detection([[0, 0, 4, 4]], [2])), 'raw_predictions.detection_classes.0', 'class beyond the labels');
  assert.equal((await post(detection([[0, 0, 16, 16], [3, 4, 5, 6]], [0, 1]))).status, 201, 'a box on the edges of the image');
});

test('polygons outside the image: 422 naming the polygon and point', async (t) => {
  const { server } = await startTestServer(t, { organizations: ORGANIZATIONS });
  const h = await sdkHandshake(server.url, server.token, 'edge', 'shapes');
  const post = async (champion: Prediction) => postMonitor(h, monitorBody({ image: await freshJpeg(), width: 16, height: 16, champion: champion as never, latencyS: 0.1 }));
  assert422(await post(segmentation([[[0, 0], [17, 3], [4, 4]]])), 'raw_predictions.detection_masks.0.1', 'x beyond the width');
  assert422(await post(segmentation([[[0, 0], [1, 1], [2, 2]], [[0, 0], [3, -2], [4, 4]]])), 'raw_predictions.detection_masks.1.1', 'negative y');
  assert.equal((await post(segmentation([[[0, 0], [16, 0], [16, 16], [0, 16]]]))).status, 201, 'a polygon along the edges');
});

test('lists of different lengths: classes, scores, boxes, masks, in champion and shadow', async (t) => {
  const { server } = await startTestServer(t, { organizations: ORGANIZATIONS });
  const boxes = await sdkHandshake(server.url, server.token, 'edge', 'boxes');
  const shapes = await sdkHandshake(server.url, server.token, 'edge', 'shapes');
  const free = await sdkHandshake(server.url, server.token, 'edge', 'free');
  const post = async (h: Handshake, champion: Prediction, shadow?: Prediction) =>
    postMonitor(h, monitorBody({ image: await freshJpeg(), width: 16, height: 16, champion: champion as never, latencyS: 0.1, ...(shadow ? { shadow: shadow as never } : {}) }));
  assert422(await post(boxes, detection([[0, 0, 4, 4]], [0, 1], [0.5, 0.5])), 'raw_predictions.detection_boxes', 'two classes, one box');
  assert422(await post(boxes, detection([[0, 0, 4, 4], [1, 1, 2, 2]], [0, 1], [0.5])), 'raw_predictions.detection_scores', 'two boxes, one score');
  assert422(await post(shapes, segmentation([[[0, 0], [1, 1], [2, 2]]], [0, 0], [0.5, 0.5])), 'raw_predictions.detection_masks', 'two classes, one polygon');
  assert422(await post(free, classification(0, 0.5), { detection_classes: [0], detection_texts: null, detection_scores: [0.5, 0.4] }), 'shadow_raw_predictions.detection_scores', 'shadow lengths');
  for (const h of [boxes, shapes, free]) assert.equal(await server.store.count(h.deploymentId), 0);
});

test('late shadow: out-of-range score, class, box and mismatched lengths are 422 and leave the prediction without shadow', async (t) => {
  const { server } = await startTestServer(t, { organizations: ORGANIZATIONS });
  const h = await sdkHandshake(server.url, server.token, 'edge', 'boxes');
  const created = await postMonitor(h, monitorBody({ image: await freshJpeg(), width: 16, height: 16, champion: detection([[0, 0, 8, 8]]) as never, latencyS: 0.1 }));
  assert.equal(created.status, 201, created.text);
  const shadow = (prediction: Prediction) =>
    httpRequest(`${h.oracleHost}/api/prediction/${created.json.id}/shadow`, { method: 'POST', headers: { authorization: `Bearer ${h.jwt}` }, body: JSON.stringify({ shadow_raw_predictions: prediction, shadow_latency: 0.02 }) });
  assert422(await shadow(detection([[0, 0, 8, 8]], [0], [1.2])), 'shadow_raw_predictions.detection_scores.0', 'late shadow score');
  assert422(await shadow(detection([[0, 0, 8, 8]], [7])), 'shadow_raw_predictions.detection_classes.0', 'late shadow class');
  assert422(await shadow(detection([[0, 0, 8, 99]])), 'shadow_raw_predictions.detection_boxes.0.3', 'late shadow box outside the stored image size');
  assert422(await shadow(detection([[0, 0, 8, 8]], [0, 1], [0.5, 0.5])), 'shadow_raw_predictions.detection_boxes', 'late shadow lengths');
  assert.equal((await server.store.get(created.json.id))?.shadow, null);
  const good = await shadow(detection([[0, 0, 16, 16]], [1], [0.4]));
  assert.equal(good.status, 201, good.text);
});
