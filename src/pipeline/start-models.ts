/** Starts the champion and the optional shadow from the configuration: one worker pool, sized by measurement when `workers` is 0. */
import { availableParallelism } from 'node:os';
import type { AgentConfig } from '../config/schema.js';
import { EdgewatchError } from '../errors.js';
import { ModelPool, type PooledModel } from '../infer/index.js';
import type { Logger } from '../log.js';

/** The started models. */
export interface StartedModels {
  pool: ModelPool;
  champion: PooledModel;
  shadow: PooledModel | undefined;
}

/**
 * Loads and warms up the models, keeps more than one worker only when it pays on this machine,
 * and refuses a shadow whose task differs from the champion's (EW_MODEL_MANIFEST). On failure
 * the pool is closed before the error is thrown.
 */
export async function startModels(config: AgentConfig, logger: Logger): Promise<StartedModels> {
  const started = performance.now();
  const workers = config.workers === 0 ? Math.max(1, availableParallelism()) : config.workers;
  const pool = await ModelPool.start([{ dir: config.champion }, ...(config.shadow ? [{ dir: config.shadow }] : [])], {
    workers,
    backend: config.backend,
    topK: config.topK,
    warn: (message) => logger.warn(message),
  });
  try {
    if (config.workers === 0 && workers > 1) {
      const c = await pool.calibrate();
      logger.info(
        { oneWorkerImagesPerSecond: +c.oneWorkerPerSecond.toFixed(2), allWorkersImagesPerSecond: +c.allWorkersPerSecond.toFixed(2), workers: c.kept },
        c.kept < c.workers ? 'more model workers did not pay on this machine: using one' : `measured: ${c.kept} model workers`,
      );
    }
    const champion = pool.models[0] as PooledModel;
    const shadow = pool.models[1];
    if (shadow && shadow.info.task !== champion.info.task) {
      throw new EdgewatchError('EW_MODEL_MANIFEST', `The champion (${champion.info.task}) and the shadow (${shadow.info.task}) must have the same task.`);
    }
    logger.info(
      {
        champion: champion.info.name,
        championExecution: champion.info.execution?.detail ?? champion.info.execution?.mode,
        shadow: shadow?.info.name,
        shadowExecution: shadow?.info.execution?.detail ?? shadow?.info.execution?.mode,
        backend: champion.backend,
        hosts: pool.hosts.map((h) => `${h.models.map((m) => (m === 0 ? 'champion' : 'shadow')).join('+')}${h.niceness ? ` (nice ${h.niceness})` : ''}`),
        loadMs: Math.round(performance.now() - started),
      },
      `models ready on the ${champion.backend} backend`,
    );
    if (pool.note) logger.info(pool.note);
    if (champion.backend === 'cpu') logger.warn('running on the pure-JS cpu backend: about 20x slower than wasm; check @tensorflow/tfjs-backend-wasm is installed');
    return { pool, champion, shadow };
  } catch (err) {
    await pool.close();
    throw err;
  }
}
