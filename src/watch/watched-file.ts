/** What the watch stage hands out: one file, complete (or, eagerly, maybe not), with the size and mtime it was seen with. */
import type { WatchFolder } from '../config/schema.js';

/** A file whose size and modification time stayed unchanged for `stableMs`. */
export interface WatchedFile {
  /** Absolute path. */
  path: string;
  folder: WatchFolder;
  sizeBytes: number;
  mtimeMs: number;
  /**
   * True when size and mtime stayed unchanged for `stableMs`. False for an eager hand-out on first
   * sight: the consumer must prove the file complete (a full decode) or call `recheck()`.
   */
  settled: boolean;
  /** performance.now() when the file was first seen with this size and mtime (its "complete" time). */
  seenAt: number;
}
