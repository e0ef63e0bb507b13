/**
 * Shadow priority (issue 12): does a slow shadow cost the champion anything? A burst of images
 * with and without a shadow (time until the last champion prediction is acknowledged), and a
 * steady drip at half the measured capacity (shadow coverage, share of images in one request).
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent } from '../dist/agent.js';
import { agentConfigSchema } from '../dist/config/schema.js';
import { loadConfig } from '../dist/config/load.js';
import { silentLogger } from '../dist/log.js';
import { uniqueJpeg } from './images.js';
import type { BenchService } from './service.js';

export interface ShadowPriorityOptions {
  championDir: string;
  /** Absent: the champion alone (the reference). */
  shadowDir: string | undefined;
  images: Buffer[];
  service: BenchService;
  workDir: string;
  /** Images of the burst. */
  burst: number;
  /** With a rate: images dropped one by one at this rate instead of a burst. */
  steady?: { count: number; perSecond: number };
}

export interface ShadowPriorityResult {
  /** Drop → last champion prediction acknowledged, ms. */
  championDoneMs: number;
  /** Drop → every shadow prediction in (in a request or late) or shed, ms. */
  shadowDoneMs: number | null;
  images: number;
  /** Images whose champion went out alone (the shadow followed late or was shed). */
  deferred: number;
  late: number;
  shed: number;
}

/** Runs one burst (or steady drip) through a fresh agent and reports when the champion and the shadow were done. */
export async function measureShadowPriority(opts: ShadowPriorityOptions): Promise<ShadowPriorityResult> {
  const inbox = join(opts.workDir, 'inbox');
  const staging = join(opts.workDir, 'staging');
  await mkdir(inbox, { recursive: true });
  await mkdir(staging, { recursive: true });
  let acked = 0;
  let waiter: { target: number; resolve: () => void } | undefined;
  const { config } = loadConfig(agentConfigSchema, {
    overrides: {
      watch: [{ path: inbox, source: 'bench' }],
      champion: opts.championDir,
      ...(opts.shadowDir ? { shadow: opts.shadowDir } : {}),
      host: opts.service.url,
      apiToken: opts.service.token,
      organization: opts.service.organization,
      deployment: opts.service.deployment,
      stateDir: join(opts.workDir, 'agent-state'),
      backend: 'wasm',
      // Fixed, so that the burst (which measures the capacity) and the steady drip run the same pool;
      // the start-up calibration of workers: 0 can choose differently from one process to the next.
      workers: 2,
      logLevel: 'silent',
    },
  });
  const agent = await Agent.start(config, {
    logger: silentLogger(),
    onSent: (_id, result) => {
      if (result === 'dead') return;
      acked += 1;
      if (waiter && acked >= waiter.target) waiter.resolve();
    },
  });
  const championAcks = (target: number) =>
    new Promise<void>((resolve) => {
      if (acked >= target) resolve();
      else waiter = { target, resolve };
    });
  try {
    let n = 0;
    const stage = async (count: number) => {
      const moves: Array<[string, string]> = [];
      for (let i = 0; i < count; i++, n++) {
        const name = `img-${String(n).padStart(6, '0')}.jpg`;
        await writeFile(join(staging, name), uniqueJpeg(opts.images[n % opts.images.length] as Buffer, `shadow-priority ${n} ${process.pid}`));
        moves.push([join(staging, name), join(inbox, name)]);
      }
      return async () => {
        for (const [from, to] of moves) await rename(from, to);
      };
    };
    // Warm-up: the first images pay for lazy initialisation.
    await (await stage(2))();
    await championAcks(2);
    await shadowsSettled(agent);
    const before = agent.summary();

    const count = opts.steady?.count ?? opts.burst;
    const drops: Array<() => Promise<void>> = [];
    if (opts.steady) for (let i = 0; i < count; i++) drops.push(await stage(1));
    else drops.push(await stage(count));
    const started = performance.now();
    const target = acked + count;
    for (const [i, drop] of drops.entries()) {
      if (opts.steady) {
        const due = started + (i * 1000) / opts.steady.perSecond;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait)); // the drip's own pace, not a synchronisation
      }
      await drop();
    }
    await championAcks(target);
    const championDoneMs = performance.now() - started;
    let shadowDoneMs: number | null = null;
    if (opts.shadowDir) {
      await shadowsSettled(agent);
      shadowDoneMs = performance.now() - started;
    }
    const after = agent.summary();
    return {
      championDoneMs,
      shadowDoneMs,
      images: count,
      deferred: after.shadowDeferred - before.shadowDeferred,
      late: after.shadowLate - before.shadowLate,
      shed: after.shadowShed - before.shadowShed,
    };
  } finally {
    await agent.close();
  }
}

/** Waits until every deferred shadow was sent late or shed (checked every 50 ms: cheap counters, and the wait is outside the measured champion time). */
async function shadowsSettled(agent: Agent): Promise<void> {
  for (;;) {
    const s = agent.summary();
    if (s.shadowLate + s.shadowShed >= s.shadowDeferred && s.pending === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
