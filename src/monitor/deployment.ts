/** Finds the deployment predictions go to: from the platform, else from the copy cached by the last run, else in the background until the platform answers. */
import { z } from 'zod';
import { EdgewatchError, isEdgewatchError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { TaskType } from '../types.js';
import { backoffDelayMs } from './backoff.js';
import type { MonitorTarget, PicselliaClient } from './picsellia-client.js';

/** Errors that mean "try later"; anything else is a configuration problem on the platform side. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set(['EW_MONITOR_CONNECT', 'EW_MONITOR_TIMEOUT', 'EW_MONITOR_HTTP', 'EW_MONITOR_PROTOCOL']);

/** The cached copy is read back through this schema: a row written by another version or damaged on disk is refused with a code. */
const cachedTargetSchema = z.object({
  organizationId: z.string(),
  organizationName: z.string(),
  deploymentId: z.string(),
  deploymentName: z.string(),
  type: z.string(),
  oracleHost: z.string(),
  resolvedAt: z.number(),
}) satisfies z.ZodType<MonitorTarget>;

/** Where the cached deployment is kept (the state database's `meta` table in the agent). */
export interface TargetCache {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
}

export interface DeploymentResolverOptions {
  client: Pick<PicselliaClient, 'resolve' | 'useTarget'>;
  /** The models' task: a deployment of another type is refused (EW_MONITOR_TYPE_MISMATCH). */
  task: TaskType;
  cache: TargetCache;
  /** Names this host, organization and deployment in the cache (`deploymentKey` of the configuration). */
  deploymentKey: string;
  /** Background retries: capped exponential backoff with full jitter. */
  retryBaseMs: number;
  retryMaxMs: number;
  logger: Logger;
  /** Called each time a target becomes usable (e.g. to wake the sender). */
  onTarget?: (target: MonitorTarget) => void;
}

/**
 * Throws EW_MONITOR_TYPE_MISMATCH when `target.type` is not `task`: the SDK refuses to monitor a
 * prediction whose format differs from the deployment type, and so does the service.
 */
export function checkDeploymentType(target: Pick<MonitorTarget, 'type' | 'deploymentName'>, task: TaskType): void {
  if (target.type === task) return;
  throw new EdgewatchError(
    'EW_MONITOR_TYPE_MISMATCH',
    `Deployment "${target.deploymentName}" is of type ${target.type} but the models' task is ${task}: ` +
      `monitor with a ${task} deployment, or use models whose manifest task is ${target.type}.`,
    { details: { deploymentType: target.type, task } },
  );
}

/** Resolves the deployment once at start and, when the platform is unreachable, keeps trying until `close()`. */
export class DeploymentResolver {
  readonly #o: DeploymentResolverOptions;
  readonly #cacheKey: string;
  #target: MonitorTarget | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Code of the background failure last logged as an error (logged again only when it changes). */
  #failing: ErrorCode | 'unexpected' | undefined;

  constructor(options: DeploymentResolverOptions) {
    this.#o = options;
    this.#cacheKey = `target\n${options.deploymentKey}`;
  }

  /** The deployment in use, once known. */
  get target(): MonitorTarget | undefined {
    return this.#target;
  }

  /**
   * Asks the platform. When it cannot be reached, uses the deployment cached by the last run or,
   * with none, returns and keeps asking in the background (predictions are queued meanwhile).
   * Throws what the user must fix: a deployment that does not exist or does not fit the models,
   * a refused token, an unreadable cache (EW_STORE_CORRUPT).
   */
  async start(): Promise<void> {
    try {
      await this.#resolveNow();
    } catch (err) {
      if (!isEdgewatchError(err) || !TRANSIENT.has(err.code)) throw err;
      const cached = this.#readCache();
      if (cached) {
        this.#use(cached);
        this.#o.logger.warn({ code: err.code, deployment: cached.deploymentName }, `platform unreachable (${err.message}); using the deployment cached from the last run`);
      } else {
        this.#o.logger.warn({ code: err.code }, `platform unreachable (${err.message}); predictions are queued until it answers`);
        this.#schedule(1);
      }
    }
  }

  /** Stops the background retries. Idempotent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  async #resolveNow(): Promise<void> {
    const target = await this.#o.client.resolve();
    this.#use(target);
    try {
      this.#o.cache.set(this.#cacheKey, JSON.stringify(target));
    } catch (err) {
      this.#o.logger.warn({ code: isEdgewatchError(err) ? err.code : undefined }, `could not cache the deployment for offline starts: ${(err as Error).message}`);
    }
  }

  #use(target: MonitorTarget): void {
    checkDeploymentType(target, this.#o.task);
    this.#o.client.useTarget(target);
    this.#target = target;
    this.#o.onTarget?.(target);
  }

  #readCache(): MonitorTarget | undefined {
    const raw = this.#o.cache.get(this.#cacheKey);
    if (raw === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (cause) {
      throw corruptCache(cause);
    }
    const result = cachedTargetSchema.safeParse(parsed);
    if (!result.success) throw corruptCache(result.error);
    return result.data;
  }

  /**
   * Tries again after a backoff. A failure the user must fix on the platform (deployment missing,
   * token refused) is logged as an error when it first occurs and retried at the longest delay,
   * since it can be fixed there without restarting the agent.
   */
  #schedule(attempt: number): void {
    if (this.#closed) return;
    const { retryBaseMs, retryMaxMs, logger } = this.#o;
    this.#timer = setTimeout(() => {
      this.#resolveNow().then(
        () => {
          if (this.#failing !== undefined) logger.info({ deployment: this.#target?.deploymentName }, 'the deployment can be used now');
          this.#failing = undefined;
        },
        (err: unknown) => {
          const code = isEdgewatchError(err) ? err.code : undefined;
          if (code !== undefined && TRANSIENT.has(code)) {
            logger.warn({ code, attempt }, `platform still unreachable: ${(err as Error).message}`);
            this.#schedule(attempt + 1);
            return;
          }
          if ((code ?? 'unexpected') !== this.#failing) logger.error({ code, err: code ? undefined : err }, `cannot use the deployment: ${(err as Error).message}`);
          this.#failing = code ?? 'unexpected';
          this.#schedule(Number.MAX_SAFE_INTEGER);
        },
      );
    }, backoffDelayMs(attempt, retryBaseMs, retryMaxMs));
  }
}

function corruptCache(cause: unknown): EdgewatchError {
  return new EdgewatchError(
    'EW_STORE_CORRUPT',
    'The deployment cached by the last run in the state database cannot be read back, and the platform is unreachable. Start once with the platform reachable (the cache is then rewritten), or use a new --state-dir.',
    { cause },
  );
}
