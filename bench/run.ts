/**
 * `npm run bench [-- --quick | --soak | --scale]`: floor, edgewatch and naive throughput on the same
 * images with the same pretrained models, each measurement in its own process; prints a table and
 * ends with `edgewatch/floor = <median>` and `edgewatch/naive = <median>`.
 */
import { spawn } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pullModels } from '../src/models/pull.js';
import { NSFWJS_LABELS } from '../src/models/catalog.js';
import { IMAGE_SETS, prepareImages, type ImageSetName } from './images.js';
import type { MeasureJob } from './measure.js';
import type { ShadowPriorityResult } from './shadow-priority.js';
import { formatSpread, pairwiseRatios, quantile, spreadOf } from './stats.js';

const CHAMPION = 'mobilenet-v2';
const SHADOW = 'mobilenet-v2-mid';
const CACHE_DIR = '.bench';
const MODELS_DIR = 'models/pretrained';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    scale: { type: 'boolean', default: false },
    'shadow-priority': { type: 'boolean', default: false },
    service: { type: 'boolean', default: false },
    'service-n': { type: 'string', default: '10000000' },
    fleet: { type: 'boolean', default: false },
    'fleet-agents': { type: 'string', default: '50' },
    'fleet-images': { type: 'string', default: '40' },
    rss: { type: 'boolean', default: false },
    set: { type: 'string', default: 'hd' },
    rounds: { type: 'string' },
    'per-round': { type: 'string' },
    workers: { type: 'string' },
    folders: { type: 'string', default: '1' },
    only: { type: 'string' },
    'stable-ms': { type: 'string' },
    'shadow-workers': { type: 'string' },
    metrics: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  process.stdout.write(`npm run bench -- [options]
  --quick          short run (< 2 minutes): 3 rounds, fewer images
  --soak           memory mode: 5,000 images through the agent, RSS and tensors at 1,000 and 5,000
  --shadow-priority  champion MobileNetV2 with an InceptionV3 shadow: a burst of 48 images with and
                   without the shadow (last champion acknowledged), then a steady drip at half the
                   measured capacity (shadow coverage, share of images in one request)
  --rss            peak RSS per configuration (champion alone, the MobileNetV2 pair, InceptionV3 as
                   shadow; default workers and --workers 1), each on the built CLI with --once,
                   --rounds times round by round: median (min–max)
  --service        the monitoring service at scale (no models): fills --service-n predictions (default
                   10,000,000) through the store, then stats latency (All / last day / last hour), monitor
                   latency while 10 dashboards poll, RSS and insert rate at 100 k, 1 M and 10 M
  --fleet          the service for a fleet: --fleet-agents agents (default 50) post --fleet-images small
                   images each (default 40, with deliberate retries and races) to one SQLite serve, then
                   to two serve replicas on one PostgreSQL (round-robin): requests/s, p99, stored, lost
  --scale          also measure naive and edgewatch on VGA, 1080p and 12 MP images, and 1 vs 4 folders
  --set NAME       image set for the main table: hd (1080p, default), vga, mp12, photos
  --rounds N       rounds per measurement;  --per-round N  images per round
  --workers N      floor worker threads (default: one per core)
  --folders N      watched folders for the edgewatch measurement (default 1)
  --only LIST      comma list of floor,floor-mw,naive,edgewatch (floor-mw: one ModelWorker per
                   model, edgewatch's own runner; default in full runs only)
  --stable-ms N    agent stableMs override (default: the agent's own default)
  --shadow-workers N  agent shadowWorkers override (default: the agent's own, every host)
  --metrics        the edgewatch measurement with the agent's metrics port on, scraped every second
`);
  process.exit(0);
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const quick = args.quick;
const rounds = Number(args.rounds ?? (quick ? 3 : 5));
const perRound = Number(args['per-round'] ?? (quick ? 16 : 96));
const workers = Number(args.workers ?? availableParallelism());
const setName = args.set as ImageSetName;
if (!(setName in IMAGE_SETS)) throw new Error(`--set must be one of ${Object.keys(IMAGE_SETS).join(', ')}`);
const only = new Set((args.only ?? (quick ? 'floor,naive,edgewatch' : 'floor,floor-mw,naive,edgewatch')).split(','));
const agentOverrides =
  args['stable-ms'] !== undefined || args.metrics || args['shadow-workers'] !== undefined
    ? {
        ...(args['stable-ms'] !== undefined ? { stableMs: Number(args['stable-ms']) } : {}),
        ...(args.metrics ? { metricsPort: 0 } : {}),
        ...(args['shadow-workers'] !== undefined ? { shadowWorkers: Number(args['shadow-workers']) } : {}),
      }
    : undefined;

interface Measured<T> {
  result: T;
  peakRssMB: number;
}

/** Runs one job in a child process (`node --import tsx bench/measure.ts <job>`) and parses its result line. */
function measure<T>(job: MeasureJob): Promise<Measured<T>> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'measure.ts'), JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      if (code !== 0 || !line) reject(new Error(`bench ${job.mode} exited with code ${code}${out ? `: ${out.slice(-500)}` : ''}`));
      else resolvePromise(JSON.parse(line.slice('BENCH_RESULT '.length)) as Measured<T>);
    });
  });
}

interface RateResult {
  imagesPerSecond: number[];
  championMs: number[];
  shadowMs: number[];
  backend: string;
}
interface EdgewatchRate {
  imagesPerSecond: number[];
  dropToAckMs: number[];
  addedMsExternal: number[];
  agentMetrics: Record<string, { n: number; p50: number; p95: number }>;
  singleMetrics?: Record<string, { n: number; p50: number; p95: number }>;
  backend: string;
}

if (args.service) {
  const n = Number(args['service-n']);
  if (!Number.isInteger(n) || n < 1) throw new Error('--service-n must be a positive integer');
  const { runServiceBench } = await import('./service-load.js');
  await runServiceBench(n, (line) => void process.stderr.write(`${line}\n`));
  process.exit(0);
}

if (args.fleet) {
  const { runFleetBench, fleetTable } = await import('./fleet.js');
  const results = await runFleetBench(
    { agents: Number(args['fleet-agents']), imagesPerAgent: Number(args['fleet-images']), retryEvery: 10, raceEvery: 8, deadlineMs: 180_000 },
    (line) => void process.stderr.write(`${line}\n`),
  );
  process.stdout.write(`${fleetTable(results)}\n`);
  process.exit(0);
}

const started = performance.now();
log(`edgewatch bench${quick ? ' (quick)' : ''}${args.soak ? ' (soak)' : ''}: preparing models and images`);
const pulled = await pullModels([CHAMPION, SHADOW], { destDir: MODELS_DIR });
for (const m of pulled) log(`  model ${m.name}: ${m.status} (${(m.totalBytes / 1e6).toFixed(1)} MB, ${m.package}@${m.version})`);
const championDir = resolve(MODELS_DIR, CHAMPION);
const shadowDir = resolve(MODELS_DIR, SHADOW);
const images = await prepareImages(CACHE_DIR, log, quick ? 2 : 6, args.scale ? ['vga', 'hd', 'mp12'] : [setName].filter((s) => s !== 'photos'));
const files = images[setName].map((f) => resolve(f));
log(`  images: ${files.length} × ${IMAGE_SETS[setName]?.label ?? 'original photographs'}, from ${images.photos.length} photographs`);
const base = { championDir, shadowDir, labels: [...NSFWJS_LABELS], files };

if (args.soak) {
  const total = quick ? 1000 : 5000;
  const checkpoints = quick ? [200, 1000] : [1000, 2000, 3000, 4000, 5000];
  const { result, peakRssMB } = await measure<{ points: Array<{ images: number; rssMB: number; heapUsedMB: number; tensors: number[] }> }>({
    ...base,
    mode: 'soak',
    rounds: 0,
    perRound: 0,
    warmup: 0,
    ...(agentOverrides ? { agentOverrides } : {}),
    soak: { total, batch: 50, checkpoints },
  });
  process.stdout.write(`\nmemory soak: ${total} images through edgewatch (${IMAGE_SETS[setName]?.label ?? setName})\n`);
  process.stdout.write(`${'images'.padStart(8)}  ${'RSS MB'.padStart(8)}  ${'heap MB'.padStart(8)}  tensors per worker\n`);
  for (const p of result.points) process.stdout.write(`${String(p.images).padStart(8)}  ${p.rssMB.toFixed(0).padStart(8)}  ${p.heapUsedMB.toFixed(0).padStart(8)}  ${p.tensors.join('/')}\n`);
  const first = result.points[0];
  const last = result.points.at(-1);
  if (first && last) process.stdout.write(`RSS growth ${first.images} → ${last.images}: ${(((last.rssMB - first.rssMB) / first.rssMB) * 100).toFixed(1)}% (peak RSS ${peakRssMB.toFixed(0)} MB)\n`);
  process.exit(0);
}

if (args.rss) {
  const [inception] = await pullModels(['inception-v3'], { destDir: MODELS_DIR });
  if (inception) log(`  model ${inception.name}: ${inception.status} (${(inception.totalBytes / 1e6).toFixed(1)} MB)`);
  const inceptionDir = resolve(MODELS_DIR, 'inception-v3');
  const { measureRss } = await import('./rss.js');
  /** The memory setting deploy/edgewatch.service and deploy/Dockerfile run the agent with. */
  const TUNED = { env: { MALLOC_ARENA_MAX: '2' } };
  const rows = await measureRss(
    [
      { label: `${CHAMPION} alone`, champion: championDir },
      { label: `${CHAMPION} alone, --workers 1`, champion: championDir, workers: 1 },
      { label: `${CHAMPION} + ${SHADOW}`, champion: championDir, shadow: shadowDir },
      { label: `${CHAMPION} + ${SHADOW}, service files' settings`, champion: championDir, shadow: shadowDir, ...TUNED },
      { label: `${CHAMPION} + ${SHADOW}, --shadow-workers 1`, champion: championDir, shadow: shadowDir, shadowWorkers: 1 },
      { label: `${CHAMPION} + ${SHADOW}, --workers 1`, champion: championDir, shadow: shadowDir, workers: 1 },
      { label: `${CHAMPION} + ${SHADOW}, --workers 1, service files' settings`, champion: championDir, shadow: shadowDir, workers: 1, ...TUNED },
      { label: `${CHAMPION} + inception-v3`, champion: championDir, shadow: inceptionDir },
      { label: `${CHAMPION} + inception-v3, --shadow-workers 1`, champion: championDir, shadow: inceptionDir, shadowWorkers: 1 },
      { label: `${CHAMPION} + inception-v3, --workers 1`, champion: championDir, shadow: inceptionDir, workers: 1 },
    ],
    files,
    [...NSFWJS_LABELS],
    log,
    rounds,
  );
  process.stdout.write(`\npeak RSS per configuration: edgewatch run --once (built CLI), ${files.length} × ${IMAGE_SETS[setName]?.label ?? setName}, ${availableParallelism()} cores, ${rounds} runs each: median (min–max)\n`);
  process.stdout.write(`${'configuration'.padEnd(60)} ${'hosts'.padStart(5)} ${'peak RSS MB'.padStart(15)} ${'images/s'.padStart(8)}\n`);
  for (const r of rows) {
    const { median, min, max } = r.peakRssMb;
    process.stdout.write(`${r.label.padEnd(60)} ${String(r.hosts).padStart(5)} ${`${median} (${min}–${max})`.padStart(15)} ${r.imagesPerSecond.toFixed(1).padStart(8)}\n`);
  }
  process.exit(0);
}

if (args['shadow-priority']) {
  const [inception] = await pullModels(['inception-v3'], { destDir: MODELS_DIR });
  if (inception) log(`  model ${inception.name}: ${inception.status} (${(inception.totalBytes / 1e6).toFixed(1)} MB)`);
  await shadowPriority({ ...base, shadowDir: resolve(MODELS_DIR, 'inception-v3') });
  process.exit(0);
}

const warmup = quick ? 4 : 8;
const floor = only.has('floor') ? await step('floor', () => measure<RateResult & { workers: number }>({ ...base, mode: 'floor', rounds, perRound: perRound * 2, warmup: 3, workers })) : undefined;
const floorMw = only.has('floor-mw') ? await step('floor with ModelWorker', () => measure<RateResult>({ ...base, mode: 'floor-mw', rounds, perRound: perRound * 2, warmup: 3 })) : undefined;
const edgewatch = only.has('edgewatch')
  ? await step('edgewatch', () =>
      measure<EdgewatchRate>({ ...base, mode: 'edgewatch', rounds, perRound: perRound * 2, warmup, latencySamples: quick ? 8 : 30, folders: Number(args.folders), ...(agentOverrides ? { agentOverrides } : {}) }),
    )
  : undefined;
const naive = only.has('naive') ? await step('naive', () => measure<RateResult & { decodeMs: number[]; postMs: number[] }>({ ...base, mode: 'naive', rounds, perRound, warmup })) : undefined;

async function step<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
  log(`measuring ${name}…`);
  try {
    return await fn();
  } catch (err) {
    log(`  ${name} failed: ${(err as Error).message}`);
    return undefined;
  }
}

/** A number for the table (JSON turns NaN into null). */
function num(v: number | null | undefined, digits = 1): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : 'n/a';
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const out: string[] = [];
out.push('');
out.push(`edgewatch benchmark: champion ${CHAMPION}, shadow ${SHADOW}, ${files.length} ${IMAGE_SETS[setName]?.label ?? 'photograph'} JPEGs, ${rounds} rounds`);
out.push(`machine: ${availableParallelism()} cores (${cpu}), Node ${process.version}, backend ${floor?.result.backend ?? naive?.result.backend ?? 'wasm'}`);
out.push('');
const header = `${'mode'.padEnd(10)} ${'images/s median (min–max)'.padEnd(26)} ${'IQR'.padEnd(12)} ${'champion ms'.padStart(11)} ${'shadow ms'.padStart(9)} ${'peak RSS MB'.padStart(11)}`;
out.push(header);
out.push('-'.repeat(header.length));
const row = (name: string, m: Measured<{ imagesPerSecond: number[] }> | undefined, championMs?: number, shadowMs?: number): void => {
  if (!m) {
    out.push(`${name.padEnd(10)} ${'not measured'.padEnd(26)}`);
    return;
  }
  const s = spreadOf(m.result.imagesPerSecond);
  const ms = (v: number | undefined): string => num(v);
  out.push(`${name.padEnd(10)} ${formatSpread(s).padEnd(26)} ${`${s.q1.toFixed(1)}–${s.q3.toFixed(1)}`.padEnd(12)} ${ms(championMs).padStart(11)} ${ms(shadowMs).padStart(9)} ${m.peakRssMB.toFixed(0).padStart(11)}`);
};
row(`floor×${floor?.result.workers ?? workers}`, floor, floor && quantile(floor.result.championMs, 0.5), floor && quantile(floor.result.shadowMs, 0.5));
if (floorMw) row('floor/mw', floorMw, quantile(floorMw.result.championMs, 0.5), quantile(floorMw.result.shadowMs, 0.5));
row('edgewatch', edgewatch, edgewatch?.result.agentMetrics.championMs?.p50, edgewatch?.result.agentMetrics.shadowMs?.p50);
row('naive', naive, naive && quantile(naive.result.championMs, 0.5), naive && quantile(naive.result.shadowMs, 0.5));
out.push(`floor×N: N workers each running both models (TF.js standard loaders); floor/mw: one ModelWorker per model`);
out.push('');
if (naive) out.push(`naive per image: decode ${num(quantile(naive.result.decodeMs, 0.5))} ms, POST ${num(quantile(naive.result.postMs, 0.5))} ms (p50)`);
if (edgewatch) {
  const e = edgewatch.result;
  const added = spreadOf(e.addedMsExternal);
  if (added.n > 0) out.push(`edgewatch added latency, one image at a time (drop → 201 minus the slower model's p50): p50 ${num(added.median)} ms, p95 ${num(quantile(e.addedMsExternal, 0.95))} ms (n=${added.n})`);
  const a = e.agentMetrics.addedMs;
  if (a && a.n > 0) out.push(`edgewatch added latency, agent's own metric, same drops (file complete → 201 minus the models' wall time): p50 ${num(a.p50)} ms, p95 ${num(a.p95)} ms (n=${a.n})`);
  const s = e.singleMetrics;
  if (a && a.n > 0 && s) {
    const p50 = (k: string) => s[k]?.p50 ?? 0;
    const rest = a.p50 - p50('readMs') - p50('decodeMs') - p50('enqueueMs') - p50('sendMs');
    out.push(
      `  of which (p50 each): read ${num(p50('readMs'))}, decode + resize ${num(p50('decodeMs'))}, request built + committed ${num(p50('enqueueMs'))}, POST → 201 ${num(p50('sendMs'))}, the rest ${num(rest)} ms (watch, header read, worker and sender hand-offs)`,
    );
  }
}
const ratio = (a: number[] | undefined, b: number[] | undefined): string => {
  if (!a?.length || !b?.length) return 'n/a';
  return spreadOf(pairwiseRatios(a, b)).median.toFixed(2);
};
const ratioSpread = (a: number[] | undefined, b: number[] | undefined): string => (!a?.length || !b?.length ? 'n/a' : formatSpread(spreadOf(pairwiseRatios(a, b)), 2));
out.push(`ratios over all round pairs, median (min–max): edgewatch/floor ${ratioSpread(edgewatch?.result.imagesPerSecond, floor?.result.imagesPerSecond)}, edgewatch/naive ${ratioSpread(edgewatch?.result.imagesPerSecond, naive?.result.imagesPerSecond)}, floor/naive ${ratioSpread(floor?.result.imagesPerSecond, naive?.result.imagesPerSecond)}`);

if (args.scale) {
  out.push('');
  out.push('scale: images/s median (min–max)');
  for (const set of ['vga', 'hd', 'mp12'] as const) {
    const setFiles = images[set].map((f) => resolve(f));
    const sb = { ...base, files: setFiles };
    const n = await step(`naive ${set}`, () => measure<RateResult>({ ...sb, mode: 'naive', rounds: 3, perRound: Math.round(perRound / 2), warmup: 2 }));
    const e = await step(`edgewatch ${set}`, () => measure<EdgewatchRate>({ ...sb, mode: 'edgewatch', rounds: 3, perRound, warmup: 4, latencySamples: 0, ...(agentOverrides ? { agentOverrides } : {}) }));
    out.push(`  ${IMAGE_SETS[set]!.label.padEnd(18)} naive ${n ? formatSpread(spreadOf(n.result.imagesPerSecond)) : 'n/a'}   edgewatch ${e ? formatSpread(spreadOf(e.result.imagesPerSecond)) : 'n/a'}`);
  }
  for (const folders of [1, 4]) {
    const e = await step(`edgewatch ${folders} folders`, () => measure<EdgewatchRate>({ ...base, mode: 'edgewatch', rounds: 3, perRound, warmup: 4, latencySamples: 0, folders, ...(agentOverrides ? { agentOverrides } : {}) }));
    out.push(`  ${`${folders} watched folder${folders > 1 ? 's' : ''}`.padEnd(18)} edgewatch ${e ? formatSpread(spreadOf(e.result.imagesPerSecond)) : 'n/a'}`);
  }
}

out.push('');
out.push(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
out.push(`edgewatch/floor = ${ratio(edgewatch?.result.imagesPerSecond, floor?.result.imagesPerSecond)}`);
out.push(`edgewatch/naive = ${ratio(edgewatch?.result.imagesPerSecond, naive?.result.imagesPerSecond)}`);
process.stdout.write(`${out.join('\n')}\n`);

/** `--shadow-priority`: each measurement in its own process, alternating with and without the shadow. */
async function shadowPriority(job: { championDir: string; shadowDir: string; labels: string[]; files: string[] }): Promise<void> {
  const burst = 48;
  const repeats = quick ? 1 : 3;
  const one = (withShadow: boolean, steady?: { count: number; perSecond: number }) =>
    measure<ShadowPriorityResult>({ ...job, mode: 'shadow-priority', rounds: 1, perRound: burst, warmup: 0, withShadow, ...(steady ? { steady } : {}) });
  const alone: Measured<ShadowPriorityResult>[] = [];
  const withShadow: Measured<ShadowPriorityResult>[] = [];
  for (let r = 0; r < repeats; r++) {
    log(`shadow priority: burst of ${burst}, round ${r + 1}/${repeats}`);
    alone.push(await one(false));
    withShadow.push(await one(true));
  }
  const median = (xs: number[]) => quantile(xs, 0.5);
  const championAlone = median(alone.map((m) => m.result.championDoneMs));
  const championWith = median(withShadow.map((m) => m.result.championDoneMs));
  const shadowDone = median(withShadow.map((m) => m.result.shadowDoneMs ?? Number.NaN));
  const capacity = burst / (shadowDone / 1000);
  const steadyRate = capacity / 2;
  const steadyCount = quick ? 12 : 24;
  log(`shadow priority: steady drip of ${steadyCount} at ${steadyRate.toFixed(2)} images/s (half of ${capacity.toFixed(2)})`);
  const steady = await one(true, { count: steadyCount, perSecond: steadyRate });
  const s = steady.result;
  const row = (label: string, m: Measured<ShadowPriorityResult>[]) => {
    const r = m.map((x) => x.result);
    return `${label.padEnd(34)} ${formatSpread(spreadOf(r.map((x) => x.championDoneMs / 1000)), 2).padEnd(20)} ${r[0]?.shadowDoneMs === null ? '-'.padEnd(20) : formatSpread(spreadOf(r.map((x) => (x.shadowDoneMs ?? 0) / 1000)), 2).padEnd(20)} ${String(median(r.map((x) => x.deferred))).padStart(8)} ${String(median(r.map((x) => x.shed))).padStart(5)} ${median(m.map((x) => x.peakRssMB)).toFixed(0).padStart(8)}`;
  };
  process.stdout.write(`\nshadow priority: champion mobilenet-v2, shadow inception-v3, burst of ${burst} ${IMAGE_SETS[setName]?.label ?? setName} JPEGs, ${repeats} round(s) each\n`);
  process.stdout.write(`${'run'.padEnd(34)} ${'last champion s'.padEnd(20)} ${'last shadow s'.padEnd(20)} ${'deferred'.padStart(8)} ${'shed'.padStart(5)} ${'RSS MB'.padStart(8)}\n`);
  process.stdout.write(`${row('burst, champion alone', alone)}\n${row('burst, with the shadow', withShadow)}\n`);
  process.stdout.write(
    `steady ${steadyCount} at ${steadyRate.toFixed(2)}/s (50 % of ${capacity.toFixed(2)}/s): coverage ${(((s.images - s.shed) / s.images) * 100).toFixed(0)} %, one request ${(((s.images - s.deferred) / s.images) * 100).toFixed(0)} %, ${s.late} late, ${s.shed} shed\n`,
  );
  process.stdout.write(`with-shadow/alone (last champion acknowledged) = ${(championWith / championAlone).toFixed(2)}\n`);
}
