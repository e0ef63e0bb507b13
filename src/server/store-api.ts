/**
 * The store the monitoring service's routes use, as one asynchronous interface with two implementations: SQLite
 * (`store-sqlite.ts`, the embedded default, synchronous calls in resolved promises) and PostgreSQL (`pg/pg-store.ts`,
 * for several `serve` replicas on one database). Idempotency is the database's: a unique (deployment, image key).
 */
import type { AggregateReader } from './aggregates/reader.js';
import type { InsertResult, PredictionFilter, RetentionCandidate, StoredPrediction } from './store.js';

/** Which database a store runs on. */
export type StoreKind = 'sqlite' | 'postgres';

/** Everything the routes, retention and metrics read and write. `close()` is idempotent. */
export interface MonitoringStore {
  readonly kind: StoreKind;
  /** The statistics' read side (merged buckets; never reads predictions). */
  readonly aggregates: AggregateReader;
  /** The id of the prediction holding `imageKey` for that deployment, if any. */
  findByImageKey(deploymentId: string, imageKey: string): Promise<string | undefined>;
  /** Inserts a prediction and its aggregates in one transaction, unless its image key is already stored (then: the holder's id). */
  insert(p: StoredPrediction): Promise<InsertResult>;
  /** Inserts many in one transaction (imports, benches); returns how many were new. */
  insertMany(ps: readonly StoredPrediction[]): Promise<number>;
  get(id: string): Promise<StoredPrediction | undefined>;
  /** Several predictions in one query, in any order, those missing left out (PostgreSQL: a page of 1000 assets is one round trip, not 1000). */
  getMany?(ids: readonly string[]): Promise<StoredPrediction[]>;
  /** Adds a late shadow prediction and moves its aggregates; false when it already has one or does not exist. */
  setShadow(id: string, shadow: unknown, shadowClass: number | null, shadowScore: number | null, shadowLatencyS: number, shadowVersionId?: string | null): Promise<boolean>;
  count(deploymentId: string): Promise<number>;
  /** The gallery page: the latest `limit` predictions (disagreements first among the latest `window` when asked). */
  latest(f: PredictionFilter, limit: number, disagreementsFirst: boolean, window?: number): Promise<StoredPrediction[]>;
  /** Bytes of the stored images (a counter, no scan). */
  datalakeBytes(): Promise<number>;
  /** Retention candidates: the `limit` predictions captured first (before `beforeS` when given). */
  oldest(limit: number, beforeS?: number): Promise<RetentionCandidate[]>;
  /** Deletes predictions by id in one transaction (their aggregates stay); returns how many went. */
  deleteMany(ids: readonly string[]): Promise<number>;
  /** Readiness of a client/server database (`/readyz`): true when it takes writes, else what is wrong. SQLite's file is probed by `health.ts`. */
  probeWritable?(): Promise<true | string>;
  close(): Promise<void>;
}

/** `T`'s methods, answering promises (the registry's and reviews' store interfaces, from their SQLite classes). */
export type Async<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never };

/**
 * The model registry's store: models, versions, stored objects, model files, and each deployment's champion/shadow
 * history (comparison periods). SQLite: `registry/registry-store.ts`; PostgreSQL: `pg/pg-registry.ts`.
 */
export type RegistryStore = Async<import('./registry/registry-store.js').ModelRegistry>;

/**
 * Reviews, predicted-asset queries and the verdict's counters (kept when a prediction is stored, by SQLite triggers or
 * PL/pgSQL triggers). SQLite: `reviews/review-store.ts`; PostgreSQL: `pg/pg-reviews.ts`.
 */
export type ReviewsStore = Async<import('./reviews/review-store.js').ReviewStore>;
