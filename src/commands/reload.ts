/** `edgewatch reload`: asks the agent running on a state folder to re-read its model folders and the deployment (SIGHUP through its pid file). */
import { z } from 'zod';
import { helpText, loadConfig } from '../config/load.js';
import { EXIT } from '../errors.js';
import { signalReload } from '../pipeline/pid-file.js';
import { wantsHelp, type Io } from './io.js';

/** Options of `edgewatch reload`. */
export const reloadConfigSchema = z
  .object({
    stateDir: z.string().min(1).default('.edgewatch').describe('State folder of the running agent (its `--state-dir`).'),
  })
  .strict();

const USAGE = 'edgewatch reload [options]\n  Make the agent running on --state-dir re-read its model folders and the deployment; changed models are loaded and swapped in without a restart (same as kill -HUP <pid>).';

/** Runs `edgewatch reload <argv…>`: 0 when the agent was signalled; EW_RELOAD_NO_AGENT (exit 2) otherwise. */
export async function reloadCommand(argv: string[], io: Io): Promise<number> {
  if (wantsHelp(argv)) {
    io.out.write(`${USAGE}\n\nOptions (flag, environment variable, default):\n${helpText(reloadConfigSchema)}\n`);
    return EXIT.OK;
  }
  const { config } = loadConfig(reloadConfigSchema, { argv, env: io.env });
  const pid = await signalReload(config.stateDir);
  io.out.write(`edgewatch: asked the agent (pid ${pid}) to re-read its models\n`);
  return EXIT.OK;
}
