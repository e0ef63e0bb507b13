/** `--shadow-max-lag`: the bound on shadow work waiting behind the champion, and the log of the episodes in which it sheds. */
import type { Logger } from '../log.js';

/** `--shadow-max-lag`: at most this many images waiting for their shadow, or this old. */
export interface ShadowLag {
  images?: number | undefined;
  ms?: number | undefined;
}

/** Counts shadow work shed for lag: the first shed of an episode is logged, and its end (the shadow caught up) with the count. */
export class LagShedEpisode {
  readonly #logger: Logger;
  readonly #maxLag: ShadowLag;
  #shed = 0;

  constructor(logger: Logger, maxLag: ShadowLag) {
    this.#logger = logger;
    this.#maxLag = maxLag;
  }

  /** One more shed for lag, `waiting` images being behind. */
  shed(waiting: number): void {
    if (this.#shed === 0) {
      this.#logger.warn(
        { code: 'EW_SHADOW_LAG', waiting, maxLag: this.#maxLag },
        'the shadow is too far behind the champion: shedding shadow work until it catches up (the champion is not affected)',
      );
    }
    this.#shed += 1;
  }

  /** Nothing waits for the shadow any more: the episode, if any, ends. */
  caughtUp(): void {
    if (this.#shed > 0) this.#logger.info({ shed: this.#shed }, 'the shadow caught up');
    this.#shed = 0;
  }
}
