/** The watch stage: stable image files out of watched folders, with backpressure. */
export { countBacklog } from './count-backlog.js';
export { FolderWatcher, type FolderWatcherEvents, type FolderWatcherOptions, type WatcherCounts } from './folder-watcher.js';
export { skipReason, isUnder, type SkipReason } from './ignore.js';
export { scanFolder, scanRules, type ScannedFile, type ScanRules } from './scan.js';
export { walkFiles } from './walk.js';
export type { WatchedFile } from './watched-file.js';
