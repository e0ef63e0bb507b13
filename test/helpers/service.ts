/**
 * Fixtures of the fault tests: the embedded monitoring service on 127.0.0.1 (stoppable and
 * restartable on the same port), a direct view of what it stored, distinct small JPEGs, the
 * agent's state database, and condition polling.
 *
 * ```ts
 * const service = await startService(t);                       // closed in t.after
 * const argv = agentArgs({ host: service.url, inbox, stateDir }, ['--once']);
 * await waitUntil(() => service.count() === 200, 60_000, 'all stored');
 * const rows = service.predictions();                          // insertion order
 * ```
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { Agent } from '../../src/agent.js';
import { agentConfigSchema, ENV_ALIASES } from '../../src/config/schema.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { serveConfigSchema, startServer, type RunningServer } from '../../src/server/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEMO_CHAMPION = join(ROOT, 'models', 'demo-champion');
export const DEMO_SHADOW = join(ROOT, 'models', 'demo-shadow');

/** One stored prediction, as the fault tests need it. */
export interface StoredRow {
  /** Insertion order in the service's database. */
  seq: number;
  imageKey: string;
  /** `custom_metadata.edgewatch.imageId`. */
  imageId: string | null;
  /** `custom_metadata.edgewatch.capturedAt`. */
  capturedAt: number | null;
  filename: string;
  timestampS: number;
  receivedS: number;
}

/** The embedded service of one test. */
export interface TestService {
  readonly url: string;
  readonly port: number;
  readonly token: string;
  readonly deploymentId: string;
  readonly dataDir: string;
  /** True while listening. */
  readonly running: boolean;
  /** Stored predictions of the deployment, in insertion order (works while stopped too). */
  predictions(): StoredRow[];
  count(): number;
  /** Stored predictions that have their shadow's (in the request or sent late). */
  countWithShadow(): number;
  /** Stops listening (the port stays free for `restart`). */
  stop(): Promise<void>;
  /** Listens again on the same port with the same data folder, token and ids. */
  restart(): Promise<void>;
}

/** A fresh temp folder, removed after the test. */
export async function tempFolder(t: TestContext, prefix = 'edgewatch-fault-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts the embedded service (organization `edge`, deployment `demo`) on 127.0.0.1; closed in `t.after`. */
export async function startService(t: TestContext, options: { dataDir?: string } = {}): Promise<TestService> {
  const dataDir = options.dataDir ?? (await tempFolder(t, 'edgewatch-service-'));
  let server: RunningServer | undefined = await startServer(serveConfigSchema.parse({ dataDir, port: 0 }), {});
  const port = server.port;
  const url = server.url;
  const token = server.token;
  const deploymentId = server.organizations[0]?.deployments[0]?.id ?? '';
  let db: Database.Database | undefined;
  const open = () => (db ??= new Database(join(dataDir, 'monitoring.db'), { readonly: true, fileMustExist: true }));
  t.after(async () => {
    db?.close();
    await server?.close();
  });
  return {
    url,
    port,
    token,
    deploymentId,
    dataDir,
    get running() {
      return server !== undefined;
    },
    predictions() {
      const rows = open()
        .prepare('SELECT rowid AS seq, image_key, filename, timestamp_s, received_s, custom_metadata_json FROM predictions WHERE deployment_id = ? ORDER BY rowid')
        .all(deploymentId) as { seq: number; image_key: string; filename: string; timestamp_s: number; received_s: number; custom_metadata_json: string | null }[];
      return rows.map((r) => {
        const meta = r.custom_metadata_json ? (JSON.parse(r.custom_metadata_json) as { edgewatch?: { imageId?: string; capturedAt?: number } }) : {};
        return {
          seq: r.seq,
          imageKey: r.image_key,
          imageId: meta.edgewatch?.imageId ?? null,
          capturedAt: meta.edgewatch?.capturedAt ?? null,
          filename: r.filename,
          timestampS: r.timestamp_s,
          receivedS: r.received_s,
        };
      });
    },
    count() {
      return (open().prepare('SELECT COUNT(*) AS n FROM predictions WHERE deployment_id = ?').get(deploymentId) as { n: number }).n;
    },
    countWithShadow() {
      return (open().prepare('SELECT COUNT(*) AS n FROM predictions WHERE deployment_id = ? AND shadow_json IS NOT NULL').get(deploymentId) as { n: number }).n;
    },
    async stop() {
      const s = server;
      server = undefined;
      await s?.close();
    },
    async restart() {
      if (server) return;
      server = await startServer(serveConfigSchema.parse({ dataDir, port, token }), {});
    },
  };
}

/** `run` arguments for the demo models against `host`, fast retries, JSON logs. */
export function agentArgs(o: { host: string; inbox: string; stateDir: string }, extra: string[] = []): string[] {
  return [
    'run', '--watch', o.inbox,
    '--champion', DEMO_CHAMPION, '--shadow', DEMO_SHADOW,
    '--host', o.host, '--organization', 'edge', '--deployment', 'demo',
    '--state-dir', o.stateDir, '--stable-ms', '20', '--retry-base-ms', '5', '--retry-max-ms', '200',
    '--log-format', 'json', ...extra,
  ];
}

/** An agent running in the test process: its JSON log lines are collected; closed in `t.after`. */
export async function startAgent(t: TestContext, argv: string[], env: Record<string, string>): Promise<{ agent: Agent; logs: Record<string, unknown>[] }> {
  const [command, ...rest] = argv;
  if (command !== 'run') throw new Error('startAgent takes `run` arguments');
  const { config } = loadConfig(agentConfigSchema, { argv: rest, env, envAliases: ENV_ALIASES });
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const agent = await Agent.start(config, { logger: createLogger({ level: config.logLevel, format: 'json', destination }) });
  t.after(() => agent.close());
  return { agent, logs };
}

/** `count` small JPEGs (width×height) whose bytes are all different: the index is drawn as black/white blocks. */
export async function distinctJpegs(count: number, options: { width?: number; height?: number; offset?: number } = {}): Promise<Buffer[]> {
  const width = options.width ?? 48;
  const height = options.height ?? 32;
  const block = 4;
  const out: Buffer[] = [];
  const seen = new Set<string>();
  for (let n = 0; n < count; n += 1) {
    const index = n + (options.offset ?? 0);
    const pixels = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y += 1) {
      for (let x = 0; x < width; x += 1) {
        const i = (y * width + x) * 3;
        const bit = Math.floor(x / block) + Math.floor(y / block) * Math.floor(width / block);
        const on = bit < 24 ? (index >> bit) & 1 : (x + y + index) % 3 === 0 ? 1 : 0;
        pixels[i] = on ? 240 : 15;
        pixels[i + 1] = on ? 230 : (x * 5) & 0xff;
        pixels[i + 2] = on ? 220 : (y * 7) & 0xff;
      }
    }
    const jpeg = await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    const hash = createHash('sha256').update(jpeg).digest('hex');
    if (seen.has(hash)) throw new Error(`distinctJpegs: image ${index} has the same bytes as an earlier one`);
    seen.add(hash);
    out.push(jpeg);
  }
  return out;
}

/** A fresh temp folder with `inbox/` holding `count` distinct JPEGs (`distinctJpegs` from `offset`) named `<prefix><i>.jpg`. */
export async function inboxOfJpegs(t: TestContext, count: number, options: { offset?: number; prefix?: string } = {}): Promise<{ dir: string; inbox: string }> {
  const dir = await tempFolder(t);
  const inbox = join(dir, 'inbox');
  await mkdir(inbox);
  for (const [i, bytes] of (await distinctJpegs(count, { offset: options.offset ?? 0 })).entries()) await writeFile(join(inbox, `${options.prefix ?? 'img-'}${i}.jpg`), bytes);
  return { dir, inbox };
}

/** A fresh temp folder with `inbox/` (to watch) and `staging/` beside it, on the same filesystem, for `dropImage`. */
export async function dropFolders(t: TestContext): Promise<{ dir: string; inbox: string; staging: string }> {
  const dir = await tempFolder(t);
  const inbox = join(dir, 'inbox');
  const staging = join(dir, 'staging');
  await mkdir(inbox);
  await mkdir(staging);
  return { dir, inbox, staging };
}

/** Puts a whole file in the inbox: written in staging (with capture time `mtimeS` when given), then renamed in, so the watcher never sees it half written. */
export async function dropImage(folders: { inbox: string; staging: string }, name: string, bytes: Buffer, mtimeS?: number): Promise<void> {
  const staged = join(folders.staging, name);
  await writeFile(staged, bytes);
  if (mtimeS !== undefined) await utimes(staged, mtimeS, mtimeS);
  await rename(staged, join(folders.inbox, name));
}

/** Polls `condition` every `everyMs` until true; throws after `timeoutMs` with `what` and the optional `detail()`. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string, detail?: () => string, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `: ${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Read-only queries on an agent's state database (`<stateDir>/edgewatch.db`). */
export function stateDbQuery<T>(stateDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(join(stateDir, 'edgewatch.db'), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** A deterministic pseudo-random generator (mulberry32) in [0, 1): the demo's, the same sequences. */
export { createRng as seededRandom } from '../../src/demo/shapes.js';
