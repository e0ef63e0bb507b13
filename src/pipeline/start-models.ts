/** Starts the champion and the optional shadow from the configuration (folders, or the deployment's model versions): one worker pool, sized by measurement when `workers` is 0. */
import { availableParallelism } from 'node:os';
import type { AgentConfig } from '../config/schema.js';
import { EdgewatchError, isEdgewatchError } from '../errors.js';
// The pool alone: the barrel would load TF.js into the main thread, which never runs a model (about 45 MB).
import { ModelPool, type PooledModel } from '../infer/model-pool.js';
import type { Logger } from '../log.js';
import { LiveModels } from './live-models.js';
import { ModelSources, noModelsOffline, type WantedModels } from './model-sources.js';

/** The started models. */
export interface StartedModels {
  /** The pair in use, swappable. */
  live: LiveModels;
  sources: ModelSources;
  /** Champion hosts per pool (after calibration): what a swapped-in pool gets. */
  workers: number;
}

/** Platform failures that mean "try later": the models recorded by the last run are used meanwhile. */
const TRANSIENT = new Set(['EW_MONITOR_CONNECT', 'EW_MONITOR_TIMEOUT', 'EW_MONITOR_HTTP', 'EW_MODEL_DOWNLOAD']);

/**
 * Loads and warms up `wanted` on a new pool of `workers` hosts (`shadowWorkers` of them holding the shadow too),
 * and refuses a shadow whose task differs from the champion's (EW_MODEL_MANIFEST). On failure the
 * pool is closed before the error is thrown.
 */
export async function loadPair(config: AgentConfig, wanted: WantedModels, workers: number, logger: Logger): Promise<ModelPool> {
  const pool = await ModelPool.start([{ dir: wanted.champion.dir }, ...(wanted.shadow ? [{ dir: wanted.shadow.dir }] : [])], {
    workers,
    ...(config.shadowWorkers !== undefined ? { shadowWorkers: config.shadowWorkers } : {}),
    backend: config.backend,
    topK: config.topK,
    warn: (message) => logger.warn(message),
  });
  const champion = pool.models[0] as PooledModel;
  const shadow = pool.models[1];
  if (shadow && shadow.info.task !== champion.info.task) {
    await pool.close();
    throw new EdgewatchError('EW_MODEL_MANIFEST', `The champion (${champion.info.task}) and the shadow (${shadow.info.task}) must have the same task.`);
  }
  return pool;
}

/**
 * Finds the models (a folder as it is; `deployment`: the versions the deployment names, downloaded
 * into the state folder, or those of the last run when the platform cannot be reached), loads and
 * warms them up, and keeps more than one worker only when it pays on this machine.
 */
export async function startModels(config: AgentConfig, logger: Logger, signal?: AbortSignal): Promise<StartedModels> {
  const started = performance.now();
  const sources = new ModelSources(config, logger, signal);
  let wanted: WantedModels;
  try {
    wanted = await sources.wanted();
  } catch (err) {
    const last = isEdgewatchError(err) && TRANSIENT.has(err.code) ? await sources.lastUsed() : undefined;
    if (!last) {
      await sources.close();
      throw isEdgewatchError(err) && TRANSIENT.has(err.code) ? noModelsOffline(err) : err;
    }
    logger.warn({ code: (err as EdgewatchError).code }, `the deployment's models cannot be read now (${(err as Error).message}); starting with those of the last run, and following the deployment once it answers`);
    wanted = last;
  }
  const asked = config.workers === 0 ? Math.max(1, availableParallelism()) : config.workers;
  let pool: ModelPool;
  try {
    pool = await loadPair(config, wanted, asked, logger);
  } catch (err) {
    await sources.close();
    throw err;
  }
  try {
    let workers = asked;
    if (config.workers === 0 && asked > 1) {
      const c = await pool.calibrate();
      workers = c.kept;
      logger.info(
        { oneWorkerImagesPerSecond: +c.oneWorkerPerSecond.toFixed(2), allWorkersImagesPerSecond: +c.allWorkersPerSecond.toFixed(2), workers: c.kept },
        c.kept < c.workers ? 'more model workers did not pay on this machine: using one' : `measured: ${c.kept} model workers`,
      );
    }
    logModels(logger, pool, wanted, performance.now() - started, 'models ready');
    if (pool.note) logger.info(pool.note);
    const champion = pool.models[0] as PooledModel;
    if (champion.backend === 'cpu') logger.warn('running on the pure-JS cpu backend: about 20x slower than wasm; check @tensorflow/tfjs-backend-wasm is installed');
    await sources.remember(wanted);
    return { live: new LiveModels(pool, wanted), sources, workers };
  } catch (err) {
    await pool.close();
    await sources.close();
    throw err;
  }
}

/** One log line naming the pair, its versions and the hosts. */
export function logModels(logger: Logger, pool: ModelPool, wanted: WantedModels, loadMs: number, message: string): void {
  const champion = pool.models[0] as PooledModel;
  const shadow = pool.models[1];
  logger.info(
    {
      champion: champion.info.name,
      championVersionId: wanted.champion.versionId,
      championExecution: champion.info.execution?.detail ?? champion.info.execution?.mode,
      shadow: shadow?.info.name,
      shadowVersionId: wanted.shadow?.versionId,
      shadowExecution: shadow?.info.execution?.detail ?? shadow?.info.execution?.mode,
      backend: champion.backend,
      hosts: pool.hosts.map((h) => `${h.models.map((m) => (m === 0 ? 'champion' : 'shadow')).join('+')}${h.preemptive && h.models.length > 1 ? ' (champion first within a kernel)' : ''}`),
      loadMs: Math.round(loadMs),
    },
    `${message} on the ${champion.backend} backend`,
  );
}
