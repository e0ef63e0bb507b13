/** Configuration of `edgewatch serve`: one zod schema (flags, EDGEWATCH_* variables, config file) and its resolution into organizations and deployments. */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { listenPort } from '../config/port.js';
import { EdgewatchError } from '../errors.js';
import { TASK_TYPES, type TaskType } from '../types.js';

const taskType = z.enum(TASK_TYPES as unknown as [TaskType, ...TaskType[]]);

/** `NAME[:TYPE]`, e.g. `demo` or `line-3:OBJECT_DETECTION` (type case-insensitive). */
const deploymentSpec = z
  .string()
  .regex(/^[^:\s][^:]*(:(classification|object_detection|segmentation))?$/i, 'NAME or NAME:TYPE with TYPE one of CLASSIFICATION, OBJECT_DETECTION, SEGMENTATION');

/** A deployment as written in a config file. */
export const deploymentEntrySchema = z
  .object({
    name: z.string().min(1).describe('Deployment name.'),
    type: taskType.default('CLASSIFICATION').describe('Deployment task type.'),
    labels: z.array(z.string()).optional().describe('Class names, index = class id.'),
  })
  .strict();

/** An organization with its deployments, as written in a config file. */
export const organizationEntrySchema = z
  .object({
    name: z.string().min(1),
    deployments: z.array(z.union([deploymentSpec, deploymentEntrySchema])).min(1),
  })
  .strict();

/** Every key of `edgewatch serve`, with its description and default. */
export const serveConfigSchema = z
  .object({
    config: z.string().optional().describe('JSON config file whose keys are the ones in this table; it may also hold `organizations: [{name, deployments: [{name, type, labels}]}]`.'),
    dataDir: z.string().min(1).default('.edgewatch-server').describe('Folder of the database, the datalake, the token and the JWT secret.'),
    database: z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/, 'a PostgreSQL URL: postgres://user[:password]@host[:port]/database')
      .optional()
      .describe('PostgreSQL URL (postgres://user@host:5432/db) to store predictions and statistics in, for several serve replicas sharing one database and one data folder; the password may be given in PGPASSWORD instead of the URL. Default: the SQLite file monitoring.db in the data folder. The model registry and reviews need SQLite.'),
    host: z.string().min(1).default('127.0.0.1').describe('Address to bind (127.0.0.1 keeps the service local).'),
    port: listenPort().default(8321).describe('Port to listen on; 0 picks a free one (the real URL is printed).'),
    token: z.string().min(8).optional().describe('API token clients must present; default: generated once, stored in the data folder (mode 0600) and printed once. Never logged.'),
    organization: z.string().min(1).default('edge').describe('Organization name.'),
    deployment: z
      .array(z.union([deploymentSpec, deploymentEntrySchema]))
      .min(1)
      .default(['demo:CLASSIFICATION'])
      .describe('Deployment(s) as NAME[:TYPE]; repeat the flag for several. In a config file an entry may be {name, type, labels}.'),
    organizations: z.array(organizationEntrySchema).optional().describe('Config file only: several organizations with their deployments (replaces organization and deployment).'),
    labels: z.array(z.string()).optional().describe('Class names (index = class id) for deployments that do not list their own; shown by the dashboard.'),
    maxBodyBytes: z.number().int().min(1024).default(32 * 1024 * 1024).describe('Largest request body accepted, in bytes (413 beyond).'),
    maxPixels: z.number().int().min(1).default(100_000_000).describe('Largest image accepted by monitor calls, in pixels (width × height; 422 beyond, checked from the header before any decode). The agent\'s --max-pixels has the same default.'),
    jwtTtlSeconds: z.number().int().min(1).max(7 * 24 * 3600).default(3600).describe('Lifetime of the JWTs returned by /api/auth/login.'),
    publicUrl: z.url({ protocol: /^https?$/ }).optional().describe('Base URL clients reach this service by (e.g. behind a reverse proxy); deployments advertise `oracle_host` as this URL + `/oracle`. Default: the URL the client used.'),
    retainDays: z.number().positive().optional().describe('Delete predictions whose capture time (`timestamp`) is older than this many days, with their datalake images; at start and every hour. Default: keep everything.'),
    retainGb: z.number().positive().optional().describe('Cap on the datalake (stored image bytes, 1 GB = 10^9 bytes): beyond it the predictions captured first are deleted with their images; at start and every hour. Default: no cap.'),
    minFreeGb: z.number().min(0).default(0.5).describe('Free space the data folder\'s disk must keep: below it, monitor calls are answered 503 with Retry-After (agents keep the prediction and retry) instead of failing a write. 0 turns the check off.'),
    shutdownTimeoutMs: z.number().int().min(0).default(5000).describe('On close: how long in-flight requests may take before connections are cut.'),
    metricsPort: listenPort()
      .optional()
      .describe('Also serve Prometheus /metrics, /healthz and /readyz on this port, unauthenticated (0 picks a free one). Default: off; /metrics on the main port answers with the API token either way.'),
    metricsHost: z.string().min(1).default('127.0.0.1').describe('Address the metrics port binds (127.0.0.1 keeps it local).'),
    maxModelFileBytes: z.number().int().min(1024).default(256 * 1024 * 1024).describe('Largest model file accepted by a presigned upload (`ModelVersion.store`, `edgewatch models push`), in bytes; one POST per file, no multipart upload.'),
  })
  .strict();

export type ServeConfigInput = z.input<typeof serveConfigSchema>;
/** Parsed, defaulted `serve` configuration. */
export type ServeConfig = z.output<typeof serveConfigSchema>;

/** A deployment the service answers for. */
export interface DeploymentInfo {
  id: string;
  name: string;
  type: TaskType;
  /** Class names by class id (may be empty). */
  labels: readonly string[];
  organizationId: string;
  /**
   * Model versions the deployment names now (`model_version_id` / `shadow_model_version_id` of the platform's
   * `GET /api/deployment/{id}`); null when none is registered. Mutable: a promotion changes them, and each stored
   * prediction is credited to the versions named when it arrives, as Picsellia does.
   */
  championVersionId?: string | null;
  shadowVersionId?: string | null;
}

/** An organization the service answers for. */
export interface OrganizationInfo {
  id: string;
  name: string;
  deployments: readonly DeploymentInfo[];
}

/** Stable UUID (version-5 layout, SHA-1 of a fixed namespace and `name`): the same names give the same ids across restarts. */
export function stableUuid(name: string): string {
  const hash = createHash('sha1').update('edgewatch:').update(name).digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function parseDeployment(entry: string | z.output<typeof deploymentEntrySchema>, organizationId: string, orgName: string, defaultLabels: readonly string[]): DeploymentInfo {
  let name: string;
  let type: TaskType;
  let labels: readonly string[] = defaultLabels;
  if (typeof entry === 'string') {
    const colon = entry.lastIndexOf(':');
    name = (colon === -1 ? entry : entry.slice(0, colon)).trim();
    type = (colon === -1 ? 'CLASSIFICATION' : entry.slice(colon + 1).toUpperCase()) as TaskType;
  } else {
    name = entry.name;
    type = entry.type;
    if (entry.labels) labels = entry.labels;
  }
  return { id: stableUuid(`deployment:${orgName}/${name}`), name, type, labels: Object.freeze([...labels]), organizationId };
}

/** Turns the configuration into the organizations and deployments served. Throws `EW_SERVER_CONFIG` on duplicate names. */
export function resolveOrganizations(config: ServeConfig): OrganizationInfo[] {
  const defaultLabels = config.labels ?? [];
  const entries = config.organizations ?? [{ name: config.organization, deployments: config.deployment }];
  const seen = new Set<string>();
  return entries.map((org) => {
    if (seen.has(org.name)) throw new EdgewatchError('EW_SERVER_CONFIG', `Organization "${org.name}" is listed twice.`, { details: { organization: org.name } });
    seen.add(org.name);
    const id = stableUuid(`organization:${org.name}`);
    const deployments = org.deployments.map((d) => parseDeployment(d, id, org.name, defaultLabels));
    const names = new Set<string>();
    for (const d of deployments) {
      if (names.has(d.name)) throw new EdgewatchError('EW_SERVER_CONFIG', `Deployment "${d.name}" is listed twice in organization "${org.name}".`, { details: { deployment: d.name } });
      names.add(d.name);
    }
    return { id, name: org.name, deployments };
  });
}
