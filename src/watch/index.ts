/** The watch stage: stable image files out of watched folders, with backpressure. */
export { FolderWatcher, type FolderWatcherEvents, type FolderWatcherOptions, type WatchedFile, type WatcherCounts } from './folder-watcher.js';
export { skipReason, isUnder, type SkipReason } from './ignore.js';
export { walkFiles } from './walk.js';
