/**
 * Programmatic API of edgewatch: the same wiring the CLI uses, for services that embed the agent.
 *
 * ```ts
 * import { Agent, agentConfigSchema } from 'edgewatch';
 * const agent = await Agent.start(agentConfigSchema.parse({ watch: ['./inbox'], champion: './models/a', ... }));
 * // ... later
 * await agent.close();
 * ```
 */
export { AGENT_VERSION as VERSION } from './version.js';
export { Agent, type AgentOptions, type RunSummary } from './agent.js';
export { agentConfigSchema, watchFolders, type AgentConfig, type AgentConfigInput, type WatchFolder } from './config/schema.js';
export { loadConfig, helpText, type LoadOptions } from './config/load.js';
export { EdgewatchError, ERROR_CODES, EXIT, isEdgewatchError, type ErrorCode } from './errors.js';
export { createLogger, silentLogger, type Logger } from './log.js';
export type { TaskType, RawPrediction, ClassificationPrediction, DetectionPrediction, SegmentationPrediction, InputSpec, DecodedInput, WireContentType } from './types.js';
export { ModelRunner, ModelWorker, selectBackend } from './infer/index.js';
export { readImage, rejectFile, type ImageRead } from './read/index.js';
export { FolderWatcher, type WatchedFile } from './watch/index.js';
export { PicselliaClient, buildMonitorBody, serializeMonitorBody, type MonitorTarget, type MonitorBody, type SendOutcome } from './monitor/index.js';
export { startServer } from './server/index.js';
export { serveConfigSchema, type ServeConfig } from './server/config.js';
export { main } from './cli.js';
