/**
 * Where a store's statistics are computed: a SQLite store's in its worker thread (its reads are synchronous and would
 * hold the event loop that accepts monitor calls), any other store's inline (its queries are asynchronous; only the
 * folding of the summed rows runs here).
 */
import type { DeploymentInfo } from '../config.js';
import type { MonitoringStore } from '../store-api.js';
import { SqliteMonitoringStore } from '../store-sqlite.js';
import { computeDashboardStats, type DashboardStatsOptions } from './dashboard-stats.js';
import type { AggregateReader } from './reader.js';
import { computeSdkStats } from './sdk-stats.js';
import type { SdkQuery } from './sdk-query.js';
import type { StatsRunner } from './stats-worker.js';
import type { StatsFilter } from './window.js';

const inline = new WeakMap<AggregateReader, StatsRunner>();

/** The runner of `store`'s statistics. */
export function statsRunnerOf(store: MonitoringStore): StatsRunner {
  if (store instanceof SqliteMonitoringStore) return store.sqlite.stats;
  let runner = inline.get(store.aggregates);
  if (runner === undefined) {
    const reader = store.aggregates;
    runner = {
      dashboard: (filter: StatsFilter, options: DashboardStatsOptions) => computeDashboardStats(reader, filter, options),
      sdk: (deployment: DeploymentInfo, query: SdkQuery) => computeSdkStats(reader, deployment, query),
    };
    inline.set(reader, runner);
  }
  return runner;
}
