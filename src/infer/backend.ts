/** Chooses and initialises the TF.js backend of this thread: tfjs-node when installed, else wasm (XNNPACK, SIMD), else the slow pure-JS cpu backend. */
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { EdgewatchError } from '../errors.js';
import { TFJS_NODE } from './native-module.js';
import { runPointwiseConvolutionsAsMatMul } from './pointwise-matmul.js';

/** What the configuration may ask for. */
export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
/** What actually runs. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface SelectBackendOptions {
  /** Receives warnings (cpu fallback, a backend that failed in auto mode). Default: stderr. */
  warn?: (message: string) => void;
  /** Module the `tensorflow` preference imports (default {@link TFJS_NODE}); tests pass a stand-in. */
  nativeModule?: string;
}

export { TFJS_NODE };

let wasmPathsSet = false;

/** The folder holding the wasm backend's .wasm files, resolved from node_modules (ends with a separator). */
export function wasmBinariesDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
}

async function tryTensorflow(nativeModule: string): Promise<void> {
  try {
    await import(nativeModule);
  } catch (err) {
    throw new EdgewatchError(
      'EW_BACKEND',
      `backend "tensorflow" needs the optional package ${nativeModule}, which is not installed or cannot load here (${(err as Error).message}); use backend "wasm" or "auto"`,
      { cause: err },
    );
  }
  if (!(await tf.setBackend('tensorflow'))) {
    throw new EdgewatchError('EW_BACKEND', `${nativeModule} is installed but its "tensorflow" backend failed to initialise; use backend "wasm" or "auto"`);
  }
}

async function tryWasm(): Promise<void> {
  // V8 compiles wasm with its baseline compiler, then recompiles hot functions with its optimising
  // one as they run ("dynamic tiering"). A host's kernels are few, hot and long-running, and a late
  // tier-up left the shadow's matrix kernel on baseline code for a whole `run --once` (MobileNetV2-mid
  // 108 ms per image instead of 51). Optimised from the start, every kernel runs at full speed from
  // the first image; measured: no later "models ready", no more memory. Read when the module compiles.
  setFlagsFromString('--no-wasm-dynamic-tiering');
  if (!wasmPathsSet) {
    // Point the wasm loader at the package's own dist folder; SIMD is detected and used, threads stay off under Node.
    setWasmPaths(wasmBinariesDir());
    wasmPathsSet = true;
  }
  // The Emscripten glue installs process-wide handlers that rethrow every uncaught exception and
  // unhandled rejection (printing its whole minified source): keep the process's own behaviour.
  const before = { exception: process.listeners('uncaughtException'), rejection: process.listeners('unhandledRejection') };
  let ok: boolean;
  try {
    ok = await tf.setBackend('wasm');
  } catch (err) {
    throw new EdgewatchError('EW_BACKEND', `the wasm backend failed to initialise (${(err as Error).message})`, { cause: err });
  } finally {
    for (const l of process.listeners('uncaughtException')) if (!before.exception.includes(l)) process.removeListener('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection')) if (!before.rejection.includes(l)) process.removeListener('unhandledRejection', l);
  }
  if (!ok) throw new EdgewatchError('EW_BACKEND', `the wasm backend failed to initialise (binaries looked up in ${wasmBinariesDir()})`);
  runPointwiseConvolutionsAsMatMul();
}

async function tryCpu(warn: (message: string) => void): Promise<void> {
  // Registered only where it runs: a wasm host does not carry the pure-JavaScript kernels.
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) throw new EdgewatchError('EW_BACKEND', 'the cpu backend failed to initialise');
  warn(
    'TF.js is running on the pure-JavaScript "cpu" backend: inference is about 20x slower than wasm. ' +
      'Use backend "wasm" (or install @tensorflow/tfjs-node for "tensorflow") for real workloads.',
  );
}

/**
 * Initialises the backend of the current thread (each worker thread has its own TF.js) and turns
 * on production mode. `auto` tries tensorflow, then wasm, then cpu (with a loud warning); an
 * explicit choice that fails throws EW_BACKEND. Returns the backend actually in use.
 */
export async function selectBackend(preference: BackendPreference, options: SelectBackendOptions = {}): Promise<BackendName> {
  const warn = options.warn ?? ((message: string) => process.stderr.write(`edgewatch: WARNING: ${message}\n`));
  const nativeModule = options.nativeModule ?? TFJS_NODE;
  tf.enableProdMode();
  const current = tf.findBackend(preference) ? preference : undefined;
  if (current && tf.getBackend() === current) return current as BackendName;
  if (preference === 'tensorflow') await tryTensorflow(nativeModule);
  else if (preference === 'wasm') await tryWasm();
  else if (preference === 'cpu') await tryCpu(warn);
  else {
    const failures: string[] = [];
    for (const [name, attempt] of [
      ['tensorflow', () => tryTensorflow(nativeModule)],
      ['wasm', tryWasm],
    ] as const) {
      try {
        await attempt();
        return name;
      } catch (err) {
        failures.push(`${name}: ${(err as Error).message}`);
      }
    }
    warn(`backend auto: neither tensorflow nor wasm could start (${failures.join('; ')})`);
    await tryCpu(warn);
    return 'cpu';
  }
  return preference;
}
