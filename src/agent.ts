/** The wiring module: builds every stage from one frozen configuration and owns their start and close order. */
import { mkdir, rename, unlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { watchFolders, type AgentConfig } from './config/schema.js';
import { EdgewatchError, isEdgewatchError, type ErrorCode } from './errors.js';
import { availableParallelism } from 'node:os';
import { ModelPool, type PooledModel } from './infer/index.js';
import { openStateDb, type StateDb } from './ledger/database.js';
import { Ledger } from './ledger/ledger.js';
import { silentLogger, type Logger } from './log.js';
import { PipelineMetrics } from './metrics.js';
import { backoffDelayMs, checkDeploymentType, PicselliaClient, type MonitorTarget } from './monitor/index.js';
import { Outbox, type OutboxEntry } from './outbox/outbox.js';
import { Sender } from './outbox/sender.js';
import { processedDirFor, processImage, rejectedDirFor, type ProcessContext, type ProcessOutcome } from './process-image.js';
import { BackfillProgress, countBacklog, startActivityLog } from './progress.js';
import { AGENT_VERSION } from './version.js';
import { FolderWatcher } from './watch/index.js';

/** Counts of one agent run. */
export interface RunSummary {
  monitored: number;
  duplicates: number;
  rejected: number;
  failed: number;
  skipped: number;
  pending: number;
  dead: number;
}

export interface AgentOptions {
  logger?: Logger;
  /** Called once per image outcome (tests, progress output). */
  onOutcome?: (outcome: ProcessOutcome, path: string) => void;
  /** Called once per outbox entry that leaves the outbox: acknowledged (201 or 409) or dead-lettered. */
  onSent?: (imageId: string, result: 'delivered' | 'duplicate' | 'dead') => void;
  /** Where the start-up backlog progress bar is drawn when it is a TTY (the CLI passes stderr); otherwise progress is logged. */
  progressStream?: NodeJS.WritableStream;
}

/** Errors that mean "try later" when resolving the deployment; anything else is a configuration problem. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set(['EW_MONITOR_CONNECT', 'EW_MONITOR_TIMEOUT', 'EW_MONITOR_HTTP', 'EW_MONITOR_PROTOCOL']);

/** A running agent. `close()` is idempotent and returns the same promise each time. */
export class Agent {
  readonly config: AgentConfig;
  readonly metrics = new PipelineMetrics();
  readonly logger: Logger;
  readonly #options: AgentOptions;
  #db: StateDb | undefined;
  #ledger: Ledger | undefined;
  #outbox: Outbox | undefined;
  #sender: Sender | undefined;
  #client: PicselliaClient | undefined;
  #watcher: FolderWatcher | undefined;
  #pool: ModelPool | undefined;
  #champion: PooledModel | undefined;
  #shadow: PooledModel | undefined;
  #target: MonitorTarget | undefined;
  #resolveTimer: NodeJS.Timeout | undefined;
  #loops: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  readonly #abort = new AbortController();
  readonly #counts = { monitored: 0, duplicates: 0, rejected: 0, failed: 0, skipped: 0 };
  #roomWaiters: (() => void)[] = [];
  #final: RunSummary | undefined;
  #progress: BackfillProgress | undefined;
  #stopActivity: (() => void) | undefined;
  #outcomes = 0;
  /** Image id → when its file was complete and the models' wall time, until delivery (for `metrics.addedMs`). */
  readonly #inPipeline = new Map<string, { seenAt: number; modelsMs: number }>();
  #fullLogged = false;
  /** performance.now() of the first EW_DISK_FULL of the current episode (undefined: the store works). */
  #storeFullSince: number | undefined;
  #storeFullDelayMs = 1_000;
  /** While the state disk is full: no loop takes a file until `over`. */
  #storePause: { over: Promise<void>; end: () => void } | undefined;

  private constructor(config: AgentConfig, options: AgentOptions) {
    this.config = config;
    this.#options = options;
    this.logger = options.logger ?? silentLogger();
  }

  /**
   * Starts an agent: opens the state database, loads and warms up the models, resolves the
   * deployment (or continues offline) and starts watching. Throws `EdgewatchError` for anything
   * the user must fix first (exit code 2 in the CLI).
   */
  static async start(config: AgentConfig, options: AgentOptions = {}): Promise<Agent> {
    const agent = new Agent(config, options);
    try {
      await agent.#start();
    } catch (err) {
      await agent.close();
      throw err;
    }
    return agent;
  }

  /** The deployment the agent sends to, once resolved. */
  get target(): MonitorTarget | undefined {
    return this.#target;
  }

  /** Model backends and names, for logs and status. */
  get models(): { champion: PooledModel | undefined; shadow: PooledModel | undefined; pool: ModelPool | undefined } {
    return { champion: this.#champion, shadow: this.#shadow, pool: this.#pool };
  }

  /** The outbox (inspection). */
  get outbox(): Outbox | undefined {
    return this.#outbox;
  }

  async #start(): Promise<void> {
    const { config, logger } = this;
    const folders = watchFolders(config).map((f) => ({ ...f, path: resolve(f.path) }));
    this.#db = openStateDb(config.stateDir);
    this.#ledger = new Ledger(this.#db);
    this.#outbox = new Outbox(this.#db, { maxEntries: config.outboxMaxEntries, maxBytes: config.outboxMaxBytes });

    const started = performance.now();
    const workers = config.workers === 0 ? Math.max(1, availableParallelism()) : config.workers;
    this.#pool = await ModelPool.start([{ dir: config.champion }, ...(config.shadow ? [{ dir: config.shadow }] : [])], {
      workers,
      backend: config.backend,
      topK: config.topK,
      warn: (message) => logger.warn(message),
    });
    if (config.workers === 0 && workers > 1) {
      const c = await this.#pool.calibrate();
      logger.info(
        { oneWorkerImagesPerSecond: +c.oneWorkerPerSecond.toFixed(2), allWorkersImagesPerSecond: +c.allWorkersPerSecond.toFixed(2), workers: c.kept },
        c.kept < c.workers ? 'more model workers did not pay on this machine: using one' : `measured: ${c.kept} model workers`,
      );
    }
    const champion = this.#pool.models[0] as PooledModel;
    const shadow = this.#pool.models[1];
    this.#champion = champion;
    this.#shadow = shadow;
    if (shadow && shadow.info.task !== champion.info.task) {
      throw new EdgewatchError('EW_MODEL_MANIFEST', `The champion (${champion.info.task}) and the shadow (${shadow.info.task}) must have the same task.`);
    }
    logger.info(
      {
        champion: champion.info.name,
        championExecution: champion.info.execution?.detail ?? champion.info.execution?.mode,
        shadow: shadow?.info.name,
        shadowExecution: shadow?.info.execution?.detail ?? shadow?.info.execution?.mode,
        backend: champion.backend,
        workers: this.#pool.size,
        loadMs: Math.round(performance.now() - started) },
      `models ready on the ${champion.backend} backend`,
    );
    if (champion.backend === 'cpu') logger.warn('running on the pure-JS cpu backend: about 20x slower than wasm; check @tensorflow/tfjs-backend-wasm is installed');

    this.#client = new PicselliaClient({
      host: config.host,
      apiToken: config.apiToken,
      organization: config.organization,
      organizationId: config.organizationId,
      deployment: config.deployment,
      requestTimeoutMs: config.requestTimeoutMs,
      userAgent: `edgewatch/${AGENT_VERSION}`,
      signal: this.#abort.signal,
      logger,
    });
    await this.#resolveAtStart();

    this.#sender = new Sender({
      outbox: this.#outbox,
      concurrency: config.sendConcurrency,
      send: (entry) => this.#send(entry),
      backoffMs: (attempt) => backoffDelayMs(attempt, config.retryBaseMs, config.retryMaxMs),
      isReady: () => this.#target !== undefined,
      inTransaction: {
        delivered: (entry) => this.#ledger?.mark(entry.fileId, 'delivered'),
        dead: (entry) => this.#ledger?.mark(entry.fileId, 'dead'),
      },
      onDelivered: (entry, result) => {
        const timing = this.#inPipeline.get(entry.imageId);
        if (timing) {
          this.#inPipeline.delete(entry.imageId);
          if (timing.seenAt > 0) this.metrics.addedMs.add(performance.now() - timing.seenAt - timing.modelsMs);
        }
        if (result.kind === 'delivered') this.#counts.monitored += 1;
        else this.#counts.duplicates += 1;
        void this.#afterDelivery(entry);
        this.#roomFreed();
        this.#options.onSent?.(entry.imageId, result.kind === 'delivered' ? 'delivered' : 'duplicate');
      },
      onDead: (entry) => {
        this.#inPipeline.delete(entry.imageId);
        this.#counts.failed += 1;
        this.#roomFreed();
        this.#options.onSent?.(entry.imageId, 'dead');
      },
      logger,
    });
    this.#sender.start();
    if (this.#outbox.size.entries > 0) logger.info({ queued: this.#outbox.size.entries }, 'outbox holds predictions from an earlier run; sending them');

    const ignorePaths = folders.flatMap((f) => [rejectedDirFor(config, f.path), processedDirFor(config, f.path)]).map((p) => resolve(p));
    ignorePaths.push(resolve(config.stateDir));
    this.#watcher = new FolderWatcher({
      folders,
      extensions: config.extensions,
      stableMs: config.stableMs,
      ignorePaths,
      capacity: Math.max(8, config.concurrency * 4),
      watch: !config.once,
      eager: config.eager,
      scanEveryMs: config.pollMs,
      isDone: (f) => this.#ledger?.isDone(f.path, f.sizeBytes, f.mtimeMs) ?? false,
    });
    this.#watcher.on('folderError', (err) => logger.error({ code: err.code, folder: err.details.path }, err.message));
    this.#watcher.on('folderRestored', ({ path }) => logger.info({ folder: path }, 'watched folder is back: watching it again'));
    await this.#watcher.start();
    logger.info({ folders: folders.map((f) => f.path), once: config.once }, config.once ? 'processing the files present' : 'watching');
    if (!config.once) this.#stopActivity = startActivityLog(logger, this.metrics, () => this.#outbox?.size.entries ?? 0);
    const ledger = this.#ledger;
    countBacklog(folders, config.extensions, ignorePaths, (p, size, mtime) => ledger.isDone(p, size, mtime))
      .then((total) => {
        if (total >= 20 && !this.#closing && this.#outcomes < total) {
          this.#progress = new BackfillProgress({ total, done: this.#outcomes, logger, stream: this.#options.progressStream ?? nullStream });
        }
      })
      .catch((err: unknown) => logger.debug({ err }, 'could not count the backlog'));
    const ctx: ProcessContext = {
      config,
      ledger: this.#ledger,
      outbox: this.#outbox,
      champion,
      shadow,
      logger,
      metrics: this.metrics,
      deploymentKey: `${config.host}\n${config.organizationId ?? config.organization ?? ''}\n${config.deployment}`,
      onQueued: (q) => {
        if (this.#inPipeline.size < 10_000) this.#inPipeline.set(q.imageId, { seenAt: q.seenAt, modelsMs: q.modelsMs });
        this.#sender?.wake();
      },
      recheck: (file) => this.#watcher?.recheck(file),
    };
    this.#loops = Promise.all(Array.from({ length: config.concurrency }, () => this.#loop(ctx))).then(() => undefined);
  }

  async #loop(ctx: ProcessContext): Promise<void> {
    const watcher = this.#watcher as FolderWatcher;
    for (;;) {
      await this.#waitForRoom();
      if (this.#storePause) await this.#storePause.over;
      if (this.#closing) return;
      const file = await watcher.next();
      if (!file) return;
      if (this.#storePause) {
        await this.#storePause.over; // the disk filled up while this loop waited for a file
        if (this.#closing) return; // untouched: it stays in its folder for the next start
      }
      let outcome: ProcessOutcome;
      try {
        outcome = await processImage(ctx, file);
        if (this.#storeFullSince !== undefined) {
          this.logger.info({ fullForMs: Math.round(performance.now() - this.#storeFullSince) }, 'the state disk has room again: taking files');
          this.#storeFullSince = undefined;
        }
      } catch (err) {
        if (isEdgewatchError(err, 'EW_DISK_FULL') && !this.#closing) {
          // Nothing was committed for this file: it goes back to the watcher and is read again
          // later; meanwhile no file is taken (they wait in their folder).
          watcher.recheck(file);
          await this.#waitAfterStoreFull(err, file.path);
          continue;
        }
        outcome = 'failed';
        this.logger.error({ err, code: isEdgewatchError(err) ? err.code : undefined, file: file.path }, `could not process ${file.path}: ${(err as Error).message}`);
      }
      if (outcome === 'rejected') this.#counts.rejected += 1;
      else if (outcome === 'failed') this.#counts.failed += 1;
      else if (outcome === 'duplicate' || outcome === 'vanished') this.#counts.skipped += 1;
      this.#outcomes += 1;
      this.#progress?.tick();
      this.#options.onOutcome?.(outcome, file.path);
    }
  }

  /**
   * The state disk is full: every loop stops taking files for a pause (1 s, doubled each time a
   * file fails again after a pause, up to 30 s; cut short only by `close()`). Failures of files
   * already in flight join the current pause. Logged once per episode.
   */
  async #waitAfterStoreFull(err: EdgewatchError, path: string): Promise<void> {
    if (this.#storePause === undefined) {
      if (this.#storeFullSince === undefined) {
        this.#storeFullSince = performance.now();
        this.#storeFullDelayMs = 1_000;
        this.logger.error({ code: err.code, file: path }, `${err.message} New files wait in their folders until it is fixed.`);
      } else {
        this.#storeFullDelayMs = Math.min(30_000, this.#storeFullDelayMs * 2);
      }
      let end: () => void = () => undefined;
      const over = new Promise<void>((resolve) => (end = resolve));
      const timer = setTimeout(() => pause.end(), this.#storeFullDelayMs);
      const pause = {
        over,
        end: () => {
          clearTimeout(timer);
          if (this.#storePause === pause) this.#storePause = undefined;
          end();
        },
      };
      this.#storePause = pause;
    }
    await this.#storePause.over;
  }

  /** Outbox full: stop taking new files (they wait in the folder) until deliveries make room. */
  async #waitForRoom(): Promise<void> {
    const outbox = this.#outbox as Outbox;
    while (outbox.isFull() && !this.#closing) {
      if (!this.#fullLogged) {
        this.#fullLogged = true;
        this.logger.warn({ code: 'EW_STORE_FULL', ...outbox.size }, 'outbox full: new files wait in the folder until the monitoring service catches up');
      }
      await new Promise<void>((r) => this.#roomWaiters.push(r));
    }
    this.#fullLogged = false;
  }

  #roomFreed(): void {
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const w of waiters) w();
  }

  async #send(entry: OutboxEntry) {
    const client = this.#client as PicselliaClient;
    const started = performance.now();
    const result = await client.sendPrediction(entry.body);
    this.metrics.sendMs.add(performance.now() - started);
    return result;
  }

  async #afterDelivery(entry: OutboxEntry): Promise<void> {
    const mode = this.config.afterDelivery;
    if (mode === 'keep') return;
    const record = this.#ledger?.get(entry.fileId);
    if (!record) return;
    try {
      if (mode === 'delete') await unlink(record.path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      else {
        const dir = processedDirFor(this.config, record.folder);
        await mkdir(dir, { recursive: true });
        await rename(record.path, join(dir, basename(record.path)));
      }
    } catch (err) {
      this.logger.warn({ file: record.path, err }, `delivered, but could not ${mode} the file: ${(err as Error).message}`);
    }
  }

  #cacheKey(): string {
    const c = this.config;
    return `target\n${c.host}\n${c.organizationId ?? c.organization ?? ''}\n${c.deployment}`;
  }

  async #resolveAtStart(): Promise<void> {
    try {
      await this.#resolveNow();
    } catch (err) {
      if (!isEdgewatchError(err) || !TRANSIENT.has(err.code)) throw err;
      const cached = this.#db?.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get(this.#cacheKey());
      if (cached) {
        const target = JSON.parse(cached.value) as MonitorTarget;
        checkDeploymentType(target, (this.#champion as PooledModel).info.task);
        this.#client?.useTarget(target);
        this.#target = target;
        this.logger.warn({ code: err.code, deployment: target.deploymentName }, `platform unreachable (${err.message}); using the deployment cached from the last run`);
      } else {
        this.logger.warn({ code: err.code }, `platform unreachable (${err.message}); predictions are queued until it answers`);
        this.#scheduleResolve(1);
      }
    }
  }

  async #resolveNow(): Promise<void> {
    const client = this.#client as PicselliaClient;
    const target = await client.resolve();
    checkDeploymentType(target, (this.#champion as PooledModel).info.task);
    this.#target = target;
    this.#db?.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(this.#cacheKey(), JSON.stringify(target));
    this.#sender?.wake();
  }

  #scheduleResolve(attempt: number): void {
    if (this.#closing) return;
    const delay = backoffDelayMs(attempt, this.config.retryBaseMs, this.config.retryMaxMs);
    this.#resolveTimer = setTimeout(() => {
      this.#resolveNow().catch((err: unknown) => {
        if (isEdgewatchError(err) && !TRANSIENT.has(err.code)) {
          this.logger.error({ code: err.code }, `cannot use the deployment: ${err.message}`);
          return;
        }
        this.logger.warn({ code: isEdgewatchError(err) ? err.code : undefined, attempt }, `platform still unreachable: ${(err as Error).message}`);
        this.#scheduleResolve(attempt + 1);
      });
    }, delay);
  }

  /** Resolves once every file seen so far is processed (with `once`: once the initial scan is done). */
  async processed(): Promise<void> {
    await this.#loops;
  }

  /**
   * With `once`: waits for the scan to be processed and the outbox to drain (or `onceTimeoutMs`),
   * then returns the summary. The agent keeps running until `close()`.
   */
  async runOnce(): Promise<RunSummary> {
    await this.processed();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      (this.#sender as Sender).idle().then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), this.config.onceTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) this.logger.warn({ onceTimeoutMs: this.config.onceTimeoutMs }, 'gave up waiting for delivery; undelivered predictions stay in the outbox for the next run');
    return this.summary();
  }

  /** Counts since start, plus what is still queued. */
  summary(): RunSummary {
    if (!this.#db) return this.#final ?? { ...this.#counts, pending: 0, dead: 0 };
    const outbox = this.#outbox?.counts() ?? { queued: 0, delivered: 0, dead: 0 };
    return { ...this.#counts, pending: outbox.queued, dead: outbox.dead };
  }

  /**
   * Stops watching, lets in-flight images finish within `shutdownTimeoutMs`, stops the sender,
   * then closes the models, the client and the database. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const deadline = this.config.shutdownTimeoutMs;
    clearTimeout(this.#resolveTimer);
    this.#stopActivity?.();
    this.#progress?.close();
    this.#roomFreed();
    this.#storePause?.end();
    await this.#watcher?.close();
    if (this.#loops) await withDeadline(this.#loops, deadline);
    await this.#sender?.close(Math.min(deadline, 5_000));
    this.#abort.abort();
    await Promise.allSettled([this.#pool?.close(), this.#client?.close()]);
    const summary = this.#db ? this.summary() : undefined;
    this.#final = summary;
    this.#db?.close();
    this.#db = undefined;
    const m = this.metrics.snapshot();
    const p50 = (k: string) => { const v = m[k]; return v && v.n > 0 ? +v.p50.toFixed(2) : undefined; };
    this.logger.info({ ...summary, p50Ms: { read: p50('readMs'), decode: p50('decodeMs'), champion: p50('championMs'), shadow: p50('shadowMs'), send: p50('sendMs'), added: p50('addedMs') }, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }, 'stopped');
  }
}

/** A stream that is not a TTY and discards writes: progress then goes to the log only. */
const nullStream = { write: () => true } as unknown as NodeJS.WritableStream;

async function withDeadline(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.then(() => undefined, () => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
