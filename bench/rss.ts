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

/** One configuration: flags added to `run`. */
export interface RssConfig {
  label: string;
  champion: string;
  shadow?: string;
  workers?: number;
  shadowWorkers?: number;
  /** Node options before the script and environment added to the run (the service files' memory settings). */
  nodeArgs?: string[];
  env?: Record<string, string>;
}

export interface RssResult {
  label: string;
  peakRssMb: number;
  hosts: number;
  monitored: number;
  /** Images per second from "processing the files present" to the stop line. */
  imagesPerSecond: number;
}

const BIN = resolve(import.meta.dirname, '..', 'bin', 'edgewatch.js');

/** Runs the CLI once over `files` for each configuration, against a fresh embedded service each time. */
export async function measureRss(configs: RssConfig[], files: string[], labels: string[], log: (line: string) => void): Promise<RssResult[]> {
  const results: RssResult[] = [];
  for (const config of configs) {
    const dir = await mkdtemp(join(tmpdir(), 'edgewatch-rss-'));
    try {
      const inbox = join(dir, 'inbox');
      await mkdir(inbox);
      await Promise.all(files.map((f, i) => copyFile(f, join(inbox, `${String(i).padStart(3, '0')}-${basename(f)}`))));
      const service = await startBenchService(join(dir, 'service'), labels);
      try {
        results.push(await runOnce(config, inbox, join(dir, 'state'), service));
      } finally {
        await service.close();
      }
      const r = results[results.length - 1]!;
      log(`  rss ${config.label}: peak ${r.peakRssMb} MB, ${r.hosts} host(s), ${r.monitored} monitored, ${r.imagesPerSecond.toFixed(1)} images/s`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return results;
}

function runOnce(config: RssConfig, inbox: string, stateDir: string, service: { url: string; token: string; organization: string; deployment: string }): Promise<RssResult> {
  const args = [BIN, 'run', '--once', '--log-format', 'json', '--watch', inbox, '--champion', config.champion, '--host', service.url, '--organization', service.organization, '--deployment', service.deployment, '--state-dir', stateDir];
  if (config.shadow) args.push('--shadow', config.shadow);
  if (config.workers !== undefined) args.push('--workers', String(config.workers));
  if (config.shadowWorkers !== undefined) args.push('--shadow-workers', String(config.shadowWorkers));
  const child = spawn(process.execPath, [...(config.nodeArgs ?? []), ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...config.env, PICSELLIA_API_TOKEN: service.token } });
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
      else resolvePromise({ label: config.label, ...stopped, hosts, imagesPerSecond: stopped.monitored / ((performance.now() - processingAt) / 1000) });
    });
  });
}
