/** Public API of the infer stage: backend selection, model folders, in-process and worker-thread runners, the champion-first model pool. */
export { selectBackend, wasmBinariesDir, type BackendName, type BackendPreference, type SelectBackendOptions } from './backend.js';
export { MANIFEST_FILE, TEACHABLE_MACHINE_FILE, modelManifestSchema, parseManifest, parseTeachableMachine, readManifest, type ModelManifest } from './manifest.js';
export { loadModelFolder, MODEL_JSON, type LoadedModel } from './load-model.js';
export { ModelRunner, type ModelInfo, type OriginalSize, type RunnerOptions, type TimedPrediction } from './model-runner.js';
export { ModelWorker, type ModelWorkerOptions, type WorkerMemory } from './model-worker.js';
export { ModelPool, type HostInfo, type ModelPoolOptions, type PooledModel } from './model-pool.js';
export type { ModelJob } from './scheduler.js';
