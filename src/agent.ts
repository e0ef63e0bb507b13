/** The wiring module: builds every stage from one frozen configuration and owns their start and close order. */
import { parseShadowLag, type AgentConfig } from './config/schema.js';
import type { ModelPool } from './infer/index.js';
import { silentLogger, type Logger } from './log.js';
import type { DeploymentResolver, MonitorTarget, PicselliaClient } from './monitor/index.js';
import { startMonitoring } from './monitor/start-monitoring.js';
import { deploymentKey } from './pipeline/image-id.js';
import { IntakeGate } from './pipeline/intake-gate.js';
import { startIntake } from './pipeline/intake-loop.js';
import { PipelineMetrics } from './pipeline/metrics.js';
import type { ProcessOutcome } from './pipeline/process-image.js';
import { logStopped, startActivityLog, trackBacklog } from './pipeline/progress.js';
import { startWatcher } from './pipeline/start-watcher.js';
import { RunTally, type RunSummary } from './pipeline/run-summary.js';
import { ShadowBacklog } from './pipeline/shadow-backlog.js';
import { startModels, type StartedModels } from './pipeline/start-models.js';
import type { LiveModel } from './pipeline/live-models.js';
import { ModelFollower, type CheckOutcome } from './pipeline/model-swap.js';
import { removePidFile, writePidFile } from './pipeline/pid-file.js';
import type { Sender } from './send/sender.js';
import { startSender } from './send/start-sender.js';
import { Ledger } from './state/ledger.js';
import { MetaStore } from './state/meta.js';
import { ShadowPendingStore } from './state/shadow-pending.js';
import { Outbox } from './state/outbox.js';
import { openStateDb, type StateDb } from './state/state-db.js';
import { samplePolicy } from './sample/policy.js';
import { Sampler } from './sample/sampler.js';
import { startSinks, type StartedSinks } from './sinks/start-sinks.js';
import type { FolderWatcher } from './watch/index.js';
import { withDeadline } from './loop-signals.js';

export type { RunSummary } from './pipeline/run-summary.js';

export interface AgentOptions {
  logger?: Logger;
  /** Called once per image outcome (tests, progress output). */
  onOutcome?: (outcome: ProcessOutcome, path: string) => void;
  /** Called once per champion prediction that leaves the outbox: acknowledged (201 or 409) or dead-lettered (late shadows are counted in the summary). */
  onSent?: (imageId: string, result: 'delivered' | 'duplicate' | 'dead') => void;
  /** Called once per shadow prediction that did not go out with its champion's: sent late (acknowledged) or shed. */
  onShadowSettled?: (imageId: string, result: 'late' | 'shed') => void;
  /** Called once per champion prediction sent alone because the shadow was behind (its prediction follows late, or is shed). */
  onShadowDeferred?: (imageId: string) => void;
  /** Called once with the agent before it starts (metrics hook into `agent.metrics` here and read the rest when scraped). */
  observer?: (agent: Agent) => void;
  /** Where the start-up backlog progress bar is drawn when it is a TTY (the CLI passes stderr); otherwise progress is logged. */
  progressStream?: NodeJS.WritableStream;
}

/** A running agent. `close()` is idempotent and returns the same promise each time. */
export class Agent {
  readonly config: AgentConfig;
  readonly metrics = new PipelineMetrics();
  readonly logger: Logger;
  readonly #options: AgentOptions;
  readonly #abort = new AbortController();
  readonly #tally: RunTally;
  #db: StateDb | undefined;
  #outbox: Outbox | undefined;
  #models: StartedModels | undefined;
  #follower: ModelFollower | undefined;
  #monitoring: { client: PicselliaClient; resolver: DeploymentResolver } | undefined;
  #sender: Sender | undefined;
  #sinks: StartedSinks | undefined;
  #gate: IntakeGate | undefined;
  #watcher: FolderWatcher | undefined;
  #progress: { tick(): void; close(): void } | undefined;
  #backlog: ShadowBacklog | undefined;
  #stopActivity: (() => void) | undefined;
  #loops: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #final: RunSummary | undefined;
  #modelLoadSeconds: number | undefined;

  private constructor(config: AgentConfig, options: AgentOptions) {
    this.config = config;
    this.#options = options;
    this.logger = options.logger ?? silentLogger();
    this.#tally = new RunTally(this.metrics.addedMs, { onSent: options.onSent, onShadowSettled: options.onShadowSettled });
    options.observer?.(this);
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
    return this.#monitoring?.resolver.target;
  }

  /** The models in use now (they change on a swap), for logs and status. */
  get models(): { champion: LiveModel | undefined; shadow: LiveModel | undefined; pool: ModelPool | undefined } {
    const set = this.#models?.live.current;
    return { champion: set?.champion, shadow: set?.shadow, pool: set?.pool };
  }

  /** Re-reads the model folders and the deployment now (SIGHUP, `edgewatch reload`) and swaps in a changed pair. */
  reload(): Promise<CheckOutcome> {
    return this.#follower?.reload() ?? Promise.resolve('skipped');
  }

  /** Reads the deployment's models now, as the next poll would (tests). */
  pollModels(): Promise<CheckOutcome> {
    return this.#follower?.poll() ?? Promise.resolve('skipped');
  }

  /** The result sinks, when configured (inspection). */
  get sinks(): StartedSinks | undefined {
    return this.#sinks;
  }

  /** The outbox (inspection). */
  get outbox(): Outbox | undefined {
    return this.#outbox;
  }

  /** What metrics and health checks read: the state database (read-only use), the watcher, the models' load time, whether `close()` was called. */
  get inspection(): { db: StateDb | undefined; watcher: FolderWatcher | undefined; modelLoadSeconds: number | undefined; closing: boolean } {
    return { db: this.#db, watcher: this.#watcher, modelLoadSeconds: this.#modelLoadSeconds, closing: this.#closing !== undefined };
  }

  async #start(): Promise<void> {
    const { config, logger } = this;
    const key = deploymentKey(config);
    const db = (this.#db = openStateDb(config.stateDir));
    const ledger = new Ledger(db);
    const outbox = (this.#outbox = new Outbox(db, { maxEntries: config.outboxMaxEntries, maxBytes: config.outboxMaxBytes }));
    const sinks = (this.#sinks = startSinks(config, db, { logger, signal: this.#abort.signal }));
    const loadStarted = performance.now();
    const models = (this.#models = await startModels(config, logger, this.#abort.signal));
    this.#modelLoadSeconds = (performance.now() - loadStarted) / 1000;
    await writePidFile(config.stateDir).catch((err: Error) => logger.warn({ err: err.message }, 'could not write the pid file: edgewatch reload will not find this agent (SIGHUP still works)'));

    const monitoring = await startMonitoring(config, {
      task: models.live.current.champion.info.task,
      cache: new MetaStore(db),
      deploymentKey: key,
      signal: this.#abort.signal,
      logger,
      onTarget: () => this.#sender?.wake(),
    });
    this.#monitoring = monitoring;
    const started = startSender(config, {
      outbox,
      ledger,
      client: monitoring.client,
      isReady: () => this.#monitoring?.resolver.target !== undefined,
      onSendMs: (ms) => this.metrics.sendMs.add(ms),
      onAcknowledged: (entry, kind) => {
        this.#gate?.roomFreed();
        this.#tally.acknowledged(entry, kind);
      },
      onDead: (entry) => {
        this.#gate?.roomFreed();
        this.#tally.dead(entry);
      },
      onOrphans: (entry, count) => {
        for (let i = 0; i < count; i++) this.#tally.shed(entry.imageId);
        this.#gate?.roomFreed();
      },
      fileNeeded: (imageId) => this.#backlog?.has(imageId) ?? false,
      logger,
    });
    this.#sender = started.sender;
    if (config.shadow !== undefined) {
      this.#backlog = new ShadowBacklog({
        store: new ShadowPendingStore(db),
        outbox,
        shadow: models.live.current.shadow,
        readLimits: { maxPixels: config.maxPixels, maxFileBytes: config.maxFileBytes, followSymlinks: config.followSymlinks },
        maxLag: parseShadowLag(config.shadowMaxLag),
        logger,
        sinks: sinks && { queue: sinks, deployment: config.deployment },
        onQueued: (latencySeconds) => {
          this.metrics.shadowMs.add(latencySeconds * 1000);
          this.#sender?.wake();
        },
        onShed: (imageId) => this.#tally.shed(imageId),
        onReleased: started.releaseFile,
      });
      this.#backlog.start();
    }
    this.#gate = new IntakeGate({ outboxFull: () => outbox.isFull(), outboxSize: () => outbox.size, logger });
    const { watcher, countBacklog } = await startWatcher(config, ledger, logger);
    this.#watcher = watcher;
    if (!config.once) this.#stopActivity = startActivityLog(logger, this.metrics, () => outbox.size.entries);
    this.#progress = trackBacklog({
      count: countBacklog,
      taken: () => this.#tally.taken,
      logger,
      stream: this.#options.progressStream,
    });
    this.#loops = startIntake({
      config,
      ledger,
      outbox,
      models: models.live,
      logger,
      metrics: this.metrics,
      deploymentKey: key,
      onQueued: (q) => {
        this.#tally.queued(q.imageId, q.seenAt, q.modelsMs);
        this.#sender?.wake();
      },
      shadowBacklog: this.#backlog,
      sampler: config.sample === undefined ? undefined : new Sampler(samplePolicy(config.sample)),
      sinks,
      onShadowBehind: (imageId, outcome) => {
        this.#tally.shadowBehind(imageId, outcome);
        if (outcome === 'deferred') this.#options.onShadowDeferred?.(imageId);
      },
      watcher,
      gate: this.#gate,
      onOutcome: (outcome, path) => {
        this.#tally.outcome(outcome);
        this.#progress?.tick();
        this.#options.onOutcome?.(outcome, path);
      },
    });
    this.#follow(models);
  }

  /** Starts following the models: deployment polls, and reloads. */
  #follow(models: StartedModels): void {
    this.#follower = new ModelFollower({
      config: this.config,
      live: models.live,
      sources: models.sources,
      workers: models.workers,
      logger: this.logger,
      onSwap: (set) => this.#backlog?.setShadow(set.shadow),
    });
    this.#follower.start();
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
    const sender = this.#sender as Sender;
    const drained = await withDeadline(Promise.resolve(this.#backlog?.idle()).then(() => sender.idle()).then(() => this.#sinks?.settled()), this.config.onceTimeoutMs);
    if (!drained) this.logger.warn({ onceTimeoutMs: this.config.onceTimeoutMs }, 'gave up waiting for delivery; undelivered predictions stay in the outbox for the next run');
    return this.summary();
  }

  /** Counts since start, plus what is still queued. */
  summary(): RunSummary {
    if (!this.#db) return this.#final ?? this.#tally.summary({ queued: 0, dead: 0 });
    const counts = this.#outbox?.counts();
    return this.#tally.summary({ queued: (counts?.queued ?? 0) + (counts?.lateShadows.queued ?? 0), dead: counts?.dead ?? 0 });
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
    this.#monitoring?.resolver.close();
    this.#follower?.close();
    this.#stopActivity?.();
    this.#progress?.close();
    this.#gate?.close();
    await this.#watcher?.close();
    if (this.#loops) await withDeadline(this.#loops, deadline);
    this.#backlog?.close();
    await this.#sender?.close(Math.min(deadline, 5_000));
    await this.#sinks?.close(Math.min(deadline, 5_000));
    this.#abort.abort();
    await this.#follower?.settled();
    await Promise.allSettled([this.#models?.live.close(), this.#models?.sources.close(), this.#monitoring?.client.close()]);
    if (this.#db) await removePidFile(this.config.stateDir).catch(() => undefined);
    const summary = this.#db ? this.summary() : undefined;
    this.#final = summary;
    this.#db?.close();
    this.#db = undefined;
    logStopped(this.logger, this.metrics, summary);
  }
}
