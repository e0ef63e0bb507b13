/** The command line: parses, loads configuration and calls the wiring. Nothing else reads process.env. */
import { agentConfigSchema, ENV_ALIASES } from './config/schema.js';
import { helpText, loadConfig } from './config/load.js';
import { EXIT, isEdgewatchError } from './errors.js';
import { createLogger } from './log.js';
import { AGENT_VERSION } from './version.js';
import type { Agent } from './agent.js';

type Io = { out: NodeJS.WritableStream; err: NodeJS.WritableStream; env: NodeJS.ProcessEnv };

const USAGE = `edgewatch ${AGENT_VERSION}: watch folders of images, run a champion and a shadow TF.js model, monitor both predictions.

Usage:
  edgewatch run [options]           watch folders and monitor every image (--once: process what is there and exit)
  edgewatch serve [options]         embedded monitoring service (Picsellia protocol, SQLite, dashboard)
  edgewatch demo                    embedded service + demo image feeder + agent with the demo models (npm start)
  edgewatch outbox list|retry|purge inspect and replay dead-lettered predictions
  edgewatch models pull [name...]   fetch pretrained models into models/pretrained/
  edgewatch models list             list the models that can be pulled
  edgewatch <command> --help        options of a command

Exit codes: 0 ok, 1 failures (with --once: something failed or stayed undelivered), 2 configuration, model or start-up error, 130 forced stop.`;

/** Writes an error the way the user needs it: code, message, and for invalid configuration one line per problem. */
export function reportError(err: unknown, io: Io): number {
  if (isEdgewatchError(err)) {
    io.err.write(`edgewatch: ${err.code}: ${err.message}\n`);
    // Errors that reach this point happen before the agent runs: the user fixes them and re-runs.
    return EXIT.CONFIG;
  }
  io.err.write(`edgewatch: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  return EXIT.FAILURES;
}

/** Calls `stop` on the first SIGINT/SIGTERM; a second one exits at once. Returns a function removing the handlers. */
function onSignals(io: Io, stop: () => Promise<void>): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count += 1;
    if (count > 1) {
      io.err.write(`edgewatch: second ${signal}: exiting now (the outbox keeps everything not yet sent)\n`);
      process.exit(EXIT.FORCED);
    }
    io.err.write(`edgewatch: ${signal}: finishing in-flight images, press Ctrl+C again to force\n`);
    void stop();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

async function runCommand(argv: string[], io: Io): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
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
  logger.info({ version: AGENT_VERSION, pid: process.pid }, 'starting');
  try {
    const { Agent: AgentClass } = await import('./agent.js');
    const agent = await AgentClass.start(config, { logger, progressStream: io.err });
    state.agent = agent;
    if (state.stopRequested) {
      await agent.close();
      resolveStopped();
    }
    if (config.once) {
      const summary = await agent.runOnce();
      await agent.close();
      io.out.write(
        `edgewatch: ${summary.monitored} monitored, ${summary.duplicates} already monitored, ${summary.rejected} rejected, ${summary.failed} failed, ${summary.skipped} skipped, ${summary.pending} pending\n`,
      );
      return summary.failed > 0 || summary.pending > 0 || state.stopRequested ? EXIT.FAILURES : EXIT.OK;
    }
    await stopped;
    const s = agent.summary();
    io.out.write(`edgewatch: stopped; ${s.monitored} monitored, ${s.rejected} rejected, ${s.failed} failed, ${s.pending} pending in the outbox\n`);
    return EXIT.OK;
  } finally {
    removeHandlers();
  }
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], io: Io = { out: process.stdout, err: process.stderr, env: process.env }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        io.out.write(`${USAGE}\n`);
        return command === undefined ? EXIT.CONFIG : EXIT.OK;
      case '--version':
      case '-v':
        io.out.write(`${AGENT_VERSION}\n`);
        return EXIT.OK;
      case 'run':
        return await runCommand(rest, io);
      case 'serve': {
        const { serveCommand } = await import('./commands/serve.js');
        return await serveCommand(rest, io, onSignals);
      }
      case 'demo': {
        const { demoCommand } = await import('./commands/demo.js');
        return await demoCommand(rest, io, onSignals);
      }
      case 'outbox': {
        const { outboxCommand } = await import('./commands/outbox.js');
        return await outboxCommand(rest, io);
      }
      case 'models': {
        const { modelsCommand } = await import('./models/command.js');
        return await modelsCommand(rest);
      }
      default:
        io.err.write(`edgewatch: EW_USAGE: unknown command "${command}". Commands: run, serve, demo, outbox, models. See edgewatch --help.\n`);
        return EXIT.CONFIG;
    }
  } catch (err) {
    return reportError(err, io);
  }
}

export type { Io };
