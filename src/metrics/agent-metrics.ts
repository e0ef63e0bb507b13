/**
 * The agent's Prometheus metrics: fed by the agent's listeners and timing samples as things happen,
 * and read from the outbox, the models and the watcher when scraped. Also the agent's readiness.
 */
import type { Registry } from 'prom-client';
import type { Agent, AgentOptions } from '../agent.js';
import { watchFolders, type AgentConfig } from '../config/schema.js';
import type { ProcessOutcome } from '../pipeline/process-image.js';
import { cachedStatement } from '../sqlite-statements.js';
import { AGENT_METRICS } from './catalog.js';
import type { Readiness } from './metrics-server.js';
import { newRegistry, registerMetrics, type MetricsOf } from './registry.js';

/** A model as the agent reports it (a swap replaces the object: its labels follow). */
type ModelView = { readonly info: { name: string; hash: string; format: string; execution?: { mode: string } | undefined }; readonly backend: string };

type Listeners = Required<Pick<AgentOptions, 'observer' | 'onOutcome' | 'onSent' | 'onShadowSettled' | 'onShadowDeferred'>>;

/** One registry per agent process, with every metric of `AGENT_METRICS`. */
export class AgentMetrics {
  readonly registry: Registry;
  readonly metrics: MetricsOf<typeof AGENT_METRICS>;
  readonly #folders: number;
  readonly #foldersDown = new Set<string>();
  readonly #modelLabels = new WeakMap<ModelView, { role: string; model: string; version: string }>();
  #agent: Agent | undefined;
  #watching = false;

  constructor(config: AgentConfig, registry: Registry = newRegistry()) {
    this.registry = registry;
    this.#folders = watchFolders(config).length;
    this.metrics = registerMetrics(registry, AGENT_METRICS, {
      outboxEntries: (g) => g.set(this.#agent?.outbox?.size.entries ?? 0),
      outboxBytes: (g) => g.set(this.#agent?.outbox?.size.bytes ?? 0),
      outboxFull: (g) => g.set(this.#agent?.outbox?.isFull() ? 1 : 0),
      outboxOldestAge: (g) => g.set(this.#oldestAgeSeconds()),
      outboxDeadLetters: (g) => g.set(this.#query<{ n: number }>('SELECT COUNT(*) AS n FROM dead_letter')?.n ?? 0),
      watchedFolders: (g) => g.set(this.#folders),
      watchedFoldersUp: (g) => g.set(this.#foldersUp()),
      deploymentResolved: (g) => g.set(this.#agent?.target ? 1 : 0),
      backend: (g) => {
        g.reset();
        const backend = this.#agent?.models.champion?.backend;
        if (backend) g.set({ backend }, 1);
      },
      modelInfo: (g) => {
        g.reset();
        for (const model of this.#models()) g.set({ ...this.#labelsOf(model.pooled, model.role), execution: model.pooled.info.execution?.mode ?? model.pooled.info.format }, 1);
      },
      modelWorkers: (g) => {
        g.reset();
        for (const host of this.#agent?.models.pool?.hosts ?? []) g.inc({ role: host.models.length > 1 ? 'all' : 'champion' });
      },
      championInterruptions: (c) => {
        // Counted by the hosts since the pool started, copied at each scrape.
        c.reset();
        c.inc((this.#agent?.models.pool?.hosts ?? []).reduce((n, h) => n + h.interrupts, 0));
      },
      modelLoadSeconds: (g) => g.set(this.#agent?.inspection.modelLoadSeconds ?? 0),
      sinkPending: (g) => {
        g.reset();
        for (const [sink, s] of Object.entries(this.#agent?.sinks?.status() ?? {})) g.set({ sink }, s.pending);
      },
      sinkRecords: (c) => {
        // Totals kept by the sinks since start, copied at each scrape.
        c.reset();
        for (const [sink, s] of Object.entries(this.#agent?.sinks?.status() ?? {})) {
          c.inc({ sink, result: 'delivered' }, s.delivered);
          c.inc({ sink, result: 'dead' }, this.#agent?.sinks?.loops.find((l) => l.name === sink)?.stats.dead ?? 0);
          c.inc({ sink, result: 'dropped' }, s.dropped);
        }
      },
    });
  }

  /**
   * The agent options that feed these metrics, chained with `base`'s own listeners (which still
   * run, after the metrics).
   */
  agentOptions(base: AgentOptions = {}): AgentOptions {
    const l = this.#listeners();
    return {
      ...base,
      observer: (agent) => (l.observer(agent), base.observer?.(agent)),
      onOutcome: (outcome, path) => (l.onOutcome(outcome, path), base.onOutcome?.(outcome, path)),
      onSent: (id, result) => (l.onSent(id, result), base.onSent?.(id, result)),
      onShadowSettled: (id, result) => (l.onShadowSettled(id, result), base.onShadowSettled?.(id, result)),
      onShadowDeferred: (id) => (l.onShadowDeferred(id), base.onShadowDeferred?.(id)),
    };
  }

  /** Call once `Agent.start` resolved: follows the watcher's folder events (folders up). */
  started(): void {
    const watcher = this.#agent?.inspection.watcher;
    if (!watcher || this.#watching) return;
    this.#watching = true;
    watcher.on('folderError', (err) => this.#foldersDown.add(String(err.details.path ?? '')));
    watcher.on('folderRestored', ({ path }) => this.#foldersDown.delete(path));
  }

  /**
   * `/readyz`: ready once the models are loaded and the agent is watching, with the deployment
   * resolved or buffering offline, as long as the outbox has room (full: 503). Not ready while
   * starting or stopping.
   */
  readiness(): Readiness {
    const agent = this.#agent;
    const inspection = agent?.inspection;
    if (!agent || !inspection?.watcher || !agent.models.champion) return { ready: false, reason: 'starting: models loading or folders being checked' };
    if (inspection.closing) return { ready: false, reason: 'stopping' };
    const outbox = agent.outbox;
    const size = outbox?.size ?? { entries: 0, bytes: 0 };
    const detail = { outboxEntries: size.entries, outboxBytes: size.bytes, deploymentResolved: agent.target !== undefined };
    if (outbox?.isFull()) return { ready: false, reason: 'outbox full: the monitoring service is unreachable or behind; new files wait in their folders', ...detail };
    if (!agent.target) return { ready: true, reason: 'buffering offline: the deployment is not resolved yet; predictions wait in the outbox', ...detail };
    return { ready: true, reason: 'models loaded, deployment resolved', ...detail };
  }

  #listeners(): Listeners {
    const m = this.metrics;
    return {
      observer: (agent) => {
        this.#agent = agent;
        const t = agent.metrics;
        const seconds = (observe: (s: number) => void) => (ms: number) => observe(ms / 1000);
        t.championMs.observer = seconds((s) => this.#observeModel('champion', s));
        t.shadowMs.observer = seconds((s) => this.#observeModel('shadow', s));
        t.readMs.observer = seconds((s) => m.readSeconds.observe(s));
        t.decodeMs.observer = seconds((s) => m.decodeSeconds.observe(s));
        t.sendMs.observer = seconds((s) => m.sendSeconds.observe(s));
        t.addedMs.observer = seconds((s) => m.addedSeconds.observe(s));
      },
      onOutcome: (outcome, path) => this.#outcome(outcome, path),
      onSent: (imageId, result) => {
        if (result === 'delivered') m.imagesMonitored.inc({ result: 'stored' });
        else if (result === 'duplicate') m.imagesMonitored.inc({ result: 'already_stored' });
        else {
          m.deadLetters.inc();
          const row = this.#query<{ code: string | null }>('SELECT code FROM dead_letter WHERE image_id = ?', imageId);
          m.imagesFailed.inc({ code: row?.code ?? 'EW_MONITOR_REJECTED' });
        }
      },
      onShadowSettled: (_imageId, result) => (result === 'late' ? m.shadowLate : m.shadowShed).inc(),
      onShadowDeferred: () => m.shadowDeferred.inc(),
    };
  }

  #outcome(outcome: ProcessOutcome, path: string): void {
    const m = this.metrics;
    if (outcome === 'changed') return; // handed back to the watcher: counted when it is taken again
    m.imagesSeen.inc();
    if (outcome === 'rejected') m.imagesRejected.inc({ code: this.#codeOf(path) });
    else if (outcome === 'failed') m.imagesFailed.inc({ code: this.#codeOf(path) });
    else if (outcome === 'duplicate' || outcome === 'vanished') m.imagesSkipped.inc({ reason: outcome });
    else if (outcome === 'sampled') m.imagesSampledOut.inc({ reason: this.#codeOf(path) === 'cap' ? 'cap' : 'sampled' });
  }

  /** The error code the ledger recorded for the file's latest version (rejections and failures only: rare, one indexed look-up). */
  #codeOf(path: string): string {
    return this.#query<{ code: string | null }>('SELECT code FROM files WHERE path = ? ORDER BY updated_at DESC LIMIT 1', path)?.code ?? 'unknown';
  }

  #observeModel(role: 'champion' | 'shadow', seconds: number): void {
    const pooled = this.#agent?.models[role];
    if (pooled) this.metrics.inferenceSeconds.observe(this.#labelsOf(pooled, role), seconds);
  }

  #labelsOf(pooled: ModelView, role: string): { role: string; model: string; version: string } {
    let labels = this.#modelLabels.get(pooled);
    if (!labels) {
      labels = { role, model: pooled.info.name, version: pooled.info.hash.slice(0, 12) };
      this.#modelLabels.set(pooled, labels);
    }
    return labels;
  }

  #models(): { role: 'champion' | 'shadow'; pooled: ModelView }[] {
    const models = this.#agent?.models;
    return (['champion', 'shadow'] as const).flatMap((role) => (models?.[role] ? [{ role, pooled: models[role] }] : []));
  }

  #foldersUp(): number {
    return this.#agent?.inspection.watcher ? Math.max(0, this.#folders - this.#foldersDown.size) : 0;
  }

  /** Seconds since the capture of the oldest entry in the outbox (the capture-order index makes it one look-up). */
  #oldestAgeSeconds(): number {
    const t = this.#query<{ t: number | null }>('SELECT MIN(captured_at) AS t FROM outbox')?.t;
    return t == null ? 0 : Math.max(0, Date.now() / 1000 - t);
  }

  /** One row of a read on the agent's state database; undefined before it is open or after it is closed. */
  #query<T>(sql: string, ...params: unknown[]): T | undefined {
    const db = this.#agent?.inspection.db;
    if (!db || !db.open) return undefined;
    return cachedStatement<unknown[], T>(db, sql).get(...params);
  }
}
