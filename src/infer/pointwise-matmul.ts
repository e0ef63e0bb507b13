/**
 * On the wasm backend, 1×1 convolutions run as matrix products, for memory.
 *
 * tfjs-backend-wasm's Conv2D keeps, for as long as the filter lives, a copy of the filter transposed
 * to XNNPACK's layout beside the packed operator (conv2d_impl.cc: `CachedInfo.transposed_filter`):
 * a regular convolution costs three times its weights in the wasm memory, which never shrinks. Its
 * fully-connected path packs straight from the weights (`XNN_FLAG_TRANSPOSE_WEIGHTS`) and keeps
 * nothing else. A 1×1, stride-1 convolution over NHWC data is exactly the product
 * [N·H·W, Cin] × [Cin, Cout], and such convolutions carry most of a MobileNet's weights (those up to
 * MAX_FILTER_BYTES take the product).
 *
 * The kernels are wrapped, not the ops, so that fused plans, layers models and graph models all take
 * this path. The wrapper calls the backend's own `_FusedMatMul` kernel on views of the same data
 * (a reshape in TF.js shares the data too); anything else goes to the original kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

type Info = tf.TensorInfo;
type Args = { inputs: Record<string, Info | undefined>; backend: unknown; attrs?: Record<string, unknown> };
type KernelFunc = (args: Args) => Info | Info[];

/**
 * Filters up to this size take the matrix product. Bigger ones (InceptionV3's late 1×1 layers, 1.5–3 MB)
 * ran 3–8 % slower that way whenever another host ran beside them, and in a steady drip at half
 * capacity on two cores that turned 2–3 shadow predictions in 24 late (92 % in one request instead
 * of 100 %); with this cap 0–1. MobileNetV2's and MobileNetV2-mid's pointwise filters are mostly
 * below it: the pair's wasm memory 92 → 81 MB per host (69 MB with no cap).
 */
const MAX_FILTER_BYTES = 1 << 20;

/** Activations the wasm backend's matrix product fuses the same way as its convolution does. */
const FUSED = new Set([undefined, 'linear', 'relu', 'relu6']);

const isOne = (v: unknown): boolean => v === undefined || v === 1 || (Array.isArray(v) && v.every((n) => n === 1));
/** `same` and `valid` are the same for a 1×1 stride-1 window; explicit padding must be zero. */
const noPadding = (pad: unknown): boolean => pad === 'same' || pad === 'valid' || pad === 0 || (Array.isArray(pad) && pad.flat(2).every((n) => n === 0));

/** Whether a Conv2D / FusedConv2D call is a pointwise product the matrix kernel computes identically. */
function pointwise(args: Args): boolean {
  const { x, filter, bias, preluActivationWeights } = args.inputs;
  const attrs = args.attrs ?? {};
  if (!x || !filter || preluActivationWeights) return false;
  const [fh, fw, cin, cout] = filter.shape;
  return (
    x.dtype === 'float32' &&
    filter.dtype === 'float32' &&
    x.shape.length === 4 &&
    fh === 1 &&
    fw === 1 &&
    x.shape[3] === cin &&
    cin! * cout! * 4 <= MAX_FILTER_BYTES &&
    (bias === undefined || (bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === cout)) &&
    (attrs.dataFormat === undefined || attrs.dataFormat === 'NHWC') &&
    isOne(attrs.strides) &&
    isOne(attrs.dilations) &&
    noPadding(attrs.pad) &&
    FUSED.has(attrs.activation as string | undefined)
  );
}

/** The wasm backend's record of a tensor's data (its shape is read by some kernels, e.g. a bias's rank). */
type WasmBackend = { dataIdMap: { get(dataId: object): { shape: number[] } | undefined } };

let installed = false;

/** Wraps the wasm backend's Conv2D and FusedConv2D kernels (once per thread, after the backend is initialised). */
export function runPointwiseConvolutionsAsMatMul(): void {
  if (installed) return;
  const matMul = tf.getKernel('_FusedMatMul', 'wasm');
  if (!matMul) return;
  const product = matMul.kernelFunc as unknown as KernelFunc;
  for (const name of ['Conv2D', 'FusedConv2D']) {
    const original = tf.getKernel(name, 'wasm');
    if (!original) continue;
    const convolve = original.kernelFunc as unknown as KernelFunc;
    const kernelFunc: KernelFunc = (args) => {
      if (!pointwise(args)) return convolve(args);
      const { x, filter, bias } = args.inputs as { x: Info; filter: Info; bias?: Info };
      const [n, h, w, cin] = x.shape as [number, number, number, number];
      const cout = filter.shape[3]!;
      const y = product({
        inputs: {
          a: { dataId: x.dataId, shape: [1, n * h * w, cin], dtype: 'float32' },
          b: { dataId: filter.dataId, shape: [1, cin, cout], dtype: 'float32' },
          ...(bias ? { bias } : {}),
        },
        backend: args.backend,
        attrs: { transposeA: false, transposeB: false, activation: (args.attrs?.activation as string | undefined) ?? 'linear', leakyreluAlpha: 0 },
      }) as Info;
      const shape = [n, h, w, cout];
      const record = (args.backend as WasmBackend).dataIdMap.get(y.dataId);
      if (record) record.shape = shape;
      return { dataId: y.dataId, shape, dtype: y.dtype };
    };
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
  installed = true;
}
