/** The command line: usage, version, and dispatch to the command modules (loaded on demand, so each command loads only what it uses). */
import { EXIT } from './errors.js';
import { reportError, type Io } from './commands/io.js';
import { capYoungGeneration } from './commands/memory-settings.js';
import { AGENT_VERSION } from './version.js';

const USAGE = `edgewatch ${AGENT_VERSION}: watch folders of images, run a champion and a shadow TF.js model, monitor both predictions.

Usage:
  edgewatch run [options]           watch folders and monitor every image (--once: process what is there and exit)
  edgewatch serve [options]         embedded monitoring service (Picsellia protocol, SQLite, dashboard)
  edgewatch demo                    embedded service + demo image feeder + agent with the demo models (npm start)
  edgewatch outbox list|retry|purge inspect and replay dead-lettered predictions
  edgewatch models pull [name...]   fetch pretrained models into models/pretrained/
  edgewatch models list             list the models that can be pulled
  edgewatch models push DIR --model NAME [--deployment D --as champion|shadow]
                                    upload a TF.js model folder as a model version (Picsellia or serve)
  edgewatch reload                  make the running agent re-read its model folders and the deployment
  edgewatch <command> --help        options of a command

Exit codes: 0 ok, 1 failures (with --once: something failed or stayed undelivered; rejected files do not count), 2 configuration, model or start-up error, 130 forced stop.`;

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
        // Before the agent's modules load: loading them alone grows the young generation to 16 MB.
        capYoungGeneration(process.execArgv, io.env.NODE_OPTIONS);
        return await (await import('./commands/run.js')).runCommand(rest, io);
      case 'serve':
        return await (await import('./commands/serve.js')).serveCommand(rest, io);
      case 'demo':
        capYoungGeneration(process.execArgv, io.env.NODE_OPTIONS);
        return await (await import('./commands/demo.js')).demoCommand(rest, io);
      case 'outbox':
        return await (await import('./commands/outbox.js')).outboxCommand(rest, io);
      case 'models':
        return await (await import('./commands/models.js')).modelsCommand(rest, io);
      case 'reload':
        return await (await import('./commands/reload.js')).reloadCommand(rest, io);
      default:
        io.err.write(`edgewatch: EW_USAGE: unknown command "${command}". Commands: run, serve, demo, outbox, models, reload. See edgewatch --help.\n`);
        return EXIT.CONFIG;
    }
  } catch (err) {
    return reportError(err, io);
  }
}

export type { Io };
