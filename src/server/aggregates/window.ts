/** Which buckets and dimensions a stats request reads: the window rounded to minutes, the level ranges covering it, the dimensions its filters select. */
import { coverWindow, LEVELS_S, roundWindow, type LevelRange } from './levels.js';
import type { AggregateReader, Dim } from './reader.js';

/** Bounds standing for "no bound" (±31 million years), so that open windows are plain ranges. */
export const OPEN_FROM_S = -1e15;
export const OPEN_TO_S = 1e15;

/** Filters of a stats request. Tags: a prediction matches when it has any of them. */
export interface StatsFilter {
  deploymentId: string;
  fromS?: number | undefined;
  toS?: number | undefined;
  source?: string | undefined;
  tags?: readonly string[] | undefined;
  /** Model version: only the roles (champion, shadow) it played count. */
  modelId?: string | undefined;
}

/** A resolved window: [startS, endS) in whole minutes (open sides at ±1e15) and the bucket ranges covering it. */
export interface ResolvedWindow {
  startS: number;
  endS: number;
  open: { from: boolean; to: boolean };
  ranges: LevelRange[];
}

/** The window of a filter. An open window ("All") is covered by the coarsest level alone. */
export function resolveWindow(f: Pick<StatsFilter, 'fromS' | 'toS'>): ResolvedWindow {
  const open = { from: f.fromS === undefined, to: f.toS === undefined };
  const { startS, endS } = roundWindow(f.fromS ?? OPEN_FROM_S, f.toS ?? OPEN_TO_S);
  // Open sides align to the coarsest level, so that "All" is one range of 30-day buckets.
  const coarsest: number = LEVELS_S[LEVELS_S.length - 1] as number;
  const s = open.from ? Math.floor(OPEN_FROM_S / coarsest) * coarsest : startS;
  const e = open.to ? Math.ceil(OPEN_TO_S / coarsest) * coarsest : endS;
  return { startS: s, endS: e, open, ranges: coverWindow(s, e, LEVELS_S) };
}

/** The exact dimensions (never the roll-ups) matching the source and tags filters. */
export function exactDims(dims: readonly Dim[], f: StatsFilter): Dim[] {
  return dims.filter((d) => !d.rollup && (f.source === undefined || d.source === f.source) && (f.tags === undefined || f.tags.length === 0 || f.tags.some((t) => d.tags.includes(t))));
}

/**
 * Dimensions to read for the source and tags filters (the model filter is applied per role by the caller): the
 * roll-ups when there is no such filter (one per model-version pair, whatever the number of sources and tag sets),
 * else the matching exact dimensions.
 */
export function selectDims(dims: readonly Dim[], f: StatsFilter): Dim[] {
  const unfiltered = f.source === undefined && (f.tags === undefined || f.tags.length === 0);
  return unfiltered ? dims.filter((d) => d.rollup) : exactDims(dims, f);
}

/** Dimensions of a deployment matching a filter. */
export async function dimsOf(reader: AggregateReader, f: StatsFilter): Promise<Dim[]> {
  return selectDims(await reader.dims(f.deploymentId), f);
}
