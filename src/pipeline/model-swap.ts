/**
 * Follows the models while the agent runs: polls the deployment every `modelPollS` (a promotion is
 * only visible that way) and re-reads local folders on `reload()` (SIGHUP, `edgewatch reload`).
 * A changed pair is loaded and warmed up in the background, checked, then swapped in between
 * images; a pair that fails keeps the running one, is logged once, and is tried again only when
 * the pair changes (or on the next reload), never in a loop.
 */
import type { AgentConfig } from '../config/schema.js';
import { EdgewatchError, isEdgewatchError } from '../errors.js';
import type { ModelPool, PooledModel } from '../infer/index.js';
import type { Logger } from '../log.js';
import type { DeploymentModels } from '../monitor/model-registry-api.js';
import type { LiveModels, ModelSet } from './live-models.js';
import { sameModels, type ModelSources, type WantedModels } from './model-sources.js';
import { loadPair, logModels } from './start-models.js';

export interface ModelFollowerOptions {
  config: AgentConfig;
  live: LiveModels;
  sources: ModelSources;
  /** Champion hosts of a swapped-in pool. */
  workers: number;
  logger: Logger;
  /** A new pair is in use (new images get it). */
  onSwap: (set: ModelSet, previous: ModelSet) => void;
  /** Loads a pair (default: `loadPair`); tests pass a failing one. */
  load?: (wanted: WantedModels) => Promise<ModelPool>;
}

/** What one check did. */
export type CheckOutcome = 'unchanged' | 'swapped' | 'failed' | 'skipped';

/** Polls and reloads, one change at a time. `close()` stops it; a change being loaded is dropped. */
export class ModelFollower {
  readonly #o: ModelFollowerOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<CheckOutcome> = Promise.resolve('unchanged');
  #closed = false;
  /** The versions last seen on the deployment. */
  #seen: DeploymentModels | undefined;
  /** The pair that failed to load (by folder and version): not tried again until something changes. */
  #failed: WantedModels | undefined;
  /** Code of the last failed poll (logged again only when it changes). */
  #pollFailing: string | undefined;

  constructor(options: ModelFollowerOptions) {
    this.#o = options;
  }

  /** Starts polling the deployment (when a model follows it). */
  start(): void {
    if (this.#o.sources.followsDeployment) this.#schedule();
  }

  /** Re-reads every source now (local folders included) and swaps if the pair changed; a pair that failed earlier is tried again. */
  reload(): Promise<CheckOutcome> {
    return this.#serialize(() => this.#check(true));
  }

  /** Reads the deployment now, as a poll would. */
  poll(): Promise<CheckOutcome> {
    return this.#serialize(() => this.#check(false));
  }

  /** Stops polling. Idempotent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  /** Resolves once the change being checked or loaded (if any) has ended; its pool is closed by then unless it was swapped in. */
  settled(): Promise<void> {
    return this.#running.then(() => undefined);
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      void this.poll().finally(() => this.#schedule());
    }, this.#o.config.modelPollS * 1000);
    this.#timer.unref();
  }

  #serialize(step: () => Promise<CheckOutcome>): Promise<CheckOutcome> {
    const next = this.#running.then(step, step);
    this.#running = next.catch(() => 'failed' as const);
    return next;
  }

  async #check(forced: boolean): Promise<CheckOutcome> {
    if (this.#closed) return 'skipped';
    const { sources, logger } = this.#o;
    let versions: DeploymentModels | undefined;
    if (sources.followsDeployment) {
      try {
        versions = await sources.deploymentVersions();
        if (this.#pollFailing !== undefined) logger.info('the deployment can be read again');
        this.#pollFailing = undefined;
      } catch (err) {
        const code = isEdgewatchError(err) ? err.code : 'unexpected';
        if (code !== this.#pollFailing) logger.warn({ code }, `could not read the deployment's models (${(err as Error).message}); the running models stay, trying again in ${this.#o.config.modelPollS} s`);
        this.#pollFailing = code;
        return 'failed';
      }
      const unchanged = this.#seen && this.#seen.championVersionId === versions.championVersionId && this.#seen.shadowVersionId === versions.shadowVersionId;
      this.#seen = versions;
      if (unchanged && !forced) return 'unchanged';
    }
    const current = this.#o.live.current;
    let wanted: WantedModels | undefined;
    try {
      wanted = await sources.wanted(versions);
      if (!forced && this.#failed && sameModels(wanted, this.#failed)) return 'skipped';
      // A downloaded version's folder never changes (a new file gets a new folder): only local folders need a load to compare.
      const localFolder = wanted.champion.versionId === undefined || (wanted.shadow !== undefined && wanted.shadow.versionId === undefined);
      if ((!forced || !localFolder) && sameModels(wanted, current.origins)) return 'unchanged';
      return await this.#swapTo(wanted, current);
    } catch (err) {
      this.#fail(err, wanted, versions);
      return 'failed';
    }
  }

  async #swapTo(wanted: WantedModels, current: ModelSet): Promise<CheckOutcome> {
    const started = performance.now();
    const load = this.#o.load ?? ((w: WantedModels) => loadPair(this.#o.config, w, this.#o.workers, this.#o.logger));
    const pool = await load(wanted);
    const champion = pool.models[0] as PooledModel;
    const shadow = pool.models[1];
    const same = (a: PooledModel | undefined, b: { info: PooledModel['info'] } | undefined) => a?.info.hash === b?.info.hash;
    if (same(champion, current.champion) && same(shadow, current.shadow) && sameModels(wanted, current.origins)) {
      await pool.close();
      return 'unchanged';
    }
    if (champion.info.task !== current.champion.info.task) {
      await pool.close();
      throw new EdgewatchError('EW_MODEL_MANIFEST', `The new champion's task is ${champion.info.task} but the deployment's models are ${current.champion.info.task}: a deployment keeps one task.`);
    }
    if (this.#closed) {
      await pool.close();
      return 'skipped';
    }
    const set = this.#o.live.swap(pool, wanted);
    this.#failed = undefined;
    logModels(this.#o.logger, pool, wanted, performance.now() - started, `models swapped (generation ${set.generation})`);
    this.#o.onSwap(set, current);
    await this.#o.sources.remember(wanted);
    return 'swapped';
  }

  /** Logs a failed change once, with its code, and remembers it so that the same pair is not tried again in a loop. */
  #fail(err: unknown, wanted: WantedModels | undefined, versions: DeploymentModels | undefined): void {
    const code = isEdgewatchError(err) ? err.code : 'EW_MODEL_SWAP_FAILED';
    this.#failed = wanted ?? { champion: { dir: '', versionId: versions?.championVersionId }, shadow: versions?.shadowVersionId ? { dir: '', versionId: versions.shadowVersionId } : undefined };
    this.#o.logger.error(
      { code: 'EW_MODEL_SWAP_FAILED', cause: code, championVersionId: versions?.championVersionId, shadowVersionId: versions?.shadowVersionId ?? undefined },
      `EW_MODEL_SWAP_FAILED: the new models could not be used (${code}: ${(err as Error).message}); the running models stay in place and the change is tried again when the deployment or the folders change (or on reload)`,
    );
  }
}
