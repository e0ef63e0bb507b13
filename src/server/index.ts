/** Public API of the embedded monitoring service (`edgewatch serve`). */
export { serveConfigSchema, resolveOrganizations, stableUuid, type ServeConfig, type ServeConfigInput, type DeploymentInfo, type OrganizationInfo } from './config.js';
export { startServer, type RunningServer } from './start-server.js';
export type { ServerLogger } from './context.js';
export { PredictionStore, type StoredPrediction } from './store.js';
export { computeDashboardStats, populationStabilityIndex, percentile, PSI_EPSILON, PSI_THRESHOLDS, LATENCY_RELATIVE_ERROR, type DashboardStats } from './stats.js';
