/** Builds the monitoring client for the configured deployment and finds the deployment (platform, cached copy, or in the background). */
import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { TaskType } from '../types.js';
import { AGENT_VERSION } from '../version.js';
import { DeploymentResolver, type TargetCache } from './deployment.js';
import { PicselliaClient, type MonitorTarget } from './picsellia-client.js';

export interface StartMonitoringOptions {
  /** The models' task: the deployment must be of this type. */
  task: TaskType;
  /** Where the resolved deployment is kept for offline starts. */
  cache: TargetCache;
  deploymentKey: string;
  /** Aborts every request (the agent's root signal). */
  signal: AbortSignal;
  logger: Logger;
  onTarget: (target: MonitorTarget) => void;
}

/** The client and the resolver; throws what the user must fix (see `DeploymentResolver.start`), after closing the client. */
export async function startMonitoring(config: AgentConfig, o: StartMonitoringOptions): Promise<{ client: PicselliaClient; resolver: DeploymentResolver }> {
  const client = new PicselliaClient({
    host: config.host,
    apiToken: config.apiToken,
    organization: config.organization,
    organizationId: config.organizationId,
    deployment: config.deployment,
    requestTimeoutMs: config.requestTimeoutMs,
    userAgent: `edgewatch/${AGENT_VERSION}`,
    signal: o.signal,
    logger: o.logger,
  });
  const resolver = new DeploymentResolver({
    client,
    task: o.task,
    cache: o.cache,
    deploymentKey: o.deploymentKey,
    retryBaseMs: config.retryBaseMs,
    retryMaxMs: config.retryMaxMs,
    logger: o.logger,
    onTarget: o.onTarget,
  });
  try {
    await resolver.start();
  } catch (err) {
    resolver.close();
    await client.close();
    throw err;
  }
  return { client, resolver };
}
