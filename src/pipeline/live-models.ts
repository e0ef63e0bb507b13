/**
 * The champion and shadow in use, swappable while images flow: each image leases one pair for its
 * whole way through the models, a swap hands new images the new pair, and the old pair's pool is
 * closed only once no lease and no job (a late shadow included) still needs it.
 */
import type { ModelJob, ModelPool, PooledModel } from '../infer/index.js';
import type { DecodedInput } from '../types.js';
import type { OriginalSize } from '../infer/model-runner.js';

/** A model of a pair, as the pipeline uses it, with the platform model version it came from (none for a local folder). */
export interface LiveModel {
  readonly info: PooledModel['info'];
  readonly backend: string;
  readonly modelVersionId: string | undefined;
  /** Queues one prediction on this pair's pool (counted: the pool stays until it settles). */
  submit(input: DecodedInput, original: OriginalSize): ModelJob;
  readonly queued: number;
}

/** Where a model of a pair came from. */
export interface ModelOrigin {
  dir: string;
  /** The platform's model version id, for a model taken from the deployment. */
  versionId?: string | undefined;
}

/** A loaded pair and the pool that runs it. */
export interface ModelSet {
  readonly pool: ModelPool;
  readonly champion: LiveModel;
  readonly shadow: LiveModel | undefined;
  readonly origins: { champion: ModelOrigin; shadow: ModelOrigin | undefined };
  /** 1 for the pair the agent started with, +1 per swap. */
  readonly generation: number;
}

/** One image's pair: use it for every model call of that image, then `release()`. */
export interface ModelLease {
  readonly champion: LiveModel;
  readonly shadow: LiveModel | undefined;
  /** Counts the image as champion work on this pair's pool until the returned function is called (ModelPool.championAhead). */
  championAhead(): () => void;
  release(): void;
}

class Entry {
  leases = 0;
  jobs = 0;
  retired = false;
  closed: Promise<void> | undefined;
  set!: ModelSet;
  /** Called once the pool is closed. */
  onClosed: (() => void) | undefined;

  constructor(readonly pool: ModelPool) {}

  track(model: PooledModel, versionId: string | undefined): LiveModel {
    return {
      info: model.info,
      backend: model.backend,
      modelVersionId: versionId,
      get queued() {
        return model.queued;
      },
      submit: (input, original) => {
        const job = model.submit(input, original);
        this.jobs += 1;
        const done = () => {
          this.jobs -= 1;
          this.closeIfUnused();
        };
        job.result.then(done, done);
        return job;
      },
    };
  }

  closeIfUnused(): void {
    if (this.retired && this.leases === 0 && this.jobs === 0) this.closed ??= this.pool.close().finally(() => this.onClosed?.());
  }
}

/** The pair in use and the pairs being retired. */
export class LiveModels {
  #current: Entry;
  readonly #retiring = new Set<Entry>();
  #generation = 0;
  #closed = false;

  /** `pool.models[0]` is the champion, `[1]` the shadow if any. */
  constructor(pool: ModelPool, origins: ModelSet['origins']) {
    this.#current = this.#entry(pool, origins);
  }

  /** The pair new images get. */
  get current(): ModelSet {
    return this.#current.set;
  }

  /** The current pair for one image; `release()` it once the image's model calls are made (jobs are counted on their own). */
  acquire(): ModelLease {
    const entry = this.#current;
    entry.leases += 1;
    let released = false;
    return {
      champion: entry.set.champion,
      shadow: entry.set.shadow,
      championAhead: () => entry.pool.championAhead(),
      release: () => {
        if (released) return;
        released = true;
        entry.leases -= 1;
        entry.closeIfUnused();
      },
    };
  }

  /**
   * Makes `pool` (loaded and warmed up) the pair of every image leased from now on; the old pair
   * finishes what it holds, then its pool is closed. Returns the new pair. After `close()`, the
   * pool is closed at once and the old pair stays.
   */
  swap(pool: ModelPool, origins: ModelSet['origins']): ModelSet {
    if (this.#closed) {
      void pool.close();
      return this.#current.set;
    }
    const old = this.#current;
    this.#current = this.#entry(pool, origins);
    old.retired = true;
    this.#retiring.add(old);
    old.onClosed = () => this.#retiring.delete(old);
    old.closeIfUnused();
    return this.#current.set;
  }

  /** Pools not closed yet: the current one plus those still finishing work. */
  get pools(): number {
    return 1 + this.#retiring.size;
  }

  /** Closes every pool (queued jobs fail with EW_INFER_FAILED). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const entries = [this.#current, ...this.#retiring];
    await Promise.allSettled(entries.map((e) => (e.closed ??= e.pool.close())));
  }

  #entry(pool: ModelPool, origins: ModelSet['origins']): Entry {
    const entry = new Entry(pool);
    const [champion, shadow] = pool.models;
    this.#generation += 1;
    entry.set = {
      pool,
      champion: entry.track(champion as PooledModel, origins.champion.versionId),
      shadow: shadow ? entry.track(shadow, origins.shadow?.versionId) : undefined,
      origins,
      generation: this.#generation,
    };
    return entry;
  }
}
