/**
 * Whether one prediction is sent to the monitoring service, and its inclusion probability p (the
 * service weights it by 1/p). Every image is still predicted and written to the local sinks.
 *
 * How the rules combine, for one image:
 * 1. p₁ = the rate of the champion's top class when `class:` names it (by label or id), else `rate`.
 * 2. With `disagreement`, p₁ = 1 when the shadow's prediction is there and its top class differs
 *    from the champion's. A shadow that is not there yet (late, deferred) or shed cannot disagree:
 *    the image gets its class or rate probability. This keeps p exact, since it depends only on what
 *    was known when the draw was made.
 * 3. With `cap=N`: p = p₁ × q, where q = min(1, T / D), D is the sum of p₁ over the images of the
 *    previous minute (the sends expected without the cap) and T = `capTarget(N)`, a little under N.
 *    q adapts once a minute.
 * 4. One uniform draw u: sent when u < p. As a last guard, no more than N are sent within one
 *    clock minute. A prediction this guard holds back is counted as `cap` (not sent); it only
 *    happens when traffic surges within a minute faster than q adapts, and is the one case where
 *    the 1/p weights under-count.
 */
import type { RawPrediction } from '../types.js';
import { SEND_ALL, type SamplePolicy } from './policy.js';

/** The outcome of one draw. */
export type SampleDecision =
  | { send: true; probability: number; policy: string }
  | { send: false; probability: number; policy: string; reason: 'sampled' | 'cap' };

/** The champion's top class: the first of a classification's classes, or the highest-scoring detection's. -1: nothing detected. */
export function topClass(prediction: RawPrediction): number {
  const { detection_classes: classes, detection_scores: scores } = prediction;
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < classes.length; i += 1) {
    const score = scores[i] ?? 0;
    if (score > bestScore) {
      bestScore = score;
      best = classes[i] as number;
    }
  }
  return best;
}

/**
 * Expected sends per minute the cap aims at: N − 3√N (at least N/2). The number actually drawn
 * varies around its expectation by about √N; three of those below N, the guard that enforces N
 * (and, alone, under-counts) almost never acts on steady traffic.
 */
export function capTarget(capPerMinute: number): number {
  return Math.max(capPerMinute / 2, capPerMinute - 3 * Math.sqrt(capPerMinute));
}

export class Sampler {
  readonly #policy: SamplePolicy;
  readonly #random: () => number;
  readonly #now: () => number;
  #minute = -1;
  /** Sum of p₁ in the current minute, and in the previous one. */
  #demand = 0;
  #lastDemand = 0;
  #sentThisMinute = 0;

  /** `now` in ms (tests pass a clock and a random source). */
  constructor(policy: SamplePolicy = SEND_ALL, random: () => number = Math.random, now: () => number = Date.now) {
    this.#policy = policy;
    this.#random = random;
    this.#now = now;
  }

  /** True when every prediction is sent (no `--sample`): no draw, p = 1. */
  get sendsAll(): boolean {
    return this.#policy === SEND_ALL;
  }

  /**
   * Decides for one image; `shadow` is undefined when the shadow's prediction is not there (yet).
   * `labels`: the champion's, to match `class:NAME`.
   */
  decide(champion: RawPrediction, shadow: RawPrediction | undefined, labels: readonly string[] = []): SampleDecision {
    if (this.sendsAll) return { send: true, probability: 1, policy: 'all' };
    const policy = this.#policy;
    const minute = Math.floor(this.#now() / 60_000);
    if (minute !== this.#minute) {
      // A minute with no image in between means no demand in the previous one.
      this.#lastDemand = minute === this.#minute + 1 ? this.#demand : 0;
      this.#minute = minute;
      this.#demand = 0;
      this.#sentThisMinute = 0;
    }
    const top = topClass(champion);
    let p1 = policy.rate;
    let rule = 'rate';
    const classRate = top >= 0 ? (policy.classes.get(labels[top] ?? '') ?? policy.classes.get(String(top))) : undefined;
    if (classRate !== undefined) {
      p1 = classRate;
      rule = `class:${labels[top] ?? top}`;
    }
    if (policy.disagreement && shadow !== undefined && topClass(shadow) !== top) {
      p1 = 1;
      rule = 'disagreement';
    }
    this.#demand += p1;
    let p = p1;
    const target = policy.capPerMinute === undefined ? undefined : capTarget(policy.capPerMinute);
    if (target !== undefined && this.#lastDemand > target) {
      p = p1 * (target / this.#lastDemand);
      rule += '+cap';
    }
    if (!(this.#random() < p)) return { send: false, probability: p, policy: rule, reason: 'sampled' };
    if (policy.capPerMinute !== undefined && this.#sentThisMinute >= policy.capPerMinute) return { send: false, probability: p, policy: rule, reason: 'cap' };
    this.#sentThisMinute += 1;
    return { send: true, probability: p, policy: rule };
  }
}
