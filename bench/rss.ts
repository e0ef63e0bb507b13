/**
 * `npm run bench -- --rss`: peak RSS per configuration, measured on the real CLI (`bin/edgewatch.js run
 * --once`, the built agent as users run it) over the same 1080p images, with the hosts each layout starts
 * and where their memory goes (V8 heap and wasm memory per host, from the agent's own log line).
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { startBenchService } from './service.js';
import { spreadOf, type Spread } from './stats.js';

/** One configuration: flags added to `run`. */
export interface RssConfig {
  label: string;
  champion: string;
  shadow?: string;
  workers?: number;
  shadowWorkers?: number;
  /** Environment added to the run (the service files' memory setting). */
  env?: Record<string, string>;
}

/** One run of one configuration. */
interface RssRun {
  peakRssMb: number;
  hosts: number;
  monitored: number;
  /** Images per second from "processing the files present" to the stop line. */
  imagesPerSecond: number;
}

/** A configuration over its runs: the peak's median and spread (it varies run to run with allocator and GC timing). */
export interface RssResult {
  label: string;
  hosts: number;
  peakRssMb: Spread;
  imagesPerSecond: number;
}

const BIN = resolve(import.meta.dirname, '..', 'bin', 'edgewatch.js');

/**
 * Runs the CLI over `files` `rounds` times for each configuration (round by round, so that a noisy
 * moment of the machine spreads over every configuration), against a fresh embedded service each time.
 */
export async function measureRss(configs: RssConfig[], files: string[], labels: string[], log: (line: string) => void, rounds = 1): Promise<RssResult[]> {
  const runs: RssRun[][] = configs.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, config] of configs.entries()) {
      const dir = await mkdtemp(join(tmpdir(), 'edgewatch-rss-'));
      try {
        const inbox = join(dir, 'inbox');
        await mkdir(inbox);
        await Promise.all(files.map((f, n) => copyFile(f, join(inbox, `${String(n).padStart(3, '0')}-${basename(f)}`))));
        const service = await startBenchService(join(dir, 'service'), labels);
        let r: RssRun;
        try {
          r = await runOnce(config, inbox, join(dir, 'state'), service);
        } finally {
          await service.close();
        }
        runs[i]!.push(r);
        log(`  rss ${config.label} (round ${round + 1}/${rounds}): peak ${r.peakRssMb} MB, ${r.hosts} host(s), ${r.monitored} monitored, ${r.imagesPerSecond.toFixed(1)} images/s`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  return configs.map((config, i) => {
    return {
      label: config.label,
      hosts: runs[i]![0]!.hosts,
      peakRssMb: spreadOf(runs[i]!.map((r) => r.peakRssMb)),
      imagesPerSecond: spreadOf(runs[i]!.map((r) => r.imagesPerSecond)).median,
    };
  });
}

function runOnce(config: RssConfig, inbox: string, stateDir: string, service: { url: string; token: string; organization: string; deployment: string }): Promise<RssRun> {
  const args = [BIN, 'run', '--once', '--log-format', 'json', '--watch', inbox, '--champion', config.champion, '--host', service.url, '--organization', service.organization, '--deployment', service.deployment, '--state-dir', stateDir];
  if (config.shadow) args.push('--shadow', config.shadow);
  if (config.workers !== undefined) args.push('--workers', String(config.workers));
  if (config.shadowWorkers !== undefined) args.push('--shadow-workers', String(config.shadowWorkers));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...config.env, PICSELLIA_API_TOKEN: service.token } });
  return new Promise((resolvePromise, reject) => {
    let processingAt = 0;
    let hosts = 0;
    let stopped: { peakRssMb: number; monitored: number } | undefined;
    const tail: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (typeof record.msg === 'string' && record.msg.startsWith('models ready') && Array.isArray(record.hosts)) hosts = record.hosts.length;
      if (record.msg === 'processing the files present') processingAt = performance.now();
      if (record.msg === 'stopped') stopped = { peakRssMb: Number(record.peakRssMb), monitored: Number(record.monitored) };
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (!stopped || code !== 0) reject(new Error(`edgewatch run (${config.label}) exited with ${code}: ${tail.join('\n')}`));
      else resolvePromise({ ...stopped, hosts, imagesPerSecond: stopped.monitored / ((performance.now() - processingAt) / 1000) });
    });
  });
}
