/** Messages between a ModelWorker (main thread) and its worker thread, and how errors cross the thread boundary. */
import { EdgewatchError, ERROR_CODES, type ErrorCode } from '../errors.js';
import type { InputSpec, RawPrediction } from '../types.js';
import type { BackendPreference } from './backend.js';
import type { UrgentLane } from './kernel-gate.js';
import type { ManifestFile } from './manifest.js';
import type { ModelInfo, OriginalSize } from './model-runner.js';

/** A model folder for a host to load, with its manifest read by the main thread (see loadModelFolder). */
export interface HostModel {
  dir: string;
  name?: string;
  manifest: ManifestFile;
}

/** `workerData` of a model worker. */
export interface WorkerStartData {
  /** The models this worker loads (each its own ModelRunner), addressed by index in requests. */
  models: HostModel[];
  backend: BackendPreference;
  topK: number;
  /** Module specifier the `tensorflow` backend loads (tfjs-node, or a stand-in in tests). */
  nativeModule: string;
  /** Champion requests run at the next kernel of whatever the host is running (see kernel-gate.ts). */
  urgent: UrgentLane;
}

/** One prediction: on the host's queue, or on its urgent lane (the champion on a pre-emptive host). */
export interface PredictRequest {
  type: 'predict';
  id: number;
  model: number;
  spec: InputSpec;
  pixels: Uint8Array;
  original: OriginalSize;
}

/** Main thread → worker, on the urgent lane: the champion's predictions, and the crash test hook behind them. */
export type UrgentRequest = PredictRequest | { type: 'crash' };

/** Main thread → worker. */
export type WorkerRequest =
  | PredictRequest
  | { type: 'memory'; id: number }
  /** Loads one more model folder into the running worker (warmed up), answered with `loaded`. */
  | { type: 'load'; id: number; model: HostModel }
  /** Test hook: makes the worker thread die as a crash would. */
  | { type: 'crash' };

/** Where a host's memory goes: TF.js tensors, its V8 isolate, and the wasm backend's linear memory (which only grows). */
export interface WorkerMemoryReport {
  numTensors: number;
  numBytes: number;
  /** V8 heap of the worker's isolate: used and reserved bytes. */
  heapUsed: number;
  heapTotal: number;
  /** Array buffers and other memory V8 tracks outside the heap (weights on the cpu backend). */
  external: number;
  /** Size of the wasm backend's linear memory (0 on other backends). */
  wasmBytes: number;
}

/** An error as plain data. */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
}

/** Worker → main thread. */
export type WorkerReply =
  /** `preemptive`: the champion (model 0) runs synchronously, so its urgent requests can interrupt a shadow prediction. */
  | { type: 'ready'; infos: ModelInfo[]; preemptive: boolean }
  | { type: 'loaded'; id: number; info: ModelInfo }
  | { type: 'load-error'; error: SerializedError }
  | { type: 'warning'; message: string }
  | { type: 'result'; id: number; prediction: RawPrediction; latencySeconds: number }
  | ({ type: 'memory'; id: number } & WorkerMemoryReport)
  | { type: 'error'; id: number; error: SerializedError };

/** Turns any error into plain data; errors without an edgewatch code get `fallback`. */
export function serializeError(err: unknown, fallback: ErrorCode): SerializedError {
  if (err instanceof EdgewatchError) return { code: err.code, message: err.message, details: { ...err.details } };
  return { code: fallback, message: err instanceof Error ? err.message : String(err), details: {} };
}

/** Rebuilds the EdgewatchError (same code and message) in the receiving thread. */
export function deserializeError(e: SerializedError): EdgewatchError {
  const code = e.code in ERROR_CODES ? e.code : 'EW_INFER_FAILED';
  return new EdgewatchError(code, e.message, { details: e.details });
}
