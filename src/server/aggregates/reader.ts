/**
 * The read side of the aggregates, as an interface a PostgreSQL store can implement too (`sqlite-reader.ts` is the
 * SQLite one). Every method sums bucket rows over the given level ranges; none reads a prediction.
 */
import type { LevelRange } from './levels.js';

/** One dimension row: what a set of buckets is keyed by. Versions and source are '' for none. */
export interface Dim {
  id: number;
  /** A roll-up (every source, tag set and name of its deployment and model versions): what unfiltered reads use. */
  rollup: boolean;
  championVersion: string;
  shadowVersion: string;
  source: string;
  tags: string[];
  names: { champion: string | null; shadow: string | null; backend: string | null; agentVersion: string | null };
}

/** Summed `agg_counts` of one dimension (latencies in ms, times in epoch seconds). */
export interface CountsRow {
  dimId: number;
  n: number;
  w: number;
  shadowN: number;
  shadowW: number;
  latSumW: number;
  shadowLatSumW: number;
  latMin: number | null;
  latMax: number | null;
  shadowLatMin: number | null;
  shadowLatMax: number | null;
  tMin: number | null;
  tMax: number | null;
}

/** Summed champion × shadow class pairs of one dimension (classes: id, -1 empty prediction, -2 no shadow). */
export interface PairRow {
  dimId: number;
  championClass: number;
  shadowClass: number;
  n: number;
  w: number;
  championScoreW: number;
  shadowScoreW: number;
}

/** Summed bins (latency sketch or top-1 score) of one dimension and role (0 champion, 1 shadow). */
export interface BinRow {
  dimId: number;
  role: number;
  bin: number;
  n: number;
  w: number;
}

/** Summed detections of one class, dimension and role. */
export interface ObjectRow {
  dimId: number;
  role: number;
  classId: number;
  n: number;
  w: number;
  scoreW: number;
}

/** Pairs summed per chart bucket (all dimensions given together). */
export interface TimelinePairRow {
  t: number;
  championClass: number;
  shadowClass: number;
  n: number;
  w: number;
}

/** What the statistics read. Async so that a client/server database can implement it. */
export interface AggregateReader {
  dims(deploymentId: string): Promise<Dim[]>;
  counts(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<CountsRow[]>;
  pairs(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<PairRow[]>;
  latency(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<BinRow[]>;
  scores(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<BinRow[]>;
  objects(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<ObjectRow[]>;
  /** Pairs per chart bucket of width `bucketS` (the ranges' levels all divide it). */
  timeline(dimIds: readonly number[], ranges: readonly LevelRange[], bucketS: number): Promise<TimelinePairRow[]>;
  /** Weighted prediction counts per bucket of one level range, ascending (the caller keeps ranges short). */
  bucketCounts(dimIds: readonly number[], range: LevelRange): Promise<{ bucket: number; w: number }[]>;
}
