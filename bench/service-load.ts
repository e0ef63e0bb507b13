/**
 * `npm run bench -- --service [--service-n N]`: the monitoring service at scale. Fills N predictions (default 10 M)
 * through the store API (`PredictionStore.insertMany`, 10,000 per transaction, no images), one a second back from
 * now, and at 100 k, 1 M and 10 M (those ≤ N) starts the service in its own process on that database and measures:
 * stats latency (the dashboard document and the SDK's metrics) for the windows All / last day / last hour, monitor
 * latency while 10 dashboards poll every 3 s, and the service's RSS. Also run as `service-load.ts child <dataDir>`:
 * the service process itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import sharp from 'sharp';
import { request } from 'undici';
import { createRng as rng } from '../src/demo/shapes.js';

const LABELS = ['drawing', 'hentai', 'neutral', 'porn', 'sexy'];
const TOKEN = 'bench-service-token-0123456789';
const DEPLOYMENT = 'bench';
const BATCH = 10_000;
const POLL_MS = 3000;

if (process.argv[2] === 'child') {
  const { serveConfigSchema, startServer } = await import('../src/server/index.js');
  const config = serveConfigSchema.parse({ dataDir: process.argv[3], port: 0, token: TOKEN, minFreeGb: 0, organization: 'bench', deployment: [{ name: DEPLOYMENT, type: 'CLASSIFICATION', labels: LABELS }] });
  const server = await startServer(config, {});
  const deploymentId = server.organizations[0]?.deployments[0]?.id;
  // The event loop's delay and the GC pauses while the monitor calls run (from SIGUSR2 to SIGTERM): what a slow call waited for.
  const { monitorEventLoopDelay, PerformanceObserver } = await import('node:perf_hooks');
  const loop = monitorEventLoopDelay({ resolution: 5 });
  const gc: number[] = [];
  new PerformanceObserver((list) => gc.push(...list.getEntries().map((e) => e.duration))).observe({ entryTypes: ['gc'] });
  process.on('SIGUSR2', () => {
    loop.reset();
    loop.enable();
    gc.length = 0;
  });
  process.stdout.write(`${JSON.stringify({ url: server.url, deploymentId })}\n`);
  const stop = () => {
    loop.disable();
    const ms = (ns: number) => ns / 1e6;
    process.stdout.write(`${JSON.stringify({ loopDelay: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) }, gc: { n: gc.length, totalMs: gc.reduce((a, b) => a + b, 0), maxMs: Math.max(0, ...gc) } })}\n`);
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}


function lognormal(random: () => number, median: number, sigma: number): number {
  return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random()));
}

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.max(1, Math.ceil((p / 100) * s.length)) - 1] as number);
}

/** What the service process measured on itself during the monitor calls. */
interface ChildReport {
  loopDelay: { p50: number; p99: number; max: number };
  gc: { n: number; totalMs: number; maxMs: number };
}

async function startChild(dataDir: string): Promise<{ url: string; deploymentId: string; child: ChildProcess; report: Promise<ChildReport | undefined> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, 'child', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => { throw new Error('service exited at start'); })])) as [string];
  const report = Promise.race([
    once(lines, 'line').then(([l]) => JSON.parse(l as string) as ChildReport),
    once(child, 'exit').then(() => undefined),
  ]);
  return { ...(JSON.parse(line) as { url: string; deploymentId: string }), child, report };
}

/** The `Server-Timing` phases of a reply, in ms. */
function phasesOf(header: string | string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of String(header ?? '').split(',')) {
    const m = /^\s*([a-z]+);dur=([\d.]+)/.exec(part);
    if (m) out[m[1] as string] = Number(m[2]);
  }
  return out;
}

async function rssOf(pid: number): Promise<{ rssMB: number; peakMB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMB: kb('VmRSS') / 1024, peakMB: kb('VmHWM') / 1024 };
}

async function timedGet(url: string): Promise<number> {
  const t0 = performance.now();
  const res = await request(url, { headers: { authorization: `Bearer ${TOKEN}` } });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${url} answered ${res.statusCode}: ${text.slice(0, 300)}`);
  return performance.now() - t0;
}

/** What one checkpoint measured. */
export interface ServiceCheckpoint {
  predictions: number;
  stats: Record<string, { p50: number; p95: number }>;
  monitor: { n: number; p50: number; p99: number; max: number };
  /** Per phase of the monitor call (Server-Timing): p50 / p99 over every call, and the mean over the slowest 1 % of calls. */
  phases: Record<string, { p50: number; p99: number; slowMean: number }>;
  child: ChildReport | undefined;
  rssMB: number;
  peakRssMB: number;
  dbMB: number;
}

async function measureCheckpoint(dataDir: string, predictions: number, log: (l: string) => void): Promise<ServiceCheckpoint> {
  const { url, deploymentId, child, report } = await startChild(dataDir);
  try {
    const nowS = Date.now() / 1000;
    const base = `${url}/api/deployment/${deploymentId}`;
    const windows: [string, string][] = [
      ['All', ''],
      ['last day', `from=${Math.floor(nowS - 86_400)}`],
      ['last hour', `from=${Math.floor(nowS - 3600)}`],
    ];
    const stats: ServiceCheckpoint['stats'] = {};
    for (const [name, q] of windows) {
      for (const [kind, path] of [['dashboard', `${base}/stats?${q}`], ['SDK metrics', `${base}/stats?service=metrics&${q.replace('from=', 'from_timestamp=')}`]] as const) {
        for (let i = 0; i < 3; i++) await timedGet(path);
        const ms: number[] = [];
        for (let i = 0; i < 30; i++) ms.push(await timedGet(path));
        stats[`${kind}, ${name}`] = { p50: pct(ms, 50), p95: pct(ms, 95) };
      }
      log(`  ${predictions.toLocaleString('en')}: stats ${name}: dashboard p95 ${stats[`dashboard, ${name}`]?.p95.toFixed(1)} ms, SDK metrics p95 ${stats[`SDK metrics, ${name}`]?.p95.toFixed(1)} ms`);
    }
    // Monitor calls (one small JPEG each, sequential) while 10 dashboards refresh every 3 s (stats + gallery, as the page does).
    const login = await request(`${url}/oracle/api/auth/login`, { method: 'POST', body: JSON.stringify({ api_token: TOKEN, deployment_id: deploymentId }) });
    const { jwt } = (await login.body.json()) as { jwt: string };
    let polling = true;
    const dashboards = Array.from({ length: 10 }, async (_, d) => {
      await new Promise((r) => setTimeout(r, (d * POLL_MS) / 10));
      while (polling) {
        const t0 = performance.now();
        await Promise.all([timedGet(`${base}/stats`), timedGet(`${base}/predictions?limit=24&order=disagreements-first`)]);
        await new Promise((r) => setTimeout(r, Math.max(0, POLL_MS - (performance.now() - t0))));
      }
    });
    // A kept folder is measured again: the image ids of this run are its own.
    const run = randomUUID();
    const monitorMs: number[] = [];
    const phaseMs: Record<string, number>[] = [];
    const random = rng(predictions);
    child.kill('SIGUSR2');
    const deadline = performance.now() + 30_000;
    for (let i = 0; performance.now() < deadline; i++) {
      const image = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: i % 256, g: (i >> 8) % 256, b: 7 } } }).jpeg().toBuffer();
      const body = JSON.stringify({
        filename: `m${i}.jpg`, content_type: 'IMAGE/JPEG', height: 32, width: 32,
        raw_predictions: { detection_classes: [i % 5], detection_texts: null, detection_scores: [0.9] }, latency: lognormal(random, 0.02, 0.3),
        timestamp: Date.now() / 1000, custom_metadata: { edgewatch: { imageId: `bench-monitor-${run}-${i}` } }, image: image.toString('base64'),
      });
      const t0 = performance.now();
      const res = await request(`${url}/oracle/api/deployment/${deploymentId}/predictions`, { method: 'POST', body, headers: { authorization: `Bearer ${jwt}` } });
      await res.body.text();
      if (res.statusCode !== 201) {
        polling = false;
        throw new Error(`monitor answered ${res.statusCode}`);
      }
      const total = performance.now() - t0;
      monitorMs.push(total);
      const phases = phasesOf(res.headers['server-timing']);
      // Outside the handler: waiting for the event loop, the HTTP parsing and the client's own scheduling.
      phases.outside = Math.max(0, total - Object.values(phases).reduce((a, b) => a + b, 0) + (phases.check ?? 0) + (phases.image ?? 0) - Math.max(phases.check ?? 0, phases.image ?? 0));
      phaseMs.push(phases);
      await new Promise((r) => setTimeout(r, 50));
    }
    polling = false;
    await Promise.all(dashboards);
    const mem = await rssOf(child.pid as number);
    const sizeOf = (f: string) => stat(join(dataDir, f)).then((st) => st.size).catch(() => 0);
    const db = (await sizeOf('monitoring.db')) + (await sizeOf('monitoring.db-wal'));
    const walMB = (await sizeOf('monitoring.db-wal')) / 1e6;
    const slowest = monitorMs.map((ms, i) => ({ ms, i })).sort((a, b) => b.ms - a.ms).slice(0, Math.max(1, Math.ceil(monitorMs.length / 100)));
    const phases: ServiceCheckpoint['phases'] = {};
    for (const name of ['read', 'parse', 'lookup', 'check', 'image', 'db', 'outside']) {
      const all = phaseMs.map((p) => p[name] ?? 0);
      phases[name] = { p50: pct(all, 50), p99: pct(all, 99), slowMean: slowest.reduce((a, s) => a + (phaseMs[s.i]?.[name] ?? 0), 0) / slowest.length };
    }
    child.kill('SIGTERM');
    const childReport = await report;
    log(`  ${predictions.toLocaleString('en')}: monitor p50 / p99 ${pct(monitorMs, 50).toFixed(1)} / ${pct(monitorMs, 99).toFixed(1)} ms (n ${monitorMs.length}, slowest 1 %: ${slowest.map((s) => s.ms.toFixed(0)).join(' ')} ms); WAL ${walMB.toFixed(1)} MB`);
    log(`    phases ms p50 / p99 / mean of the slowest 1 %: ${Object.entries(phases).map(([k, v]) => `${k} ${v.p50.toFixed(1)} / ${v.p99.toFixed(1)} / ${v.slowMean.toFixed(1)}`).join(', ')}`);
    if (childReport) log(`    service event-loop delay p50 / p99 / max ${childReport.loopDelay.p50.toFixed(1)} / ${childReport.loopDelay.p99.toFixed(1)} / ${childReport.loopDelay.max.toFixed(1)} ms; GC ${childReport.gc.n} pauses, ${childReport.gc.totalMs.toFixed(0)} ms in all, longest ${childReport.gc.maxMs.toFixed(1)} ms`);
    return { predictions, stats, monitor: { n: monitorMs.length, p50: pct(monitorMs, 50), p99: pct(monitorMs, 99), max: Math.max(...monitorMs) }, phases, child: childReport, rssMB: mem.rssMB, peakRssMB: mem.peakMB, dbMB: db / 1e6 };
  } finally {
    if (!child.killed) child.kill('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }
}

/** Runs the service bench and prints its table. */
export async function runServiceBench(total: number, log: (l: string) => void): Promise<void> {
  const { PredictionStore } = await import('../src/server/store.js');
  const { stableUuid } = await import('../src/server/config.js');
  // EDGEWATCH_BENCH_SERVICE_DIR keeps the filled folder and reuses it (A/B runs of the service on the same database).
  const kept = process.env.EDGEWATCH_BENCH_SERVICE_DIR;
  const dataDir = kept ?? (await mkdtemp(join(tmpdir(), 'edgewatch-service-bench-')));
  await mkdir(join(dataDir, 'datalake'), { recursive: true });
  const deploymentId = stableUuid(`deployment:bench/${DEPLOYMENT}`);
  const checkpoints = [100_000, 1_000_000, 10_000_000].filter((c) => c <= total);
  if (!checkpoints.includes(total)) checkpoints.push(total);
  const random = rng(42);
  const nowS = Math.floor(Date.now() / 1000);
  const results: ServiceCheckpoint[] = [];
  let filled = 0;
  let insertS = 0;
  if (kept !== undefined) {
    const store = new PredictionStore(join(dataDir, 'monitoring.db'));
    filled = store.count(deploymentId);
    store.close();
  }
  try {
    for (const target of checkpoints) {
      // A kept folder already filled past this checkpoint: only the last one is measured again.
      if (filled > target && target !== checkpoints.at(-1)) continue;
      const store = new PredictionStore(join(dataDir, 'monitoring.db'));
      const t0 = performance.now();
      while (filled < target) {
        const batch = [];
        for (let k = 0; k < BATCH && filled < target; k++, filled++) {
          // One image a second back from now, two cameras, two tags, a promotion halfway back; the shadow on 9 images in 10, agreeing 9 times in 10.
          const c = Math.floor(random() * 5);
          const hasShadow = random() < 0.9;
          const s = random() < 0.9 ? c : (c + 1) % 5;
          const old = filled > total / 2;
          batch.push({
            id: randomUUID(), deploymentId, imageKey: `bench-${filled}`, filename: `f${filled}.jpg`, contentType: 'IMAGE/JPEG', width: 1920, height: 1080,
            imagePath: 'none', imageBytes: 0,
            champion: { detection_classes: [c], detection_texts: null, detection_scores: [0.5 + random() / 2] }, championClass: c, championScore: 0.5 + random() / 2, latencyS: lognormal(random, 0.02, 0.25),
            shadow: hasShadow ? { detection_classes: [s], detection_texts: null, detection_scores: [0.6] } : null, shadowClass: hasShadow ? s : null, shadowScore: hasShadow ? 0.6 : null, shadowLatencyS: hasShadow ? lognormal(random, 0.045, 0.25) : null,
            source: filled % 2 === 0 ? 'cam-a' : 'cam-b', tags: [filled % 3 === 0 ? 'day' : 'night'], metadata: null, customMetadata: null,
            timestampS: nowS - filled, receivedS: nowS - filled, championVersionId: old ? 'v1' : 'v2', shadowVersionId: hasShadow ? (old ? 'v2' : 'v3') : null,
          });
        }
        store.insertMany(batch);
        if (filled % 1_000_000 === 0) log(`  filled ${filled.toLocaleString('en')} (${((performance.now() - t0) / 1000).toFixed(0)} s for this step)`);
      }
      insertS += (performance.now() - t0) / 1000;
      store.close();
      log(`filled ${filled.toLocaleString('en')} predictions (${(filled / insertS).toFixed(0)} inserts/s so far); measuring the service…`);
      results.push(await measureCheckpoint(dataDir, target, log));
    }
  } finally {
    if (kept === undefined) await rm(dataDir, { recursive: true, force: true });
  }
  const out: string[] = ['', `monitoring service at scale: ${filled.toLocaleString('en')} predictions filled through PredictionStore.insertMany at ${(filled / insertS).toFixed(0)} predictions/s (aggregates included)`];
  out.push('stats latency over HTTP, ms (p50 / p95 of 30 sequential calls after 3 warm-ups); monitor: sequential posts of a 32x32 JPEG for 30 s while 10 dashboards refresh every 3 s');
  const keys = Object.keys(results[0]?.stats ?? {});
  out.push(`${'predictions'.padEnd(30)} ${results.map((r) => r.predictions.toLocaleString('en').padStart(16)).join(' ')}`);
  for (const k of keys) out.push(`${`stats ${k}`.padEnd(30)} ${results.map((r) => `${r.stats[k]?.p50.toFixed(1)} / ${r.stats[k]?.p95.toFixed(1)}`.padStart(16)).join(' ')}`);
  out.push(`${'monitor p50 / p99 (n)'.padEnd(30)} ${results.map((r) => `${r.monitor.p50.toFixed(1)} / ${r.monitor.p99.toFixed(1)} (${r.monitor.n})`.padStart(16)).join(' ')}`);
  out.push(`${'service RSS / peak, MB'.padEnd(30)} ${results.map((r) => `${r.rssMB.toFixed(0)} / ${r.peakRssMB.toFixed(0)}`.padStart(16)).join(' ')}`);
  out.push(`${'database, MB'.padEnd(30)} ${results.map((r) => r.dbMB.toFixed(0).padStart(16)).join(' ')}`);
  const first = results[0];
  const last = results.at(-1);
  if (first && last && first !== last) {
    out.push('ratio of stats p95, largest / smallest: ' + keys.map((k) => `${k} ${((last.stats[k]?.p95 ?? NaN) / (first.stats[k]?.p95 ?? NaN)).toFixed(2)}`).join(', '));
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
