/**
 * Fleet bench (issue 10 item 7): `agents` simulated agents post small images to (a) one SQLite `edgewatch serve`,
 * (b) two `serve` replicas on one PostgreSQL and one data folder, requests spread round-robin over the replicas as a
 * load balancer would. Each agent sends its images one at a time (as an outbox does) and retries some on purpose: the
 * same image again after its 201 (must be 409), and some to both replicas at once (one 201, one 409). Reports
 * requests/s, monitor-call p50/p99, stored, duplicates (409s), lost (sent but not stored) and stored twice.
 * Bounded in images and time; 127.0.0.1 only. `npm run bench -- --fleet` or `node --import tsx bench/fleet.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import sharp from 'sharp';
import { Pool } from 'undici';
import Database from 'better-sqlite3';
import { postgresInstalled, startPostgresCluster } from '../test/helpers/postgres.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Options of one fleet run. */
export interface FleetOptions {
  agents: number;
  imagesPerAgent: number;
  /** Every n-th image of an agent is sent again after its answer (expects 409). */
  retryEvery: number;
  /** Every n-th image is sent to two replicas at once (expects one 201 and one 409); with one service, twice at once. */
  raceEvery: number;
  /** Whole-run deadline: the run stops (and says so) past it. */
  deadlineMs: number;
}

/** Result of one configuration. */
export interface FleetResult {
  label: string;
  requests: number;
  seconds: number;
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  sent: number;
  stored: number;
  duplicates: number;
  lost: number;
  storedTwice: number;
  /** Answers other than 201/409 that were retried (503...) and requests that failed for good. */
  retried: number;
  failed: number;
  timedOut: boolean;
}

interface Service {
  url: string;
  child: ChildProcess;
}

/** `edgewatch serve` in its own process, from the sources through tsx (never a stale dist/; the code that runs is the same). */
async function startServe(args: string[]): Promise<Service> {
  const argv = ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'cli-entry.ts')];
  const child = spawn(process.execPath, [...argv, 'serve', '--port', '0', '--deployment', 'fleet', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err = (err + String(c)).slice(-4000)));
  const url = await new Promise<string>((ok, fail) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += String(c);
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) ok(m[1] as string);
    });
    child.once('exit', (code) => fail(new Error(`serve exited with ${code}: ${err}`)));
  });
  return { url, child };
}

async function stopServe(s: Service): Promise<void> {
  if (s.child.exitCode !== null) return;
  const exited = new Promise<void>((r) => s.child.once('exit', () => r()));
  s.child.kill('SIGTERM');
  await exited;
}

/** Distinct small JPEGs (64×48), one per image of the run, made before the clock starts. */
async function makeImages(n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i += 1) {
    const pixels = Buffer.alloc(64 * 48 * 3);
    for (let p = 0; p < pixels.length; p += 3) {
      const x = (p / 3) % 64;
      const y = Math.floor(p / 3 / 64);
      pixels[p] = (x * 4 + i) & 0xff;
      pixels[p + 1] = (y * 5 + (i >> 8)) & 0xff;
      pixels[p + 2] = ((x ^ y) + (i >> 16)) & 0xff;
    }
    out.push((await sharp(pixels, { raw: { width: 64, height: 48, channels: 3 } }).jpeg({ quality: 80 }).toBuffer()).toString('base64'));
  }
  return out;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

async function json(pool: Pool, method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await pool.request({ method, path, headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** One configuration: `targets` are the service URLs requests are spread over (round-robin). */
async function runFleet(label: string, targets: string[], token: string, images: string[], o: FleetOptions, countStored: () => Promise<{ stored: number; storedTwice: number }>): Promise<FleetResult> {
  const pools = targets.map((t) => new Pool(t, { connections: Math.ceil(o.agents / targets.length) + 8 }));
  try {
    const auth = { authorization: `Bearer ${token}` };
    const org = await json(pools[0] as Pool, 'GET', '/api/organizations/find?name=edge', auth);
    const dep = await json(pools[0] as Pool, 'GET', `/api/organization/${String(org.body.id)}/deployments/find?name=fleet`, auth);
    const deploymentId = String(dep.body.id);
    const prefix = new URL(String(dep.body.oracle_host)).pathname.replace(/\/$/, '');
    // Each agent logs in once, on the first replica; the JWT must be accepted by every replica.
    const jwts = await Promise.all(
      Array.from({ length: o.agents }, async () => String((await json(pools[0] as Pool, 'POST', `${prefix}/api/auth/login`, {}, JSON.stringify({ api_token: token, deployment_id: deploymentId }))).body.jwt)),
    );
    const latencies: number[] = [];
    let next = 0;
    let requests = 0;
    let duplicates = 0;
    let retried = 0;
    let failed = 0;
    let timedOut = false;
    const started = performance.now();
    const deadline = started + o.deadlineMs;
    const post = async (agent: number, body: string): Promise<number> => {
      for (let attempt = 0; ; attempt += 1) {
        const pool = pools[next++ % pools.length] as Pool;
        const t0 = performance.now();
        requests += 1;
        const res = await pool.request({ method: 'POST', path: `${prefix}/api/deployment/${deploymentId}/predictions`, headers: { authorization: `Bearer ${jwts[agent] as string}` }, body });
        await res.body.dump();
        latencies.push(performance.now() - t0);
        if (res.statusCode === 201 || res.statusCode === 409) {
          if (res.statusCode === 409) duplicates += 1;
          return res.statusCode;
        }
        if ((res.statusCode >= 500 || res.statusCode === 429) && attempt < 5 && performance.now() < deadline) {
          retried += 1;
          await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
          continue;
        }
        failed += 1;
        return res.statusCode;
      }
    };
    let sent = 0;
    await Promise.all(
      Array.from({ length: o.agents }, async (_, agent) => {
        for (let k = 0; k < o.imagesPerAgent; k += 1) {
          if (performance.now() > deadline) {
            timedOut = true;
            return;
          }
          const index = agent * o.imagesPerAgent + k;
          const body = JSON.stringify({
            filename: `cam-${agent}-${k}.jpg`, content_type: 'IMAGE/JPEG', width: 64, height: 48, latency: 0.012,
            raw_predictions: { detection_classes: [index % 3], detection_texts: null, detection_scores: [0.8] },
            shadow_latency: 0.015, shadow_raw_predictions: { detection_classes: [(index + (index % 7 === 0 ? 1 : 0)) % 3], detection_texts: null, detection_scores: [0.7] },
            timestamp: Date.now() / 1000, custom_metadata: { edgewatch: { imageId: `fleet-${agent}-${k}` } }, image: images[index],
          });
          sent += 1;
          if (o.raceEvery > 0 && k % o.raceEvery === o.raceEvery - 1) await Promise.all([post(agent, body), post(agent, body)]);
          else await post(agent, body);
          if (o.retryEvery > 0 && k % o.retryEvery === 0) await post(agent, body);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const { stored, storedTwice } = await countStored();
    return {
      label, requests, seconds, requestsPerS: requests / seconds, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99),
      sent, stored, duplicates, lost: Math.max(0, sent - (stored - storedTwice)), storedTwice, retried, failed, timedOut,
    };
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
}

/** Runs (a) one SQLite serve, (b) two replicas on PostgreSQL; `log` gets progress lines. Returns the results. */
export async function runFleetBench(o: FleetOptions, log: (line: string) => void): Promise<FleetResult[]> {
  const results: FleetResult[] = [];
  const n = o.agents * o.imagesPerAgent;
  log(`fleet bench: ${o.agents} agents × ${o.imagesPerAgent} images (64×48 JPEG), a retry after every ${o.retryEvery}th, a race to two replicas every ${o.raceEvery}th`);
  const images = await makeImages(n);
  {
    const dir = await mkdtemp(join(tmpdir(), 'edgewatch-fleet-sqlite-'));
    const s = await startServe(['--data-dir', dir]);
    try {
      const token = (await readFile(join(dir, 'token'), 'utf8')).trim();
      const r = await runFleet('one serve, SQLite', [s.url], token, images, o, async () => {
        const db = new Database(join(dir, 'monitoring.db'), { readonly: true });
        try {
          const stored = (db.prepare('SELECT COUNT(*) AS n FROM predictions').get() as { n: number }).n;
          const twice = (db.prepare('SELECT COUNT(*) AS n FROM (SELECT image_key FROM predictions GROUP BY image_key HAVING COUNT(*) > 1)').get() as { n: number }).n;
          return { stored, storedTwice: twice };
        } finally {
          db.close();
        }
      });
      results.push(r);
      log(`  ${r.label}: ${r.requestsPerS.toFixed(0)} requests/s`);
    } finally {
      await stopServe(s);
      await rm(dir, { recursive: true, force: true });
    }
  }
  if (!postgresInstalled()) {
    log('  PostgreSQL not installed (/usr/lib/postgresql/15/bin): replicas skipped');
    return results;
  }
  const cluster = await startPostgresCluster();
  const dir = await mkdtemp(join(tmpdir(), 'edgewatch-fleet-pg-'));
  try {
    const database = await cluster.createDatabase();
    const replicas = await Promise.all([0, 1].map(() => startServe(['--data-dir', dir, '--database', database])));
    try {
      const token = (await readFile(join(dir, 'token'), 'utf8')).trim();
      const r = await runFleet('two serve replicas, PostgreSQL', replicas.map((s) => s.url), token, images, o, async () => {
        const client = new pg.Client({ connectionString: database });
        await client.connect();
        try {
          const stored = Number((await client.query('SELECT COUNT(*) AS n FROM predictions')).rows[0].n);
          const twice = Number((await client.query('SELECT COUNT(*) AS n FROM (SELECT image_key FROM predictions GROUP BY image_key HAVING COUNT(*) > 1) AS d')).rows[0].n);
          return { stored, storedTwice: twice };
        } finally {
          await client.end();
        }
      });
      results.push(r);
      log(`  ${r.label}: ${r.requestsPerS.toFixed(0)} requests/s`);
    } finally {
      await Promise.all(replicas.map(stopServe));
    }
  } finally {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}

/** The results as a Markdown table. */
export function fleetTable(results: readonly FleetResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.label} | ${r.requests} | ${r.requestsPerS.toFixed(0)} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.sent} | ${r.stored} | ${r.duplicates} | ${r.lost} | ${r.storedTwice} | ${r.retried} / ${r.failed}${r.timedOut ? ' (deadline hit)' : ''} |`,
  );
  return ['| configuration | requests | requests/s | p50 ms | p99 ms | images sent | stored | duplicates (409) | lost | stored twice | retried / failed |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { agents: { type: 'string', default: '50' }, images: { type: 'string', default: '40' }, 'deadline-s': { type: 'string', default: '180' } },
  });
  const results = await runFleetBench(
    { agents: Number(values.agents), imagesPerAgent: Number(values.images), retryEvery: 10, raceEvery: 8, deadlineMs: Number(values['deadline-s']) * 1000 },
    (line) => void process.stderr.write(`${line}\n`),
  );
  process.stdout.write(`${fleetTable(results)}\n`);
}
