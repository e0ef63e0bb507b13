/** Public surface of the monitor stage (Picsellia protocol client). */
export { backoffDelayMs, parseRetryAfter } from './backoff.js';
export { checkDeploymentType, DeploymentResolver, type DeploymentResolverOptions, type TargetCache } from './deployment.js';
export {
  base64Bytes,
  buildMonitorBody,
  buildMonitorFields,
  encodeMonitorBody,
  magicMatches,
  normalizePrediction,
  predictionTask,
  serializeMonitorBody,
  type EdgewatchMetadata,
  type ModelIdentity,
  type ModelResult,
  type MonitorBody,
  type MonitorBodyInput,
  type MonitorFields,
} from './monitor-body.js';
export {
  PicselliaClient,
  absoluteUrl,
  type LateShadowBody,
  type MonitorLogger,
  type MonitorTarget,
  type PicselliaClientOptions,
  type SendOutcome,
} from './picsellia-client.js';
