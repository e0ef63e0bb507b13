/** `run --metrics-port N`: the agent's metrics and health port, listening before the models load (so /readyz says "starting" meanwhile). */
import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { AgentMetrics } from './agent-metrics.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';

/** The metrics of a running `edgewatch run`, and their port. */
export interface AgentMetricsPort {
  metrics: AgentMetrics;
  server: MetricsServer;
}

/** Starts the metrics port when `metricsPort` is set (undefined otherwise). Throws EW_METRICS_LISTEN when it cannot bind. */
export async function startAgentMetrics(config: AgentConfig, logger: Logger): Promise<AgentMetricsPort | undefined> {
  if (config.metricsPort === undefined) return undefined;
  const metrics = new AgentMetrics(config);
  const server = await startMetricsServer({
    host: config.metricsHost,
    port: config.metricsPort,
    registry: metrics.registry,
    readiness: () => metrics.readiness(),
    onError: (err, path) => logger.warn({ err, path }, 'metrics port: could not answer'),
  });
  logger.info({ url: server.url }, `metrics on ${server.url}/metrics, health on /healthz and /readyz`);
  return { metrics, server };
}
