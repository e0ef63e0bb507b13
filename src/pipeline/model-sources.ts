/** Where the champion and shadow come from: a local folder, or (`deployment`) the model versions the deployment names, fetched into the state folder. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentConfig } from '../config/schema.js';
import { EdgewatchError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import type { Logger } from '../log.js';
import { fetchModelVersion } from '../models/version-cache.js';
import { ModelRegistryApi, type DeploymentModels } from '../monitor/model-registry-api.js';
import { AGENT_VERSION } from '../version.js';
import type { ModelOrigin } from './live-models.js';

/** The literal value of `--champion` / `--shadow` that means "the deployment's model version". */
export const FROM_DEPLOYMENT = 'deployment';

/** The pair to load. */
export interface WantedModels {
  champion: ModelOrigin;
  shadow: ModelOrigin | undefined;
}

/** True when either model follows the deployment. */
export function followsDeployment(config: Pick<AgentConfig, 'champion' | 'shadow'>): boolean {
  return config.champion === FROM_DEPLOYMENT || config.shadow === FROM_DEPLOYMENT;
}

/** Reads the models' sources; owns the registry client when a model comes from the deployment. */
export class ModelSources {
  readonly #config: AgentConfig;
  readonly #logger: Logger;
  readonly #registry: ModelRegistryApi | undefined;
  readonly #cacheDir: string;
  readonly #signal: AbortSignal | undefined;
  #deployment: { organizationId: string; deploymentId: string; type: string } | undefined;

  constructor(config: AgentConfig, logger: Logger, signal?: AbortSignal) {
    this.#config = config;
    this.#logger = logger;
    this.#cacheDir = join(config.stateDir, 'models');
    this.#signal = signal;
    this.#registry = followsDeployment(config)
      ? new ModelRegistryApi({ host: config.host, apiToken: config.apiToken, requestTimeoutMs: config.requestTimeoutMs, userAgent: `edgewatch/${AGENT_VERSION}`, signal, logger })
      : undefined;
  }

  /** True when a model follows the deployment (polling applies). */
  get followsDeployment(): boolean {
    return this.#registry !== undefined;
  }

  /** The versions the deployment names now (one platform call, after the deployment is found once). */
  async deploymentVersions(): Promise<DeploymentModels> {
    const registry = this.#registry as ModelRegistryApi;
    this.#deployment ??= await registry.findDeployment({ organization: this.#config.organization, organizationId: this.#config.organizationId, deployment: this.#config.deployment });
    return registry.deploymentModels(this.#deployment.deploymentId);
  }

  /**
   * The pair as configured now: folders as they are, deployment models fetched (from the cache
   * when already there) for `versions` (default: asked of the platform).
   */
  async wanted(versions?: DeploymentModels): Promise<WantedModels> {
    const { champion, shadow } = this.#config;
    const ids = this.#registry ? (versions ?? (await this.deploymentVersions())) : undefined;
    const resolve = async (source: string, versionId: string | null | undefined): Promise<ModelOrigin | undefined> => {
      if (source !== FROM_DEPLOYMENT) return { dir: source };
      if (!versionId) return undefined;
      const fetched = await fetchModelVersion({
        api: this.#registry as ModelRegistryApi,
        organizationId: (this.#deployment as { organizationId: string }).organizationId,
        versionId,
        fileName: this.#config.modelFileName,
        cacheDir: this.#cacheDir,
        deploymentType: (this.#deployment as { type: string }).type,
        timeoutMs: Math.max(this.#config.requestTimeoutMs, 120_000),
        signal: this.#signal,
      });
      this.#logger.info({ version: fetched.label, versionId, bytes: fetched.sizeBytes, sha256: fetched.sha256.slice(0, 12), cached: fetched.cached }, fetched.cached ? 'model version found in the cache' : 'model version downloaded');
      return { dir: fetched.dir, versionId };
    };
    const wanted = {
      champion: (await resolve(champion, ids?.championVersionId)) as ModelOrigin,
      shadow: shadow === undefined ? undefined : await resolve(shadow, ids?.shadowVersionId),
    };
    return wanted;
  }

  /** Remembers the pair in use, for a start while the platform cannot be reached. */
  async remember(models: WantedModels): Promise<void> {
    if (!this.#registry) return;
    try {
      await writeFileAtomic(join(this.#cacheDir, 'in-use.json'), `${JSON.stringify(models)}\n`);
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message }, 'could not record the models in use for offline starts');
    }
  }

  /** The pair recorded by the last run, if its folders are still there. */
  async lastUsed(): Promise<WantedModels | undefined> {
    try {
      const raw = JSON.parse(await readFile(join(this.#cacheDir, 'in-use.json'), 'utf8')) as WantedModels;
      if (typeof raw?.champion?.dir !== 'string') return undefined;
      await readFile(join(raw.champion.dir, 'model.json'));
      return { champion: raw.champion, shadow: raw.shadow ?? undefined };
    } catch {
      return undefined;
    }
  }

  /** Releases the registry client. Idempotent. */
  async close(): Promise<void> {
    await this.#registry?.close();
  }
}

/** Whether two pairs name the same models (same folders and versions). */
export function sameModels(a: WantedModels, b: WantedModels): boolean {
  const same = (x: ModelOrigin | undefined, y: ModelOrigin | undefined) => x?.dir === y?.dir && x?.versionId === y?.versionId;
  return same(a.champion, b.champion) && same(a.shadow, b.shadow);
}

/** The error a start without the platform and without a recorded pair gives. */
export function noModelsOffline(cause: unknown): EdgewatchError {
  return new EdgewatchError('EW_MODEL_DOWNLOAD', `The deployment's models cannot be fetched (${(cause as Error).message}) and no earlier run left them in the state folder: start once with the platform reachable.`, { cause });
}
