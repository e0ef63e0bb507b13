/** `edgewatch demo` (npm start): embedded monitoring service + demo image feeder + agent with the demo models, all local. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { z } from 'zod';
import type { Io } from '../cli.js';
import { agentConfigSchema } from '../config/schema.js';
import { helpText, loadConfig } from '../config/load.js';
import { EXIT, isEdgewatchError } from '../errors.js';
import { createLogger } from '../log.js';
import { serveConfigSchema } from '../server/config.js';
import { startServer } from '../server/index.js';
import { startFeeder } from '../demo/feeder.js';
import { SHAPE_LABELS } from '../demo/shapes.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Options of `edgewatch demo`. */
export const demoConfigSchema = z
  .object({
    dataDir: z.string().min(1).default('demo').describe('Folder holding the demo inbox, the agent state and the service data.'),
    port: z.number().int().min(0).max(65535).default(8321).describe('Port of the embedded service (0 = any free port; a busy 8321 falls back to a free one).'),
    intervalMs: z.number().int().min(10).default(1000).describe('Milliseconds between two images dropped by the feeder.'),
    limit: z.number().int().min(1).optional().describe('Stop feeding after this many images (default: feed until stopped).'),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info').describe('Minimum level of the log lines written to stderr.'),
  })
  .strict();

type OnSignals = (io: Io, stop: () => Promise<void>) => void;

export async function demoCommand(argv: string[], io: Io, onSignals: OnSignals): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out.write(`edgewatch demo [options]\n\nOptions (flag, environment variable, default):\n${helpText(demoConfigSchema, 'EDGEWATCH_DEMO_')}\n`);
    return EXIT.OK;
  }
  const { config: demo } = loadConfig(demoConfigSchema, { argv, env: io.env, envPrefix: 'EDGEWATCH_DEMO_' });
  const logger = createLogger({ level: demo.logLevel, format: 'pretty', destination: io.err });
  const serveConfig = serveConfigSchema.parse({
    dataDir: join(demo.dataDir, 'service'),
    port: demo.port,
    organization: 'edge',
    deployment: [{ name: 'demo', type: 'CLASSIFICATION', labels: [...SHAPE_LABELS] }],
  });
  let server;
  try {
    server = await startServer(serveConfig, { logger: logger.child({ part: 'service' }) });
  } catch (err) {
    if (!isEdgewatchError(err, 'EW_SERVER_LISTEN') || demo.port === 0) throw err;
    logger.warn(`port ${demo.port} is busy; using a free port instead`);
    server = await startServer({ ...serveConfig, port: 0 }, { logger: logger.child({ part: 'service' }) });
  }
  const inbox = join(demo.dataDir, 'inbox');
  const feeder = await startFeeder({ folder: inbox, intervalMs: demo.intervalMs, limit: demo.limit });
  let agent;
  try {
    const { Agent } = await import('../agent.js');
    const { config } = loadConfig(agentConfigSchema, {
      overrides: {
        watch: [{ path: inbox, source: 'demo-feeder', tags: ['demo'] }],
        champion: join(repoRoot, 'models', 'demo-champion'),
        shadow: join(repoRoot, 'models', 'demo-shadow'),
        host: server.url,
        apiToken: server.token,
        organization: 'edge',
        deployment: 'demo',
        stateDir: join(demo.dataDir, 'agent-state'),
        afterDelivery: 'delete',
        logLevel: demo.logLevel,
      },
    });
    agent = await Agent.start(config, { logger: logger.child({ part: 'agent' }) });
  } catch (err) {
    await feeder.close();
    await server.close();
    throw err;
  }
  io.out.write(`\n  edgewatch demo is running.\n  Dashboard: ${server.dashboardUrl ?? server.url}\n  Images land in ${inbox} every ${demo.intervalMs} ms; press Ctrl+C to stop.\n\n`);
  const stopping = new Promise<void>((resolve) =>
    onSignals(io, async () => {
      await feeder.close();
      await agent.close();
      await server.close();
      resolve();
    }),
  );
  await stopping;
  const s = agent.summary();
  io.out.write(`edgewatch demo: stopped after ${feeder.written} images; ${s.monitored} monitored, ${s.rejected} rejected, ${s.failed} failed, ${s.pending} pending\n`);
  return EXIT.OK;
}
