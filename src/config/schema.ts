/** The agent's configuration schema: the single source of truth for flags, EDGEWATCH_* variables, the config file and the README table. */
import { z } from 'zod';
import { parseSamplePolicy } from '../sample/policy.js';
import { listenPort } from './port.js';

/** One watched folder; `source` and `tags` travel with every prediction made from it. */
export const watchFolderSchema = z
  .object({
    path: z.string().min(1).describe('Folder to watch.'),
    source: z.string().min(1).optional().describe('Datalake source sent with its predictions (default: the top-level source).'),
    tags: z.array(z.string().min(1)).optional().describe('Tags sent with its predictions (default: the top-level tags).'),
    recursive: z.boolean().optional().describe('Also watch sub-folders (default: the top-level recursive).'),
  })
  .strict();
export type WatchFolderInput = z.infer<typeof watchFolderSchema>;

const extension = z
  .string()
  .regex(/^\.?[a-z0-9]+$/i, 'a file extension such as .jpg')
  .transform((s) => (s.startsWith('.') ? s : `.${s}`).toLowerCase());

/** Every key of the `run` configuration, with its description and default. */
export const agentConfigSchema = z
  .object({
    config: z.string().optional().describe('JSON config file whose keys are the ones in this table (flags and environment override it).'),
    watch: z
      .array(z.union([z.string().min(1), watchFolderSchema]))
      .min(1, 'at least one folder to watch')
      .describe('Folder(s) to watch; repeat the flag for several. In a config file each entry may be {path, source, tags, recursive}.'),
    champion: z.string().min(1).describe('Champion model folder (TF.js model.json + shards + manifest), or `deployment`: the model version the deployment names as champion, downloaded and followed.'),
    shadow: z.string().min(1).optional().describe('Shadow model folder, or `deployment`: the deployment\'s shadow model version (none while it has none); runs on every image beside the champion.'),
    modelFileName: z.string().min(1).default('model-tfjs').describe('With `deployment` models: name of the model version\'s file holding the TF.js model folder as one zip.'),
    modelPollS: z.number().min(0.1).max(86_400).default(30).describe('With `deployment` models: how often the deployment is read again to follow a promotion, seconds.'),
    host: z.url({ protocol: /^https?$/ }).default('https://app.picsellia.com').describe('Platform URL (Picsellia, or an embedded `edgewatch serve`).'),
    apiToken: z.string().min(1).describe('Platform API token (also read from PICSELLIA_API_TOKEN). Never logged.'),
    organization: z.string().min(1).optional().describe('Organization name (looked up on the platform).'),
    organizationId: z.uuid().optional().describe('Organization id (skips the name look-up).'),
    deployment: z.string().min(1).describe('Deployment name on the platform.'),
    source: z.string().min(1).default('edgewatch').describe('Default datalake source of predictions.'),
    tags: z.array(z.string().min(1)).default([]).describe('Default tags on predictions; repeat the flag for several.'),
    recursive: z.boolean().default(false).describe('Watch sub-folders too.'),
    followSymlinks: z
      .boolean()
      .default(false)
      .describe('Read symbolic links to files found in watched folders (links to folders are never entered). Off: links are skipped, so whoever can write to a watched folder cannot make the agent read and upload a file from elsewhere on the box.'),
    extensions: z
      .array(extension)
      .default(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif', '.avif'])
      .describe('File extensions picked up (case-insensitive).'),
    concurrency: z.number().int().min(1).max(64).default(4).describe('Images in flight between watcher and outbox (bounded queue).'),
    topK: z.number().int().min(1).max(100).default(1).describe('Classes reported per classification prediction.'),
    workers: z.number().int().min(0).max(64).default(0).describe('Model hosts (worker threads), each holding the champion and the shadow; a champion job interrupts a running shadow prediction between two kernels. 0 = one per CPU core, kept only where more than one pays; 1 = one host (the least memory). The tensorflow backend always uses one host holding both models.'),
    shadowWorkers: z
      .number()
      .int()
      .min(1)
      .max(64)
      .optional()
      .describe('How many of the hosts also hold the shadow (default: all of them); fewer saves the shadow\'s weights and activations per host, and the shadow then only gets those hosts\' cores.'),
    shadowMaxLag: z
      .string()
      .regex(/^(\d+|\d+(\.\d+)?(ms|s|m|h))$/, 'a number of images (e.g. 500) or a duration (e.g. 90s, 10m, 1h)')
      .default('1000')
      .describe(
        'How far the shadow may fall behind the champion: a number of images waiting for their shadow (e.g. 500) or a duration (e.g. 10m). Beyond it shadow work is shed, never the champion\'s.',
      ),
    backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto').describe('TF.js backend: auto picks tfjs-node if installed, else wasm, else cpu.'),
    stateDir: z.string().min(1).default('.edgewatch').describe('Folder of the ledger/outbox SQLite database.'),
    rejectedDir: z.string().min(1).optional().describe('Where bad files are moved (default: `rejected/` inside their watched folder).'),
    afterDelivery: z.enum(['keep', 'move', 'delete']).default('keep').describe('What to do with an image once its prediction is delivered.'),
    processedDir: z.string().min(1).optional().describe('Destination of `afterDelivery: move` (default: `processed/` inside the watched folder).'),
    duplicates: z.enum(['skip', 'monitor']).default('skip').describe('Same bytes seen again under another name: skip it or monitor it again.'),
    stableMs: z.number().int().min(0).max(600_000).default(300).describe('A file that is not a complete image on first sight is read again once its size and mtime stay unchanged this long.'),
    pollMs: z
      .number()
      .int()
      .min(0)
      .max(3_600_000)
      .default(0)
      .describe('0: find new files through file-system events. N > 0: scan the folders every N ms instead, for network shares (NFS, SMB) where files written by other machines raise no event.'),
    eager: z.boolean().default(true).describe('Read a file as soon as it appears and accept it if it decodes completely; --eager false waits stableMs for every file.'),
    maxPixels: z.number().int().min(1).default(100_000_000).describe('Largest image accepted, in pixels (decompression-bomb guard).'),
    maxFileBytes: z.number().int().min(1).default(64 * 1024 * 1024).describe('Largest file accepted, in bytes.'),
    requestTimeoutMs: z.number().int().min(100).default(30_000).describe('Timeout of every HTTP request.'),
    sendConcurrency: z.number().int().min(1).max(32).default(4).describe('Monitor requests in flight at once.'),
    retryBaseMs: z.number().int().min(1).default(500).describe('First retry delay of a failed send; doubles up to retryMaxMs, with jitter.'),
    retryMaxMs: z.number().int().min(1).default(60_000).describe('Largest retry delay.'),
    outboxMaxEntries: z.number().int().min(1).default(10_000).describe('Outbox cap in entries; when full, new files wait in the folder.'),
    outboxMaxBytes: z.number().int().min(1).default(2 * 1024 * 1024 * 1024).describe('Outbox cap in bytes; when full, new files wait in the folder.'),
    once: z.boolean().default(false).describe('Process the files present, wait for delivery, print a summary and exit.'),
    onceTimeoutMs: z.number().int().min(1).default(300_000).describe('With --once: give up waiting for delivery after this long (undelivered entries stay queued).'),
    shutdownTimeoutMs: z.number().int().min(0).default(10_000).describe('On SIGINT/SIGTERM: how long in-flight images may take to finish.'),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info').describe('Minimum level of the log lines written to stderr.'),
    logFormat: z.enum(['pretty', 'json']).default('pretty').describe('Log format: one readable line per event, or JSON lines.'),
    metricsPort: listenPort()
      .optional()
      .describe('Serve Prometheus /metrics, /healthz and /readyz on this port (0 picks a free one, printed in the log). Unauthenticated: keep --metrics-host local or firewalled. Default: off.'),
    metricsHost: z.string().min(1).default('127.0.0.1').describe('Address the metrics port binds (127.0.0.1 keeps it local; 0.0.0.0 for a scraper on another machine or in a container).'),
    sample: z
      .string()
      .superRefine((text, ctx) => {
        const parsed = parseSamplePolicy(text);
        if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: parsed.problem });
      })
      .optional()
      .describe(
        'What is sent to the monitoring service (every image is still predicted and written to the sinks): comma-separated rate=R, disagreement (champion and shadow top classes differ: always), class:NAME=R (by champion top class), cap=N (per minute); see README "Sampling". Default: everything.',
      ),
    stripMetadata: z.enum(['gps', 'all', 'none']).default('gps').describe('Metadata removed from the uploaded image (lossless): GPS tags, all metadata but orientation, or none.'),
    sinkSidecar: z.string().min(1).optional().describe('Sink: each champion prediction as a JSON file in this folder (`<image name>.<id>.json`), or `beside`: `<image>.json` next to the image (afterDelivery keep only).'),
    sinkJsonl: z.string().min(1).optional().describe('Sink: each champion prediction appended as one JSON line to this file, rotated by size.'),
    sinkJsonlMaxBytes: z.number().int().min(1024).default(64 * 1024 * 1024).describe('JSONL sink: size at which the file is rotated (`<file>.1` … `<file>.N`).'),
    sinkJsonlMaxFiles: z.number().int().min(1).max(100).default(5).describe('JSONL sink: rotated files kept besides the current one (the oldest is deleted).'),
    sinkWebhook: z.url({ protocol: /^https?$/ }).optional().describe('Sink: each champion prediction POSTed as JSON to this URL (header Idempotency-Key: the image id).'),
    sinkMqtt: z.url({ protocol: /^(mqtts?|wss?)$/ }).optional().describe('Sink: each champion prediction published to this MQTT broker, topic edgewatch/<deployment>/predictions, QoS 1.'),
    sinkMaxPending: z.number().int().min(1).default(10_000).describe('Records waiting per sink; beyond it the oldest are dropped (EW_SINK_BACKLOG, counted), never monitoring\'s.'),
    sinkMaxAttempts: z.number().int().min(1).default(10).describe('Failed deliveries of one record to a sink before it goes to that sink\'s dead letters (EW_SINK_DEAD).'),
  })
  .strict()
  .refine((c) => !(c.organization && c.organizationId), { message: 'give organization or organizationId, not both', path: ['organizationId'] })
  .refine((c) => !(c.sinkSidecar === 'beside' && c.afterDelivery !== 'keep'), {
    message: 'a sidecar beside the image would be left behind when the image is moved or deleted: give a results folder, or afterDelivery keep',
    path: ['sinkSidecar'],
  });

/** `shadowMaxLag` as a count of images or a duration in milliseconds. */
export function parseShadowLag(value: string): { images?: number; ms?: number } {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value); // the schema refused a fraction without a unit
  if (!m) return {};
  const n = Number(m[1]);
  if (m[2] === undefined) return { images: Math.floor(n) };
  return { ms: n * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'] };
}

export type AgentConfigInput = z.input<typeof agentConfigSchema>;
/** Parsed, defaulted configuration; frozen by `loadConfig`. */
export type AgentConfig = z.output<typeof agentConfigSchema>;

/** A watched folder after defaults are applied. */
export interface WatchFolder {
  path: string;
  source: string;
  tags: string[];
  recursive: boolean;
  /** Symbolic links to files are candidates (the top-level followSymlinks); absent or false: they are skipped. */
  followSymlinks?: boolean;
}

/** Applies the top-level defaults to each watched folder. */
export function watchFolders(config: AgentConfig): WatchFolder[] {
  return config.watch.map((w) =>
    typeof w === 'string'
      ? { path: w, source: config.source, tags: [...config.tags], recursive: config.recursive, followSymlinks: config.followSymlinks }
      : { path: w.path, source: w.source ?? config.source, tags: [...(w.tags ?? config.tags)], recursive: w.recursive ?? config.recursive, followSymlinks: config.followSymlinks },
  );
}

/** Keys whose value is a secret: never printed, never logged. */
export const SECRET_KEYS = new Set(['apiToken', 'token']);

/** Environment variables read besides EDGEWATCH_<KEY>. */
export const ENV_ALIASES: Record<string, string[]> = { apiToken: ['PICSELLIA_API_TOKEN'] };
