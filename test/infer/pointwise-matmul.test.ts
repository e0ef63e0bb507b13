/** 1×1 convolutions as matrix products on wasm: the same numbers as the definition, other convolutions untouched, and no transposed filter kept in the wasm memory. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/infer/backend.js';

/** NHWC pointwise convolution by its definition, in plain JavaScript: y[p, o] = act(Σc x[p, c]·w[c, o] + b[o]), every `stride`-th pixel. */
function reference(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D | undefined, activation: string, stride = 1): { shape: number[]; values: Float32Array } {
  const [n, h, wd, cin] = x.shape;
  const cout = w.shape[3];
  const xs = x.dataSync();
  const ws = w.dataSync();
  const bs = b?.dataSync();
  const oh = Math.ceil(h / stride);
  const ow = Math.ceil(wd / stride);
  const values = new Float32Array(n * oh * ow * cout);
  let out = 0;
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < h; r += stride) {
      for (let c = 0; c < wd; c += stride) {
        const base = ((i * h + r) * wd + c) * cin;
        for (let o = 0; o < cout; o++) {
          let sum = bs ? bs[o]! : 0;
          for (let k = 0; k < cin; k++) sum += xs[base + k]! * ws[k * cout + o]!;
          if (activation === 'relu') sum = Math.max(sum, 0);
          if (activation === 'relu6') sum = Math.min(Math.max(sum, 0), 6);
          values[out++] = sum;
        }
      }
    }
  }
  return { shape: [n, oh, ow, cout], values };
}

function assertClose(actual: tf.Tensor, expected: { shape: number[]; values: Float32Array }, what: string): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  const a = actual.dataSync();
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - expected.values[i]!));
  assert.ok(diff < 1e-4, `${what}: differs by ${diff}`);
}

/**
 * Bytes of the wasm memory in use: its size minus what can still be allocated in it without growing
 * (taken in 64 KB and 4 KB blocks, then freed). The allocator never returns memory, so this is how
 * much a kernel kept.
 */
function wasmBytesInUse(): number {
  const wasm = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array; _malloc(n: number): number; _free(p: number): void } }).wasm;
  const size = wasm.HEAPU8.buffer.byteLength;
  const taken: number[] = [];
  let free = 0;
  for (const block of [1 << 16, 1 << 12]) {
    for (;;) {
      const p = wasm._malloc(block);
      if (wasm.HEAPU8.buffer.byteLength !== size) {
        wasm._free(p);
        break;
      }
      taken.push(p);
      free += block;
    }
  }
  for (const p of taken) wasm._free(p);
  return size - free;
}

test('pointwise convolutions give the definition\'s numbers for every fused activation, padding form, bias or none, and batch', async () => {
  await selectBackend('wasm');
  const before = tf.memory().numTensors;
  const x = tf.randomUniform([2, 5, 7, 12], -1, 1, 'float32', 1) as tf.Tensor4D;
  const w = tf.randomUniform([1, 1, 12, 9], -1, 1, 'float32', 2) as tf.Tensor4D;
  const b = tf.randomUniform([9], -1, 1, 'float32', 3) as tf.Tensor1D;
  for (const activation of ['linear', 'relu', 'relu6'] as const) {
    for (const pad of ['same', 'valid'] as const) {
      const y = tf.fused.conv2d({ x, filter: w, strides: 1, pad, bias: b, activation });
      assertClose(y, reference(x, w, b, activation), `fused ${activation} ${pad}`);
      y.dispose();
    }
  }
  const plain = tf.conv2d(x, w, [1, 1], [[0, 0], [0, 0], [0, 0], [0, 0]]);
  assertClose(plain, reference(x, w, undefined, 'linear'), 'Conv2D, explicit zero padding, no bias');
  // The result is an ordinary tensor for the ops after it: a depthwise convolution reads it.
  const ones = tf.ones([1, 1, 9, 1]) as tf.Tensor4D;
  const next = tf.depthwiseConv2d(plain as tf.Tensor4D, ones, 1, 'same');
  assertClose(next, reference(x, w, undefined, 'linear'), 'a kernel reading the product');
  tf.dispose([x, w, b, plain, ones, next]);
  assert.equal(tf.memory().numTensors, before, 'no tensor left');
});

test('other convolutions keep the backend\'s own kernel: strided 1×1, 3×3, and a non-fusable activation', async () => {
  await selectBackend('wasm');
  const x = tf.randomUniform([1, 6, 6, 4], -1, 1, 'float32', 4) as tf.Tensor4D;
  const w = tf.randomUniform([1, 1, 4, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
  const strided = tf.conv2d(x, w, 2, 'same');
  assertClose(strided, reference(x, w, undefined, 'linear', 2), 'stride 2');
  const sigmoid = tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', activation: 'sigmoid' });
  const expected = reference(x, w, undefined, 'linear');
  assertClose(sigmoid, { shape: expected.shape, values: expected.values.map((v) => 1 / (1 + Math.exp(-v))) }, 'sigmoid');
  const w3 = tf.randomUniform([3, 3, 4, 2], -1, 1, 'float32', 6) as tf.Tensor4D;
  const wide = tf.conv2d(x, w3, 1, 'valid');
  assert.deepEqual(wide.shape, [1, 4, 4, 2]);
  tf.dispose([x, w, strided, sigmoid, w3, wide]);
});

test('a pointwise convolution keeps about one packed copy of its filter in the wasm memory, the backend\'s convolution two; filters over 1 MB keep the convolution', async () => {
  await selectBackend('wasm');
  const filterBytes = 512 * 512 * 4;
  const x = tf.randomUniform([1, 4, 4, 512], -1, 1, 'float32', 7) as tf.Tensor4D;
  // Dilation 2 is the same product for a 1×1 window, but goes to the backend's convolution kernel.
  const kept = (dilations: number, outputs = 512): number => {
    const w = tf.randomUniform([1, 1, 512, outputs], -1, 1, 'float32', 8) as tf.Tensor4D;
    const before = wasmBytesInUse();
    const y = tf.conv2d(x, w, 1, 'same', 'NHWC', dilations);
    y.dataSync();
    y.dispose();
    const grown = wasmBytesInUse() - before;
    w.dispose();
    return grown;
  };
  const asProduct = kept(1);
  const asConvolution = kept(2);
  assert.ok(asProduct < 1.5 * filterBytes, `as a product: ${asProduct} bytes kept for a ${filterBytes}-byte filter`);
  assert.ok(asConvolution - asProduct > 0.75 * filterBytes, `as a convolution: ${asConvolution} bytes kept, ${asProduct} as a product`);
  // A 2 MB filter is over the cap (pointwise-matmul.ts): the convolution and its transposed copy.
  const big = kept(1, 1024);
  assert.ok(big > 1.75 * 2 * filterBytes, `a 2 MB filter: ${big} bytes kept`);
  x.dispose();
});
