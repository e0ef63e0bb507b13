/** `edgewatch serve`: the embedded monitoring service on its own. */
import { helpText, loadConfig } from '../config/load.js';
import { EXIT } from '../errors.js';
import { createLogger } from '../log.js';
import { serveConfigSchema } from '../server/config.js';
import { startServer } from '../server/index.js';
import { onSignals, wantsHelp, type Io } from './io.js';

/** Runs `edgewatch serve <argv…>` until the first SIGINT/SIGTERM has closed the service; resolves to the exit code. */
export async function serveCommand(argv: string[], io: Io): Promise<number> {
  if (wantsHelp(argv)) {
    io.out.write(`edgewatch serve [options]\n\nOptions (flag, environment variable, default):\n${helpText(serveConfigSchema)}\n`);
    return EXIT.OK;
  }
  const { config } = loadConfig(serveConfigSchema, { argv, env: io.env });
  const logger = createLogger({ level: 'info', format: 'pretty', destination: io.err, name: 'serve' });
  const server = await startServer(config, { logger });
  io.out.write(`edgewatch serve: listening on ${server.url}\nedgewatch serve: dashboard ${server.dashboardUrl}\n`);
  if (server.metricsUrl) io.out.write(`edgewatch serve: metrics ${server.metricsUrl}/metrics, health ${server.metricsUrl}/readyz\n`);
  if (server.tokenCreated) io.out.write(`edgewatch serve: API token created (shown once, stored in ${config.dataDir}): ${server.token}\n`);
  await new Promise<void>((resolve) => onSignals(io, () => server.close().then(resolve)));
  return EXIT.OK;
}
