/** A model is decoded only with the number of outputs its manifest's output kind reads: any other count is refused at load, never half-decoded. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { isEdgewatchError } from '../../src/errors.js';
import { selectBackend } from '../../src/infer/backend.js';
import { ModelRunner } from '../../src/infer/model-runner.js';
import { saveLayersModel, tempDir } from '../helpers/models.js';

const SIZE = 8;

before(async () => {
  await selectBackend('wasm');
});

/**
 * A functional model with two heads on one 8×8×3 input: `first` is shaped as the manifest's decoder
 * expects (so reading only outputs[0] would "work"), the second is an extra [1, 5] head.
 */
async function writeTwoHeadModel(dir: string, first: 'classes' | 'detections', manifest: Record<string, unknown>): Promise<void> {
  const input = tfl.input({ shape: [SIZE, SIZE, 3] });
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(input) as tfl.SymbolicTensor;
  const head =
    first === 'classes'
      ? (tfl.layers.dense({ units: 3, activation: 'softmax' }).apply(pooled) as tfl.SymbolicTensor)
      : (tfl.layers.reshape({ targetShape: [4, 6] }).apply(tfl.layers.dense({ units: 24, activation: 'sigmoid' }).apply(pooled)) as tfl.SymbolicTensor);
  const extra = tfl.layers.dense({ units: 5 }).apply(pooled) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: [head, extra] });
  await saveLayersModel(model, dir);
  model.dispose();
  await writeFile(join(dir, 'edgewatch.json'), JSON.stringify(manifest));
}

async function assertRefused(dir: string): Promise<void> {
  const tensorsBefore = tf.memory().numTensors;
  await assert.rejects(ModelRunner.load(dir), (err: unknown) => {
    assert.ok(isEdgewatchError(err, 'EW_MODEL_OUTPUT'), `expected EW_MODEL_OUTPUT, got ${String(err)}`);
    assert.match(err.message, /model\.json: the model has 2 outputs but its \w+ output is decoded from exactly 1/);
    assert.deepEqual({ expected: err.details.expected, actual: err.details.actual }, { expected: 1, actual: 2 });
    return true;
  });
  assert.equal(tf.memory().numTensors, tensorsBefore, 'the refused model is disposed');
}

test('a classifier with a second output is refused at load with EW_MODEL_OUTPUT', async (t) => {
  const dir = await tempDir(t);
  await writeTwoHeadModel(dir, 'classes', { task: 'CLASSIFICATION', labels: ['a', 'b', 'c'] });
  await assertRefused(dir);
});

test('a detector with a second output is refused at load with EW_MODEL_OUTPUT', async (t) => {
  const dir = await tempDir(t);
  await writeTwoHeadModel(dir, 'detections', { task: 'OBJECT_DETECTION', labels: ['a', 'b'], output: { decoder: 'centernet' } });
  await assertRefused(dir);
});
