/** `MonitoringStore` on the embedded SQLite database: `PredictionStore`'s synchronous calls, answered as resolved promises. */
import type { AggregateReader } from './aggregates/reader.js';
import type { MonitoringStore } from './store-api.js';
import type { WalCheckpointerOptions } from './wal-checkpointer.js';
import { PredictionStore, type InsertResult, type PredictionFilter, type RetentionCandidate, type StoredPrediction } from './store.js';

/** The SQLite store of one data folder (`monitoring.db`). `sqlite` is the synchronous store (tests, imports, the registry's file). */
export class SqliteMonitoringStore implements MonitoringStore {
  readonly kind = 'sqlite' as const;
  readonly sqlite: PredictionStore;
  readonly aggregates: AggregateReader;

  /** `checkpoint`: the background WAL checkpoints (`onError` logs a failed one). */
  constructor(file: string, options: { checkpoint?: WalCheckpointerOptions | false } = {}) {
    this.sqlite = new PredictionStore(file, options);
    this.aggregates = this.sqlite.aggregates;
  }

  async findByImageKey(deploymentId: string, imageKey: string): Promise<string | undefined> {
    return this.sqlite.findByImageKey(deploymentId, imageKey);
  }

  async insert(p: StoredPrediction): Promise<InsertResult> {
    return this.sqlite.insert(p);
  }

  async insertMany(ps: readonly StoredPrediction[]): Promise<number> {
    return this.sqlite.insertMany(ps);
  }

  async get(id: string): Promise<StoredPrediction | undefined> {
    return this.sqlite.get(id);
  }

  async setShadow(id: string, shadow: unknown, shadowClass: number | null, shadowScore: number | null, shadowLatencyS: number, shadowVersionId: string | null = null): Promise<boolean> {
    return this.sqlite.setShadow(id, shadow, shadowClass, shadowScore, shadowLatencyS, shadowVersionId);
  }

  async count(deploymentId: string): Promise<number> {
    return this.sqlite.count(deploymentId);
  }

  async latest(f: PredictionFilter, limit: number, disagreementsFirst: boolean, window?: number): Promise<StoredPrediction[]> {
    return this.sqlite.latest(f, limit, disagreementsFirst, window);
  }

  async datalakeBytes(): Promise<number> {
    return this.sqlite.datalakeBytes();
  }

  async oldest(limit: number, beforeS?: number): Promise<RetentionCandidate[]> {
    return this.sqlite.oldest(limit, beforeS);
  }

  async deleteMany(ids: readonly string[]): Promise<number> {
    return this.sqlite.deleteMany(ids);
  }

  async close(): Promise<void> {
    this.sqlite.close();
  }
}
