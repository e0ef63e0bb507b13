/** `edgewatch demo` (npm start): embedded monitoring service + demo image feeder + agent with the demo models, all local. */
import { z } from 'zod';
import { helpText, loadConfig } from '../config/load.js';
import { listenPort } from '../config/port.js';
import { EXIT } from '../errors.js';
import { createLogger } from '../log.js';
import { startDemo } from '../demo/start-demo.js';
import { onSignals, wantsHelp, type Io } from './io.js';

/** Options of `edgewatch demo`. */
export const demoConfigSchema = z
  .object({
    dataDir: z.string().min(1).default('demo').describe('Folder holding the demo inbox, the agent state and the service data.'),
    port: listenPort().default(8321).describe('Port of the embedded service (0 = any free port; a busy 8321 falls back to a free one).'),
    intervalMs: z.number().int().min(10).default(1000).describe('Milliseconds between two images dropped by the feeder.'),
    limit: z.number().int().min(1).optional().describe('Stop feeding after this many images (default: feed until stopped).'),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info').describe('Minimum level of the log lines written to stderr.'),
    metricsPort: z
      .number()
      .int()
      .min(0)
      .max(65534)
      .optional()
      .describe('Serve the agent\'s /metrics, /healthz and /readyz on this port (127.0.0.1) and the service\'s on the next one; 0 picks two free ports. Default: off.'),
  })
  .strict();

/** Runs `edgewatch demo <argv…>` until the first SIGINT/SIGTERM has closed all three parts; resolves to the exit code. */
export async function demoCommand(argv: string[], io: Io): Promise<number> {
  if (wantsHelp(argv)) {
    io.out.write(`edgewatch demo [options]\n\nOptions (flag, environment variable, default):\n${helpText(demoConfigSchema, 'EDGEWATCH_DEMO_')}\n`);
    return EXIT.OK;
  }
  const { config: demo } = loadConfig(demoConfigSchema, { argv, env: io.env, envPrefix: 'EDGEWATCH_DEMO_' });
  const logger = createLogger({ level: demo.logLevel, format: 'pretty', destination: io.err });
  const running = await startDemo({ dataDir: demo.dataDir, port: demo.port, intervalMs: demo.intervalMs, limit: demo.limit, logLevel: demo.logLevel, logger, metricsPort: demo.metricsPort });
  const { server, feeder, agent, inbox } = running;
  const metrics = running.metricsUrls ? `  Metrics: agent ${running.metricsUrls.agent}/metrics, service ${running.metricsUrls.service}/metrics (and /readyz)\n` : '';
  io.out.write(`\n  edgewatch demo is running.\n  Dashboard: ${server.dashboardUrl}\n${metrics}  Images land in ${inbox} every ${demo.intervalMs} ms; press Ctrl+C to stop.\n\n`);
  const stopping = new Promise<void>((resolve) =>
    onSignals(io, async () => {
      await running.close();
      resolve();
    }),
  );
  await stopping;
  const s = agent.summary();
  io.out.write(`edgewatch demo: stopped after ${feeder.written} images; ${s.monitored} monitored, ${s.rejected} rejected, ${s.failed} failed, ${s.pending} pending\n`);
  return EXIT.OK;
}
