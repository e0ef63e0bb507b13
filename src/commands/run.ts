/** `edgewatch run`: watches folders and monitors every image until stopped, or with `--once` processes what is there and exits. */
import { agentConfigSchema, ENV_ALIASES } from '../config/schema.js';
import { helpText, loadConfig } from '../config/load.js';
import { EXIT } from '../errors.js';
import { createLogger } from '../log.js';
import { AGENT_VERSION } from '../version.js';
import type { Agent, RunSummary } from '../agent.js';
import type { AgentMetricsPort } from '../metrics/start-agent-metrics.js';
import { onSignals, wantsHelp, type Io } from './io.js';
import { memoryHint } from './memory-settings.js';

/**
 * Runs `edgewatch run <argv…>` and resolves to the exit code: with `--once`, 1 when something failed,
 * stayed undelivered or a stop was requested (rejected bad files do not count); 0 otherwise.
 * Configuration and start-up errors are thrown for the CLI to report.
 */
export async function runCommand(argv: string[], io: Io): Promise<number> {
  if (wantsHelp(argv)) {
    io.out.write(`edgewatch run [options]\n\nOptions (flag, environment variable, default):\n${helpText(agentConfigSchema, undefined, ENV_ALIASES)}\n`);
    return EXIT.OK;
  }
  const { config } = loadConfig(agentConfigSchema, { argv, env: io.env, envAliases: ENV_ALIASES });
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, destination: io.err });
  // Signals are handled from here on, start-up included: a stop requested while the models load
  // is honoured as soon as the agent exists (a second signal still exits at once).
  const state: { agent?: Agent; stopRequested: boolean } = { stopRequested: false };
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  const removeHandlers = onSignals(io, async () => {
    state.stopRequested = true;
    if (state.agent) await state.agent.close();
    resolveStopped();
  });
  // SIGHUP (or `edgewatch reload`): re-read the model folders and the deployment, swap in what changed.
  const onHangUp = () => {
    if (!state.agent) return;
    logger.info('SIGHUP: re-reading the models');
    void state.agent.reload();
  };
  process.on('SIGHUP', onHangUp);
  logger.info({ version: AGENT_VERSION, pid: process.pid }, 'starting');
  const hint = memoryHint(config.workers, io.env);
  if (hint) logger.info(hint);
  let metricsPort: AgentMetricsPort | undefined;
  try {
    // Listening before the models load: /healthz answers and /readyz says "starting" meanwhile.
    metricsPort = await (await import('../metrics/start-agent-metrics.js')).startAgentMetrics(config, logger);
    // Loaded here, not at the top: TF.js, sharp and SQLite are only needed once the agent starts.
    const { Agent: AgentClass } = await import('../agent.js');
    const options = { logger, progressStream: io.err };
    const agent = await AgentClass.start(config, metricsPort ? metricsPort.metrics.agentOptions(options) : options);
    state.agent = agent;
    metricsPort?.metrics.started();
    if (state.stopRequested) {
      await agent.close();
      resolveStopped();
    }
    if (config.once) {
      const summary = await agent.runOnce();
      await agent.close();
      io.out.write(
        `edgewatch: ${summary.monitored} monitored, ${summary.alreadyMonitored} already monitored, ${summary.rejected} rejected, ${summary.failed} failed, ${summary.skipped} skipped, ${summary.pending} pending${sampledOut(config.sample, summary)}${shadowCounts(config.shadow, summary)}\n`,
      );
      return summary.failed > 0 || summary.pending > 0 || state.stopRequested ? EXIT.FAILURES : EXIT.OK;
    }
    await stopped;
    const s = agent.summary();
    io.out.write(`edgewatch: stopped; ${s.monitored} monitored, ${s.rejected} rejected, ${s.failed} failed, ${s.pending} pending in the outbox${shadowCounts(config.shadow, s)}\n`);
    return EXIT.OK;
  } finally {
    removeHandlers();
    process.off('SIGHUP', onHangUp);
    await metricsPort?.server.close();
  }
}

/** With `--sample`: how many images were predicted but not sent to monitoring. */
function sampledOut(sample: string | undefined, s: RunSummary): string {
  return sample === undefined ? '' : `, ${s.sampledOut} sampled out`;
}

/** The shadow's part of the summary line, when there is a shadow: how many of its predictions went out late or were shed. */
function shadowCounts(shadow: string | undefined, s: RunSummary): string {
  return shadow === undefined ? '' : `; shadow: ${s.shadowDeferred} deferred, ${s.shadowLate} sent late, ${s.shadowShed} shed`;
}
