/**
 * Statistics of the embedded service. They are computed from aggregates maintained as predictions are stored
 * (`aggregates/`): the dashboard document (`computeDashboardStats`) and the SDK's services (`computeSdkStats`) both
 * merge time buckets and never read predictions. This module keeps the small helpers the gallery and tests use.
 */
import { readEdgewatchNames } from './edgewatch-names.js';

export { computeDashboardStats, type DashboardStats } from './aggregates/dashboard-stats.js';
export { populationStabilityIndex, PSI_EPSILON, PSI_THRESHOLDS } from './aggregates/drift.js';
export { LATENCY_RELATIVE_ERROR } from './aggregates/sketch.js';

/** Nearest-rank percentile of an ascending array: the value at rank ceil(p/100 · n). */
export function percentile(sortedAsc: readonly number[], p: number): number {
  if (sortedAsc.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sortedAsc.length));
  return sortedAsc[Math.min(rank, sortedAsc.length) - 1] as number;
}

/** Model and runtime names read from a JSON `custom_metadata.edgewatch` value: one gallery item's. */
export function edgewatchNames(json: string | null) {
  let parsed: unknown = null;
  try {
    parsed = json === null ? null : JSON.parse(json);
  } catch {
    parsed = null;
  }
  return readEdgewatchNames(parsed);
}
