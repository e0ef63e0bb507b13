/** The `npm start` system in one call: embedded monitoring service, demo image feeder and agent with the demo models, stopped in reverse order. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from '../agent.js';
import { loadConfig } from '../config/load.js';
import { agentConfigSchema, type AgentConfigInput } from '../config/schema.js';
import { isEdgewatchError } from '../errors.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { startAgentMetrics, type AgentMetricsPort } from '../metrics/start-agent-metrics.js';
import { serveConfigSchema } from '../server/config.js';
import { startServer } from '../server/index.js';
import { startFeeder, type Feeder } from './feeder.js';
import { SHAPE_LABELS } from './shapes.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface DemoOptions {
  dataDir: string;
  port: number;
  intervalMs: number;
  limit?: number;
  logLevel?: AgentConfigInput['logLevel'];
  logger?: Logger;
  /** The agent's metrics port, and the service's on the next one (0: two free ports); none when undefined. */
  metricsPort?: number | undefined;
}

/** A running demo; `close()` stops the feeder, then the agent, then the service. Idempotent. */
export interface Demo {
  server: Awaited<ReturnType<typeof startServer>>;
  feeder: Feeder;
  agent: Agent;
  inbox: string;
  /** Base URLs of the metrics ports (`/metrics`, `/healthz`, `/readyz`) with `metricsPort`. */
  metricsUrls: { agent: string; service: string } | undefined;
  close(): Promise<void>;
}

/** Starts the three parts; a busy port falls back to a free one. */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const logger = options.logger ?? silentLogger();
  const serveConfig = serveConfigSchema.parse({
    dataDir: join(options.dataDir, 'service'),
    port: options.port,
    organization: 'edge',
    deployment: [{ name: 'demo', type: 'CLASSIFICATION', labels: [...SHAPE_LABELS] }],
    ...(options.metricsPort === undefined ? {} : { metricsPort: options.metricsPort === 0 ? 0 : options.metricsPort + 1 }),
  });
  let server;
  try {
    server = await startServer(serveConfig, { logger: logger.child({ part: 'service' }) });
  } catch (err) {
    if (!isEdgewatchError(err, 'EW_SERVER_LISTEN') || options.port === 0) throw err;
    logger.warn(`port ${options.port} is busy; using a free port instead`);
    server = await startServer({ ...serveConfig, port: 0 }, { logger: logger.child({ part: 'service' }) });
  }
  const inbox = join(options.dataDir, 'inbox');
  const feeder = await startFeeder({ folder: inbox, intervalMs: options.intervalMs, ...(options.limit !== undefined ? { limit: options.limit } : {}) });
  let agent: Agent;
  let agentMetrics: AgentMetricsPort | undefined;
  try {
    const { config } = loadConfig(agentConfigSchema, {
      overrides: {
        watch: [{ path: inbox, source: 'demo-feeder', tags: ['demo'] }],
        champion: join(repoRoot, 'models', 'demo-champion'),
        shadow: join(repoRoot, 'models', 'demo-shadow'),
        host: server.url,
        apiToken: server.token,
        organization: 'edge',
        deployment: 'demo',
        stateDir: join(options.dataDir, 'agent-state'),
        afterDelivery: 'delete',
        ...(options.logLevel ? { logLevel: options.logLevel } : {}),
        ...(options.metricsPort === undefined ? {} : { metricsPort: options.metricsPort }),
      },
    });
    const agentLogger = logger.child({ part: 'agent' });
    agentMetrics = await startAgentMetrics(config, agentLogger);
    agent = await Agent.start(config, agentMetrics ? agentMetrics.metrics.agentOptions({ logger: agentLogger }) : { logger: agentLogger });
    agentMetrics?.metrics.started();
  } catch (err) {
    await agentMetrics?.server.close();
    await feeder.close();
    await server.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    server,
    feeder,
    agent,
    inbox,
    metricsUrls: agentMetrics && server.metricsUrl ? { agent: agentMetrics.server.url, service: server.metricsUrl } : undefined,
    close() {
      closing ??= (async () => {
        await feeder.close();
        await agent.close();
        await agentMetrics?.server.close();
        await server.close();
      })();
      return closing;
    },
  };
}
