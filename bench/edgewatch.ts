/**
 * The edgewatch measurement: JPEGs dropped into watched folders → predictions acknowledged (201) by
 * the embedded service, through the agent's programmatic API (`Agent.start`). Also the 5,000-image
 * memory soak.
 *
 * It drives the agent through its programmatic API only: Agent.start(config, { onSent }),
 * agent.metrics, agent.models and agent.close().
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent } from '../dist/agent.js';
import { agentConfigSchema } from '../dist/config/schema.js';
import { loadConfig } from '../dist/config/load.js';
import { silentLogger } from '../dist/log.js';
import { startAgentMetrics } from '../dist/metrics/start-agent-metrics.js';
import { uniqueJpeg } from './images.js';
import type { BenchService } from './service.js';
import { quantile } from './stats.js';
import type { RoundsOptions } from './rounds.js';

/** Options of {@link measureEdgewatch}. */
export interface EdgewatchOptions extends RoundsOptions {
  /** Source JPEGs, cycled; each dropped file is made byte-unique. */
  images: Buffer[];
  /** Images dropped one at a time (each waits for its 201) to measure added latency without queueing. */
  latencySamples: number;
  /** Number of watched folders the files are spread over. */
  folders: number;
  service: BenchService;
  workDir: string;
  /** Agent config overrides (e.g. stableMs, concurrency); the agent's defaults otherwise. */
  agentOverrides?: Record<string, unknown>;
}

/** Throughput per round and latencies. */
export interface EdgewatchResult {
  imagesPerSecond: number[];
  /** Drop → 201 of images sent one at a time, ms. */
  dropToAckMs: number[];
  /** dropToAck minus the median champion + shadow compute, ms (p50/p95 of this are "added latency"). */
  addedMsExternal: number[];
  /** The agent's own metrics (file picked → 201 minus compute, and per-model compute), p50/p95. */
  agentMetrics: Record<string, { n: number; p50: number; p95: number }>;
  /** The agent's metrics of the single drops only (read, decode, enqueue, send, added…): where the added latency goes. */
  singleMetrics: Record<string, { n: number; p50: number; p95: number }>;
  backend: string;
}

/** Counts the predictions the agent has seen acknowledged and wakes whoever waits for a count (no polling: a poll loop would take CPU from the agent it measures). */
class Acks {
  count = 0;
  #waiters: Array<{ target: number; resolve: () => void }> = [];

  add(): void {
    this.count += 1;
    this.#waiters = this.#waiters.filter((w) => (w.target <= this.count ? (w.resolve(), false) : true));
  }

  /** Resolves once `target` acknowledgements were counted; rejects after `timeoutMs`. */
  reach(target: number, timeoutMs: number, what: string): Promise<void> {
    if (this.count >= target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      this.#waiters.push({ target, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }
}

/** Starts an agent watching `folders` on the bench service; `acks` counts champions' predictions acknowledged, `shadows` the shadow predictions that followed late (or were shed). */
async function startAgent(opts: EdgewatchOptions, folders: string[], acks: Acks, shadows: Acks): Promise<Agent> {
  const { config } = loadConfig(agentConfigSchema, {
    overrides: {
      watch: folders.map((path) => ({ path, source: 'bench' })),
      champion: opts.championDir,
      shadow: opts.shadowDir,
      host: opts.service.url,
      apiToken: opts.service.token,
      organization: opts.service.organization,
      deployment: opts.service.deployment,
      stateDir: join(opts.workDir, 'agent-state'),
      afterDelivery: 'delete',
      backend: 'wasm',
      logLevel: 'silent',
      ...opts.agentOverrides,
    },
  });
  const options = { logger: silentLogger(), onSent: (_id: string, result: string) => result !== 'dead' && acks.add(), onShadowSettled: () => shadows.add() };
  // `--metrics`: the agent's metrics port, scraped every second (15 times Prometheus' default rate);
  // it lives until the measurement process exits.
  const metricsPort = await startAgentMetrics(config, silentLogger());
  if (!metricsPort) return Agent.start(config, options);
  const agent = await Agent.start(config, metricsPort.metrics.agentOptions(options));
  metricsPort.metrics.started();
  setInterval(() => void fetch(`${metricsPort.server.url}/metrics`).then((r) => r.text()), 1000).unref();
  return agent;
}

/** Writes files into a staging folder (same filesystem), so that a drop is one atomic rename per file. */
class Dropper {
  readonly #staging: string;
  readonly #folders: string[];
  readonly #images: Buffer[];
  #n = 0;

  constructor(staging: string, folders: string[], images: Buffer[]) {
    this.#staging = staging;
    this.#folders = folders;
    this.#images = images;
  }

  /** Stages `count` unique files; returns a function that drops them all. */
  async stage(count: number): Promise<() => Promise<void>> {
    const moves: Array<[string, string]> = [];
    for (let i = 0; i < count; i++) {
      const n = this.#n++;
      const name = `img-${String(n).padStart(6, '0')}.jpg`;
      const staged = join(this.#staging, name);
      await writeFile(staged, uniqueJpeg(this.#images[n % this.#images.length]!, `edgewatch-bench ${n} ${process.pid}`));
      moves.push([staged, join(this.#folders[n % this.#folders.length]!, name)]);
    }
    return async () => {
      for (const [from, to] of moves) await rename(from, to);
    };
  }
}

/**
 * An image is done when both predictions are in: its champion's acknowledged and its shadow's with
 * it, or, when the shadow was behind, its late shadow acknowledged (or shed).
 */
interface Completion {
  acks: Acks;
  reach(target: number, timeoutMs: number, what: string): Promise<void>;
}

async function setUp(opts: EdgewatchOptions): Promise<{ agent: Agent; dropper: Dropper; acks: Completion }> {
  const folders = Array.from({ length: opts.folders }, (_, i) => join(opts.workDir, `inbox-${i}`));
  const staging = join(opts.workDir, 'staging');
  for (const dir of [...folders, staging]) await mkdir(dir, { recursive: true });
  const champions = new Acks();
  const shadows = new Acks();
  const agent = await startAgent(opts, folders, champions, shadows);
  const acks: Completion = {
    acks: champions,
    async reach(target, timeoutMs, what) {
      await champions.reach(target, timeoutMs, what);
      // Every image taken so far is processed now: the count of late shadows to wait for is final.
      await shadows.reach(agent.summary().shadowDeferred, timeoutMs, `late shadows of ${what}`);
    },
  };
  return { agent, dropper: new Dropper(staging, folders, opts.images), acks };
}

/** Runs warm-up, `rounds` burst rounds of `perRound` images, then `latencySamples` single drops. */
export async function measureEdgewatch(opts: EdgewatchOptions): Promise<EdgewatchResult> {
  const { agent, dropper, acks } = await setUp(opts);
  try {
    const result: EdgewatchResult = { imagesPerSecond: [], dropToAckMs: [], addedMsExternal: [], agentMetrics: {}, singleMetrics: {}, backend: agent.models.champion?.backend ?? 'unknown' };
    const burst = async (count: number): Promise<number> => {
      const drop = await dropper.stage(count);
      const target = acks.acks.count + count;
      const started = performance.now();
      await drop();
      await acks.reach(target, 120_000 + count * 2_000, `${count} predictions to be acknowledged`);
      return performance.now() - started;
    };
    if (opts.warmup > 0) await burst(opts.warmup);
    for (let r = 0; r < opts.rounds; r++) {
      const ms = await burst(opts.perRound);
      result.imagesPerSecond.push(opts.perRound / (ms / 1000));
    }
    // Throughput-phase metrics (model latencies under load), then single drops on a fresh window:
    // the agent's addedMs and the external drop → 201 minus the models' wall time (max of the two:
    // champion and shadow run in parallel on two workers when the agent is idle).
    result.agentMetrics = agent.metrics.snapshot();
    agent.metrics.reset();
    for (let i = 0; i < opts.latencySamples; i++) result.dropToAckMs.push(await burst(1));
    const single = agent.metrics.snapshot();
    result.singleMetrics = single as EdgewatchResult['singleMetrics'];
    result.agentMetrics.addedMs = single.addedMs as { n: number; p50: number; p95: number };
    const computeMs = Math.max(single.championMs?.p50 ?? 0, single.shadowMs?.p50 ?? 0);
    result.addedMsExternal = result.dropToAckMs.map((ms) => ms - computeMs);
    return result;
  } finally {
    await agent.close();
  }
}

/** One soak checkpoint. */
export interface SoakPoint {
  images: number;
  rssMB: number;
  heapUsedMB: number;
  /** Tensors alive in the champion / shadow workers. */
  tensors: number[];
}

/**
 * Pushes `total` images through the agent in bursts of `batch` and records RSS and tensor counts
 * at each checkpoint (e.g. 1,000 and 5,000).
 */
export async function soakEdgewatch(opts: EdgewatchOptions, total: number, batch: number, checkpoints: number[], log: (line: string) => void): Promise<SoakPoint[]> {
  const { agent, dropper, acks } = await setUp(opts);
  const points: SoakPoint[] = [];
  try {
    let done = 0;
    while (done < total) {
      const count = Math.min(batch, total - done);
      const drop = await dropper.stage(count);
      const target = acks.acks.count + count;
      await drop();
      await acks.reach(target, 300_000, `${count} predictions to be acknowledged`);
      done += count;
      if (checkpoints.some((c) => c > done - count && c <= done)) {
        const tensors = ((await agent.models.pool?.memory()) ?? []).map((m) => m.numTensors);
        const mem = process.memoryUsage();
        points.push({ images: done, rssMB: mem.rss / 2 ** 20, heapUsedMB: mem.heapUsed / 2 ** 20, tensors });
        log(`soak: ${done} images, RSS ${(mem.rss / 2 ** 20).toFixed(0)} MB, heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MB, tensors ${tensors.join('/')}`);
      }
    }
    return points;
  } finally {
    await agent.close();
  }
}

/** p50 and p95 of a series, for the report. */
export function p50p95(values: number[]): { p50: number; p95: number } {
  return { p50: quantile(values, 0.5), p95: quantile(values, 0.95) };
}
