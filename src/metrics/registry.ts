/** Builds a process's own prom-client registry (never the global default) from a list of metric declarations in `catalog.ts`. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricSpec } from './catalog.js';

/** The prom-client instance a declaration becomes. */
export type MetricOf<S extends MetricSpec> = S extends { type: 'counter' } ? Counter<string> : S extends { type: 'gauge' } ? Gauge<string> : Histogram<string>;

/** The instances of a list of declarations, under the same keys. */
export type MetricsOf<T extends Record<string, MetricSpec>> = { readonly [K in keyof T]: MetricOf<T[K]> };

/** A fresh registry with Node.js process metrics (`process_*`, `nodejs_*`: CPU, memory, event-loop lag, GC). */
export function newRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Registers every declaration of `specs` on `registry`. `collect` gives, per key, a function run at
 * each scrape (for values read from a query or an object: keep it cheap).
 */
export function registerMetrics<T extends Record<string, MetricSpec>>(
  registry: Registry,
  specs: T,
  collect: { [K in keyof T]?: (metric: MetricOf<T[K]>) => void | Promise<void> } = {},
): MetricsOf<T> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs) as [keyof T & string, MetricSpec][]) {
    const collector = collect[key] as ((metric: unknown) => void | Promise<void>) | undefined;
    const common = {
      name: spec.name,
      help: spec.help,
      labelNames: [...spec.labels],
      registers: [registry],
      ...(collector ? { collect(this: unknown) { return collector(this); } } : {}),
    };
    if (spec.type === 'counter') out[key] = new Counter(common);
    else if (spec.type === 'gauge') out[key] = new Gauge(common);
    else out[key] = new Histogram({ ...common, ...(spec.buckets ? { buckets: [...spec.buckets] } : {}) });
  }
  return out as MetricsOf<T>;
}

/** One Markdown row per metric: name, type, labels, meaning (the README's metrics tables). */
export function metricsTable(specs: Record<string, MetricSpec>): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rows = Object.values(specs).map((s) => `| \`${s.name}\` | ${s.type} | ${s.labels.map((l) => `\`${l}\``).join(', ')} | ${cell(s.help)} |`);
  return ['| metric | type | labels | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
