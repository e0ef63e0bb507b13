/** One measurement in its own process (so each gets a clean heap and its own peak RSS): reads a job as JSON from argv, prints `BENCH_RESULT <json>`. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureEdgewatch, soakEdgewatch, type EdgewatchOptions } from './edgewatch.js';
import { measureFloor } from './floor.js';
import { measureFloorModelWorker } from './floor-modelworker.js';
import { loadBytes } from './images.js';
import { measureNaive } from './naive.js';
import { measureShadowPriority } from './shadow-priority.js';
import { startBenchService, type BenchService } from './service.js';

/** A job handed to this process by bench/run.ts. */
export interface MeasureJob {
  mode: 'floor' | 'floor-mw' | 'naive' | 'edgewatch' | 'soak' | 'shadow-priority';
  championDir: string;
  shadowDir: string;
  files: string[];
  labels: string[];
  rounds: number;
  perRound: number;
  warmup: number;
  workers?: number;
  latencySamples?: number;
  folders?: number;
  agentOverrides?: Record<string, unknown>;
  soak?: { total: number; batch: number; checkpoints: number[] };
  /** shadow-priority: no shadow when false; a steady drip instead of a burst when `steady` is set. */
  withShadow?: boolean;
  steady?: { count: number; perSecond: number };
}

const RESULT_PREFIX = 'BENCH_RESULT ';

async function withService<T>(labels: string[], fn: (service: BenchService, workDir: string) => Promise<T>): Promise<T> {
  const workDir = await mkdtemp(join(tmpdir(), 'edgewatch-bench-'));
  const service = await startBenchService(join(workDir, 'service'), labels);
  try {
    return await fn(service, workDir);
  } finally {
    await service.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

async function run(job: MeasureJob): Promise<unknown> {
  const log = (line: string): void => void process.stderr.write(`  ${line}\n`);
  switch (job.mode) {
    case 'floor':
      return measureFloor({
        championDir: job.championDir,
        shadowDir: job.shadowDir,
        sizes: [{ width: 224, height: 224 }],
        images: await loadBytes(job.files),
        workers: job.workers ?? 2,
        rounds: job.rounds,
        perRound: job.perRound,
        warmup: job.warmup,
      });
    case 'floor-mw':
      return measureFloorModelWorker({ championDir: job.championDir, shadowDir: job.shadowDir, images: await loadBytes(job.files), rounds: job.rounds, perRound: job.perRound, warmup: job.warmup });
    case 'naive':
      return withService(job.labels, (service) => measureNaive({ ...job, files: job.files, service }));
    case 'shadow-priority':
      return withService(job.labels, async (service, workDir) =>
        measureShadowPriority({
          championDir: job.championDir,
          shadowDir: job.withShadow === false ? undefined : job.shadowDir,
          images: await loadBytes(job.files),
          service,
          workDir,
          burst: job.perRound,
          ...(job.steady ? { steady: job.steady } : {}),
        }),
      );
    case 'edgewatch':
    case 'soak':
      return withService(job.labels, async (service, workDir) => {
        const opts: EdgewatchOptions = {
          championDir: job.championDir,
          shadowDir: job.shadowDir,
          images: await loadBytes(job.files),
          rounds: job.rounds,
          perRound: job.perRound,
          warmup: job.warmup,
          latencySamples: job.latencySamples ?? 0,
          folders: job.folders ?? 1,
          service,
          workDir,
          ...(job.agentOverrides ? { agentOverrides: job.agentOverrides } : {}),
        };
        if (job.mode === 'edgewatch') return measureEdgewatch(opts);
        const soak = job.soak ?? { total: 5000, batch: 50, checkpoints: [1000, 5000] };
        return { points: await soakEdgewatch(opts, soak.total, soak.batch, soak.checkpoints, log) };
      });
  }
}

const job = JSON.parse(process.argv[2] ?? '{}') as MeasureJob;
const result = await run(job);
const peakRssMB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ result, peakRssMB })}\n`);
// Worker threads or sockets left by a library must not keep a finished measurement alive.
process.exit(0);
