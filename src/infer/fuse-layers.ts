/**
 * Compiles a Keras-style layers model into a plan of fused TF.js ops: batch normalisations folded
 * into the convolution before them, ReLU/ReLU6 fused into the convolution, Dense as a fused matMul.
 * The plan is verified against the model's own `predict` before use (ModelRunner falls back to the
 * layers model when a layer is unsupported or the outputs differ).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

type Activation = 'linear' | 'relu' | 'relu6' | 'sigmoid' | 'softmax' | 'tanh';
type Fusable = 'linear' | 'relu' | 'relu6';

/** Weights read out of the backend: the plan is folded in JavaScript, then put on the backend once. */
interface HostTensor {
  values: Float32Array;
  shape: number[];
}

interface ConvStep<W> {
  kind: 'conv';
  depthwise: boolean;
  filter: W;
  bias: W | undefined;
  strides: [number, number];
  pad: 'same' | 'valid';
  dilations: [number, number];
  activation: Activation;
}
interface DenseStep<W> {
  kind: 'dense';
  kernel: W;
  bias: W | undefined;
  activation: Activation;
}
interface AffineStep<W> {
  kind: 'affine';
  scale: W;
  shift: W;
}
type Op<W> =
  | ConvStep<W>
  | DenseStep<W>
  | AffineStep<W>
  | { kind: 'identity' }
  | { kind: 'activation'; activation: Activation }
  | { kind: 'pad'; paddings: [number, number][] }
  | { kind: 'add' }
  | { kind: 'concat'; axis: number }
  | { kind: 'flatten' }
  | { kind: 'globalAvg' }
  | { kind: 'pool'; max: boolean; size: [number, number]; strides: [number, number]; pad: 'same' | 'valid' };

interface Node<W> {
  name: string;
  inputs: string[];
  op: Op<W>;
}

/** Thrown inside the compiler for anything it does not handle: the caller falls back. */
class Unsupported extends Error {}

function pair(v: unknown, what: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number')) return [v[0] as number, v[1] as number];
  throw new Unsupported(`${what}: ${JSON.stringify(v)}`);
}

function activationOf(name: unknown): Activation {
  const a = String(name ?? 'linear');
  if (a === 'linear' || a === 'relu' || a === 'relu6' || a === 'sigmoid' || a === 'softmax' || a === 'tanh') return a;
  throw new Unsupported(`activation ${a}`);
}

function applyActivation(x: tf.Tensor, a: Activation): tf.Tensor {
  switch (a) {
    case 'linear':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'tanh':
      return tf.tanh(x);
    case 'softmax':
      return tf.softmax(x);
  }
}

function channelsLast(config: Record<string, unknown>): void {
  if (config.dataFormat !== undefined && config.dataFormat !== 'channelsLast') throw new Unsupported('channels_first');
}

/** A copy of `t`'s values in JavaScript. */
function hostOf(t: tf.Tensor): HostTensor {
  return { values: Float32Array.from(t.dataSync() as Float32Array), shape: [...t.shape] };
}

/** One layer as a plan node, its weights copied out of the backend (the model can be released after). */
function nodeOf(layer: tfl.layers.Layer, inputs: string[]): Node<HostTensor> {
  const config = layer.getConfig() as Record<string, unknown>;
  const weights = layer.getWeights();
  const cls = layer.getClassName();
  const name = layer.name;
  switch (cls) {
    case 'InputLayer':
    case 'Dropout':
    case 'SpatialDropout2D':
    case 'GaussianNoise':
      return { name, inputs, op: { kind: 'identity' } };
    case 'Conv2D':
    case 'DepthwiseConv2D': {
      channelsLast(config);
      const depthwise = cls === 'DepthwiseConv2D';
      if (depthwise && config.depthMultiplier !== 1) throw new Unsupported('depth_multiplier');
      const pad = config.padding === 'same' ? 'same' : config.padding === 'valid' ? 'valid' : undefined;
      if (!pad) throw new Unsupported(`padding ${String(config.padding)}`);
            return {
        name,
        inputs,
        op: {
          kind: 'conv',
          depthwise,
          filter: hostOf(weights[0]!),
          bias: config.useBias ? hostOf(weights[1]!) : undefined,
          strides: pair(config.strides, 'strides'),
          pad,
          dilations: pair(config.dilationRate ?? 1, 'dilationRate'),
          activation: activationOf(config.activation),
        },
      };
    }
    case 'BatchNormalization': {
      const axis = config.axis;
      if (!(axis === -1 || axis === 3 || (Array.isArray(axis) && (axis[0] === -1 || axis[0] === 3)))) throw new Unsupported('batch norm axis');
      const eps = Number(config.epsilon ?? 1e-3);
      let i = 0;
      const gamma = config.scale === false ? undefined : weights[i++];
      const beta = config.center === false ? undefined : weights[i++];
      const mean = weights[i++];
      const variance = weights[i++];
      if (!mean || !variance) throw new Unsupported('batch norm weights');
      // scale = gamma / sqrt(variance + eps), shift = beta - mean * scale, per channel.
      const [g, b, m, v] = [gamma?.dataSync(), beta?.dataSync(), mean.dataSync(), variance.dataSync()];
      const scale = new Float32Array(m.length);
      const shift = new Float32Array(m.length);
      for (let c = 0; c < m.length; c++) {
        scale[c] = (g ? g[c]! : 1) / Math.sqrt(v[c]! + eps);
        shift[c] = (b ? b[c]! : 0) - m[c]! * scale[c]!;
      }
      return { name, inputs, op: { kind: 'affine', scale: { values: scale, shape: [m.length] }, shift: { values: shift, shape: [m.length] } } };
    }
    case 'ReLU': {
      const max = config.maxValue;
            if (max === null || max === undefined) return { name, inputs, op: { kind: 'activation', activation: 'relu' } };
      if (max === 6) return { name, inputs, op: { kind: 'activation', activation: 'relu6' } };
      throw new Unsupported(`relu max ${String(max)}`);
    }
    case 'Activation':
      return { name, inputs, op: { kind: 'activation', activation: activationOf(config.activation) } };
    case 'Add':
      return { name, inputs, op: { kind: 'add' } };
    case 'Concatenate': {
      const axis = Number(config.axis ?? -1);
      if (axis !== -1 && axis !== 3) throw new Unsupported(`concatenate axis ${axis}`);
      return { name, inputs, op: { kind: 'concat', axis: -1 } };
    }
    case 'ZeroPadding2D': {
      channelsLast(config);
      const p = config.padding;
      const rows = Array.isArray(p) ? (Array.isArray(p[0]) ? (p[0] as number[]) : [p[0] as number, p[0] as number]) : [p as number, p as number];
      const cols = Array.isArray(p) ? (Array.isArray(p[1]) ? (p[1] as number[]) : [p[1] as number, p[1] as number]) : [p as number, p as number];
      return { name, inputs, op: { kind: 'pad', paddings: [[0, 0], [rows[0]!, rows[1]!], [cols[0]!, cols[1]!], [0, 0]] } };
    }
    case 'Flatten':
      return { name, inputs, op: { kind: 'flatten' } };
    case 'GlobalAveragePooling2D':
      channelsLast(config);
      if (config.keepDims) throw new Unsupported('keepdims');
      return { name, inputs, op: { kind: 'globalAvg' } };
    case 'AveragePooling2D':
    case 'MaxPooling2D': {
      channelsLast(config);
      const size = pair(config.poolSize, 'poolSize');
      const pad = config.padding === 'same' ? 'same' : 'valid';
      return { name, inputs, op: { kind: 'pool', max: cls === 'MaxPooling2D', size, strides: pair(config.strides ?? size, 'strides'), pad } };
    }
    case 'Dense':
      return {
        name,
        inputs,
        op: { kind: 'dense', kernel: hostOf(weights[0]!), bias: config.useBias ? hostOf(weights[1]!) : undefined, activation: activationOf(config.activation) },
      };
    default:
      throw new Unsupported(`layer ${cls}`);
  }
}

function disposeOp(op: Op<tf.Tensor>): void {
  if (op.kind === 'conv') tf.dispose([op.filter, ...(op.bias ? [op.bias] : [])]);
  else if (op.kind === 'dense') tf.dispose([op.kernel, ...(op.bias ? [op.bias] : [])]);
  else if (op.kind === 'affine') tf.dispose([op.scale, op.shift]);
}

/** The op with its weights put on the backend. */
function onBackend(op: Op<HostTensor>): Op<tf.Tensor> {
  const put = (w: HostTensor) => tf.tensor(w.values, w.shape, 'float32');
  if (op.kind === 'conv') return { ...op, filter: put(op.filter), bias: op.bias && put(op.bias) };
  if (op.kind === 'dense') return { ...op, kernel: put(op.kernel), bias: op.bias && put(op.bias) };
  if (op.kind === 'affine') return { ...op, scale: put(op.scale), shift: put(op.shift) };
  return op;
}

/** Folds conv → batch norm → relu/relu6 chains whose intermediate outputs have no other consumer. */
function fold(nodes: Node<HostTensor>[], outputName: string): Node<HostTensor>[] {
  const consumers = new Map<string, number>();
  for (const n of nodes) for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  const removed = new Set<string>();
  /** The node consuming `name` alone, if it is its only consumer and not the output. */
  const soleConsumer = (name: string): Node<HostTensor> | undefined => {
    if (name === outputName || consumers.get(name) !== 1) return undefined;
    return nodes.find((n) => n.inputs.length === 1 && n.inputs[0] === name);
  };
  const alias = new Map<string, string>();
  for (const node of nodes) {
    if (removed.has(node.name) || node.op.kind !== 'conv' || node.op.activation !== 'linear') continue;
    const conv = node.op;
    let tail = node.name;
    const bn = soleConsumer(tail);
    if (bn && bn.op.kind === 'affine') {
      const scale = bn.op.scale.values;
      const shift = bn.op.shift.values;
      const { values, shape } = conv.filter;
      // Output channel of each filter value: the last axis for conv2d; in × multiplier (multiplier 1,
      // the last two axes) for depthwise. The filter is laid out [height, width, in, out].
      const channels = conv.depthwise ? shape[2]! * shape[3]! : shape[3]!;
      const filter = new Float32Array(values.length);
      for (let i = 0; i < values.length; i++) filter[i] = values[i]! * scale[i % channels]!;
      const bias = new Float32Array(scale.length);
      for (let c = 0; c < scale.length; c++) bias[c] = (conv.bias ? conv.bias.values[c]! : 0) * scale[c]! + shift[c]!;
      conv.filter = { values: filter, shape };
      conv.bias = { values: bias, shape: [scale.length] };
      removed.add(bn.name);
      alias.set(bn.name, node.name);
      tail = bn.name;
    }
    const act = soleConsumer(tail);
    if (act && act.op.kind === 'activation' && (act.op.activation === 'relu' || act.op.activation === 'relu6')) {
      conv.activation = act.op.activation as Fusable;
      removed.add(act.name);
      alias.set(act.name, node.name);
    }
  }
  const resolveName = (n: string): string => {
    let cur = n;
    while (alias.has(cur)) cur = alias.get(cur)!;
    return cur;
  };
  return nodes
    .filter((n) => !removed.has(n.name))
    .map((n) => ({ ...n, inputs: n.inputs.map(resolveName) }));
}

/** Index of the last node of `plan` reading each value. */
function lastUses(plan: readonly Node<tf.Tensor>[]): Map<string, number> {
  const last = new Map<string, number>();
  plan.forEach((node, index) => {
    for (const name of node.inputs) last.set(name, index);
  });
  return last;
}

/** A compiled plan: `run` maps a [1,h,w,c] input to the model's output; `dispose` frees the folded weights. */
export interface FusedPlan {
  run(x: tf.Tensor4D): tf.Tensor;
  dispose(): void;
  /** Ops before and after folding (for the log). */
  layers: number;
  ops: number;
}

function runOp(op: Op<tf.Tensor>, inputs: tf.Tensor[]): tf.Tensor {
  const x = inputs[0]!;
  switch (op.kind) {
    case 'identity':
      return x;
    case 'conv': {
      const fusable = op.activation === 'linear' || op.activation === 'relu' || op.activation === 'relu6';
      const activation = fusable ? (op.activation as Fusable) : 'linear';
      const args = { x: x as tf.Tensor4D, filter: op.filter as tf.Tensor4D, strides: op.strides, pad: op.pad, dataFormat: 'NHWC' as const, dilations: op.dilations, bias: op.bias as tf.Tensor1D | undefined, activation };
      const y = op.depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args);
      return fusable ? y : applyActivation(y, op.activation);
    }
    case 'dense': {
      const flat = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [x.shape[0]!, -1]);
      const fusable = op.activation === 'linear' || op.activation === 'relu' || op.activation === 'relu6';
      const y = tf.fused.matMul({ a: flat as tf.Tensor2D, b: op.kernel as tf.Tensor2D, bias: op.bias, activation: fusable ? (op.activation as Fusable) : 'linear' });
      return fusable ? y : applyActivation(y, op.activation);
    }
    case 'affine':
      return tf.add(tf.mul(x, op.scale), op.shift);
    case 'activation':
      return applyActivation(x, op.activation);
    case 'pad':
      return tf.pad(x, op.paddings);
    case 'add':
      return inputs.slice(1).reduce((acc, t) => tf.add(acc, t), x);
    case 'concat':
      return tf.concat(inputs, op.axis);
    case 'flatten':
      return tf.reshape(x, [x.shape[0]!, -1]);
    case 'globalAvg':
      return tf.mean(x, [1, 2]);
    case 'pool':
      return op.max ? tf.maxPool(x as tf.Tensor4D, op.size, op.strides, op.pad) : tf.avgPool(x as tf.Tensor4D, op.size, op.strides, op.pad);
  }
}

/** A plan folded in JavaScript whose weights are not on the backend yet: the layers model can be released before `build()`. */
export interface StagedPlan {
  /** Layers and ops after folding (for the log). */
  layers: number;
  ops: number;
  /** Puts the folded weights on the backend. */
  build(): FusedPlan;
}

/**
 * Compiles `model` (single input, single output) into a fused plan, or returns the reason it
 * cannot (an unsupported layer or topology).
 */
export function compileLayersModel(model: tfl.LayersModel): FusedPlan | { unsupported: string } {
  const staged = stageLayersModel(model);
  return 'unsupported' in staged ? staged : staged.build();
}

/**
 * Reads `model`'s topology and weights and folds them in JavaScript, allocating nothing on the
 * backend: released before the plan is built, the model's weights and the plan's never share the
 * wasm memory, which never shrinks (MobileNetV2: one copy of its 10 MB of weights less at the peak).
 */
export function stageLayersModel(model: tfl.LayersModel): StagedPlan | { unsupported: string } {
  try {
    const nodes: Node<HostTensor>[] = [];
    if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new Unsupported('several inputs or outputs');
    // A Sequential model exposes its graph through `model.model`.
    const graph = ((model as unknown as { model?: tfl.LayersModel }).model ?? model) as tfl.LayersModel;
    const inputName = graph.inputLayers?.[0]?.name ?? '__input__';
    const known = new Set<string>([inputName]);
    for (const layer of graph.layers) {
      const inbound = (layer as unknown as { inboundNodes: { inboundLayers: tfl.layers.Layer[] }[] }).inboundNodes;
      if (inbound.length > 1) throw new Unsupported(`layer ${layer.name} is shared`);
      let inputs = (inbound[0]?.inboundLayers ?? []).map((l) => l.name);
      if (layer.getClassName() === 'InputLayer') {
        known.add(layer.name);
        continue;
      }
      // A Sequential model's first layer may name an input layer that is not in `layers`.
      inputs = inputs.map((n) => (known.has(n) ? n : inputName));
      if (inputs.length === 0) inputs = [inputName];
      nodes.push(nodeOf(layer, inputs));
      known.add(layer.name);
    }
    const outputName = graph.outputLayers?.[0]?.name ?? graph.layers[graph.layers.length - 1]?.name;
    if (!outputName || !known.has(outputName)) throw new Unsupported('output layer');
    const staged = fold(nodes, outputName);
    const last = staged[staged.length - 1];
    if (!last || last.name !== outputName) throw new Unsupported('the output is not the last layer');
    return { layers: nodes.length, ops: staged.length, build: () => buildPlan(staged, inputName, outputName, nodes.length) };
  } catch (err) {
    return { unsupported: (err as Error).message };
  }
}

/** The staged plan on the backend, ready to run. */
function buildPlan(staged: readonly Node<HostTensor>[], inputName: string, outputName: string, layers: number): FusedPlan {
  const plan: Node<tf.Tensor>[] = [];
  try {
    for (const node of staged) plan.push({ ...node, op: onBackend(node.op) });
  } catch (err) {
    for (const n of plan) disposeOp(n.op);
    throw err;
  }
  const lastUse = lastUses(plan);
  return {
    layers,
    ops: plan.length,
    run: (x) =>
      tf.tidy(() => {
        const values = new Map<string, tf.Tensor>([[inputName, x]]);
        plan.forEach((node, index) => {
          const inputs = node.inputs.map((n) => {
            const t = values.get(n);
            if (!t) throw new Error(`fused plan: missing input ${n} of ${node.name}`);
            return t;
          });
          const output = runOp(node.op, inputs);
          values.set(node.name, output);
          // Free each activation after its last reader, as TF.js's own executors do: kept to the
          // end of the tidy, the wasm backend's memory (which never shrinks) had to hold every
          // activation of the network at once (MobileNetV2: 100 MB of wasm memory for 10 MB of weights).
          for (const name of new Set(node.inputs)) {
            if (name === inputName || name === outputName || lastUse.get(name) !== index) continue;
            const t = values.get(name)!;
            values.delete(name);
            if (t !== output) t.dispose();
          }
        });
        return values.get(outputName)!;
      }),
    dispose: () => {
      for (const n of plan) disposeOp(n.op);
    },
  };
}
