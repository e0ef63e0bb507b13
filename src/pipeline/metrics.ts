/** Per-stage timing samples (bounded ring buffers) with medians and percentiles, for logs, summaries and the benchmark. */

/** A bounded window of recent samples. */
export class Samples {
  readonly #values: number[] = [];
  readonly #capacity: number;
  #next = 0;
  count = 0;
  /** Called with every sample added (e.g. a Prometheus histogram fed from here). */
  observer: ((value: number) => void) | undefined;

  constructor(capacity = 2048) {
    this.#capacity = capacity;
  }

  add(value: number): void {
    if (!Number.isFinite(value)) return;
    if (this.#values.length < this.#capacity) this.#values.push(value);
    else this.#values[this.#next] = value;
    this.#next = (this.#next + 1) % this.#capacity;
    this.count += 1;
    this.observer?.(value);
  }

  /** The q-quantile (0..1) of the window, by nearest rank; NaN when empty. */
  quantile(q: number): number {
    if (this.#values.length === 0) return Number.NaN;
    const sorted = [...this.#values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
  }

  /** Forgets every sample. */
  clear(): void {
    this.#values.length = 0;
    this.#next = 0;
    this.count = 0;
  }

  summary(): { n: number; p50: number; p95: number } {
    return { n: this.count, p50: this.quantile(0.5), p95: this.quantile(0.95) };
  }
}

/** The timings the agent records per image, in milliseconds. */
export class PipelineMetrics {
  readonly readMs = new Samples();
  readonly decodeMs = new Samples();
  readonly championMs = new Samples();
  readonly shadowMs = new Samples();
  readonly enqueueMs = new Samples();
  readonly sendMs = new Samples();
  /** File complete (first seen with its final size) → 201, minus the models' wall time (max of champion and shadow: they run in parallel). */
  readonly addedMs = new Samples();

  /** Forgets every sample (e.g. between benchmark phases). */
  reset(): void {
    for (const samples of [this.readMs, this.decodeMs, this.championMs, this.shadowMs, this.enqueueMs, this.sendMs, this.addedMs]) samples.clear();
  }

  /** Medians and p95 of every series. */
  snapshot(): Record<string, { n: number; p50: number; p95: number }> {
    return {
      readMs: this.readMs.summary(),
      decodeMs: this.decodeMs.summary(),
      championMs: this.championMs.summary(),
      shadowMs: this.shadowMs.summary(),
      enqueueMs: this.enqueueMs.summary(),
      sendMs: this.sendMs.summary(),
      addedMs: this.addedMs.summary(),
    };
  }
}
