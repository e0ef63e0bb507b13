/**
 * The service units and the container recipe in deploy/ (neither systemd nor a Docker daemon runs
 * here): their key options, ExecStart flags that the CLI really has and a configuration it accepts,
 * `systemd-analyze verify` where it exists, and the image's HEALTHCHECK command run against a real
 * metrics port (exit 0 when ready, 1 when not).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { z } from 'zod';
import { agentConfigSchema, ENV_ALIASES } from '../../src/config/schema.js';
import { describeFields } from '../../src/config/fields.js';
import { loadConfig } from '../../src/config/load.js';
import { startMetricsServer } from '../../src/metrics/metrics-server.js';
import { serveConfigSchema } from '../../src/server/config.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);

/** `[Section]` → key → values (a key may repeat), comments and blank lines skipped. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1] as string, current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current && eq > 0, `a key=value line inside a section: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

function one(unit: Map<string, Map<string, string[]>>, section: string, key: string): string {
  const values = unit.get(section)?.get(key);
  assert.ok(values && values.length === 1, `[${section}] ${key} is set once`);
  return values[0] as string;
}

/** ExecStart's `--flag value` pairs, each checked against the command's schema. */
function execFlags(execStart: string, schema: z.ZodObject, command: string): { binary: string; argv: string[] } {
  const [binary, cmd, ...argv] = execStart.split(/\s+/);
  assert.equal(cmd, command);
  const known = new Set(describeFields(schema).map((f) => f.flag));
  for (const a of argv) if (a.startsWith('--')) assert.ok(known.has(a), `${a} is a flag of edgewatch ${command}`);
  return { binary: binary as string, argv };
}

function flag(argv: string[], name: string): string[] {
  return argv.flatMap((a, i) => (a === name ? [argv[i + 1] as string] : []));
}

const hardening = ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'PrivateDevices=yes', 'RestrictSUIDSGID=yes', 'CapabilityBoundingSet='];

test('deploy/edgewatch.service: non-root, restart on failure, stop timeout above the graceful stop, state under /var/lib/edgewatch, hardened, the installed binary', async () => {
  const unit = parseUnit(readFileSync(join(ROOT, 'deploy', 'edgewatch.service'), 'utf8'));
  const user = one(unit, 'Service', 'User');
  assert.ok(user !== 'root' && user !== '0', 'a non-root user');
  assert.equal(user, 'edgewatch');
  assert.equal(one(unit, 'Service', 'Restart'), 'on-failure');
  assert.equal(one(unit, 'Service', 'RestartPreventExitStatus'), '2', 'a configuration error (exit 2) is not restarted in a loop');
  assert.equal(one(unit, 'Service', 'StateDirectory'), 'edgewatch');
  for (const kv of hardening) {
    const [k, v] = kv.split('=') as [string, string];
    assert.equal(one(unit, 'Service', k), v, kv);
  }
  assert.equal(unit.get('Service')?.has('MemoryDenyWriteExecute'), false, 'V8 and WebAssembly need executable memory');
  assert.equal(one(unit, 'Install', 'WantedBy'), 'multi-user.target');

  const execStart = one(unit, 'Service', 'ExecStart');
  assert.doesNotMatch(execStart, /\bnpx\b|\bnpm\b/, 'npx does not forward SIGTERM');
  const { binary, argv } = execFlags(execStart, agentConfigSchema, 'run');
  assert.match(binary, /^\/.*\/edgewatch$/, 'an absolute path to the installed edgewatch binary');
  for (const s of flag(argv, '--state-dir')) assert.match(s, /^\/var\/lib\/edgewatch(\/|$)/);
  const writable = (unit.get('Service')?.get('ReadWritePaths') ?? []).flatMap((v) => v.split(/\s+/));
  for (const w of flag(argv, '--watch')) assert.ok(writable.includes(w), `the watched folder ${w} is in ReadWritePaths`);

  // The graceful stop: in-flight images within shutdownTimeoutMs, then the sender and the sinks within 5 s each.
  const defaults = agentConfigSchema.parse({ watch: ['/x'], champion: '/m', apiToken: 't', deployment: 'd' });
  const gracefulS = defaults.shutdownTimeoutMs / 1000 + 5 + 5;
  const stopS = Number(/^(\d+)s?$/.exec(one(unit, 'Service', 'TimeoutStopSec'))?.[1]);
  assert.ok(stopS > gracefulS + 5, `TimeoutStopSec ${stopS}s > graceful stop ${gracefulS}s with room`);

  // The flags with the example configuration make a valid agent configuration.
  const configArgv = argv.map((a) => (a === '/etc/edgewatch/agent.json' ? join(ROOT, 'deploy', 'agent.example.json') : a));
  const { config } = loadConfig(agentConfigSchema, { argv: configArgv, env: { PICSELLIA_API_TOKEN: 'token-from-the-environment-file' }, envAliases: ENV_ALIASES });
  assert.equal(config.metricsHost, '127.0.0.1', 'the unauthenticated metrics port stays local');
  assert.equal(typeof config.metricsPort, 'number');
  assert.match(readFileSync(join(ROOT, 'deploy', 'agent.example.env'), 'utf8'), /^PICSELLIA_API_TOKEN=/m);
});

test('deploy/edgewatch-serve.service: the same shape for serve, a configured token (none printed to the journal), data under /var/lib/edgewatch-serve', () => {
  const unit = parseUnit(readFileSync(join(ROOT, 'deploy', 'edgewatch-serve.service'), 'utf8'));
  assert.equal(one(unit, 'Service', 'User'), 'edgewatch');
  assert.equal(one(unit, 'Service', 'Restart'), 'on-failure');
  assert.equal(one(unit, 'Service', 'StateDirectory'), 'edgewatch-serve');
  for (const kv of hardening) {
    const [k, v] = kv.split('=') as [string, string];
    assert.equal(one(unit, 'Service', k), v, kv);
  }
  const { binary, argv } = execFlags(one(unit, 'Service', 'ExecStart'), serveConfigSchema, 'serve');
  assert.match(binary, /^\/.*\/edgewatch$/);
  assert.deepEqual(flag(argv, '--data-dir'), ['/var/lib/edgewatch-serve']);
  assert.deepEqual(flag(argv, '--host'), ['127.0.0.1']);
  const { config } = loadConfig(serveConfigSchema, { argv, env: { EDGEWATCH_TOKEN: 'a-token-from-serve-env' } });
  assert.equal(config.token, 'a-token-from-serve-env');
  const defaults = serveConfigSchema.parse({});
  assert.ok(Number(/^(\d+)/.exec(one(unit, 'Service', 'TimeoutStopSec'))?.[1]) > defaults.shutdownTimeoutMs / 1000 + 5);
});

test('systemd-analyze verify finds nothing wrong in the units but the binary not installed here', { skip: !existsSync('/usr/bin/systemd-analyze') && 'systemd-analyze is not installed' }, async () => {
  for (const name of ['edgewatch.service', 'edgewatch-serve.service']) {
    const r = await run('systemd-analyze', ['verify', join(ROOT, 'deploy', name)]).then(
      (ok) => ({ out: ok.stdout + ok.stderr }),
      (err: { stdout?: string; stderr?: string }) => ({ out: `${err.stdout ?? ''}${err.stderr ?? ''}` }),
    );
    const complaints = r.out.split('\n').filter((l) => l.trim() !== '' && !/Command \/usr\/local\/bin\/edgewatch is not executable/.test(l));
    assert.deepEqual(complaints, [], `${name}: ${r.out}`);
  }
});

/** The Dockerfile's instructions (continuation lines joined, comments dropped). */
function dockerInstructions(text: string): { op: string; args: string }[] {
  const joined = text.split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n').replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const sp = l.indexOf(' ');
      return { op: l.slice(0, sp).toUpperCase(), args: l.slice(sp + 1).trim() };
    });
}

test('deploy/Dockerfile: multi-stage on node:20-bookworm-slim, npm ci --omit=dev, non-root, volumes for the folder and the state, HEALTHCHECK on /readyz with node, no curl, no npx', () => {
  const text = readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
  const ins = dockerInstructions(text);
  const froms = ins.filter((i) => i.op === 'FROM').map((i) => i.args.split(/\s+/)[0]);
  assert.ok(froms.length >= 2, 'multi-stage');
  for (const f of froms) assert.equal(f, 'node:20-bookworm-slim');
  assert.ok(ins.some((i) => i.op === 'RUN' && /npm ci --omit=dev/.test(i.args)), 'production dependencies from the lock file');
  assert.ok(ins.some((i) => i.op === 'RUN' && /\bnpm ci\b(?! --omit)/.test(i.args)), 'a build stage with every dependency (dist/ is built there)');
  assert.doesNotMatch(ins.map((i) => i.args).join('\n'), /\bcurl\b|\bwget\b/);
  const finalStage = ins.slice(ins.map((i) => i.op).lastIndexOf('FROM'));
  const user = finalStage.filter((i) => i.op === 'USER').at(-1)?.args;
  assert.ok(user && user !== 'root' && user !== '0', 'the final stage runs as a non-root user');
  const volumes = finalStage.filter((i) => i.op === 'VOLUME').flatMap((i) => JSON.parse(i.args) as string[]);
  const env = Object.fromEntries(finalStage.filter((i) => i.op === 'ENV').flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])));
  assert.ok(volumes.includes(env.EDGEWATCH_WATCH as string), 'the watched folder is a volume');
  assert.ok(volumes.some((v) => (env.EDGEWATCH_STATE_DIR as string).startsWith(v)), 'the state folder is on a volume');
  const runEnvs = new Set(describeFields(agentConfigSchema).map((f) => f.env));
  for (const k of Object.keys(env).filter((k) => k.startsWith('EDGEWATCH_'))) assert.ok(runEnvs.has(k), `${k} is a setting of edgewatch run`);
  const entry = JSON.parse(finalStage.find((i) => i.op === 'ENTRYPOINT')?.args ?? '[]') as string[];
  assert.deepEqual(entry.slice(0, 1), ['node'], 'node itself is PID 1 and gets the SIGTERM');
  assert.match(entry[1] ?? '', /bin\/edgewatch\.js$/);
  const health = finalStage.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
  assert.match(health, /CMD \["node", "-e", /);
  assert.match(health, /\/readyz/);
  for (const c of ins.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
    for (const src of c.args.split(/\s+/).slice(0, -1)) assert.ok(existsSync(join(ROOT, src)), `COPY source ${src} exists in the repository`);
  }
});

test('the memory setting of the unit and the image: two malloc arenas, and no NODE_OPTIONS (the agent caps its young generation itself)', () => {
  const unit = parseUnit(readFileSync(join(ROOT, 'deploy', 'edgewatch.service'), 'utf8'));
  const unitEnv = Object.fromEntries((unit.get('Service')?.get('Environment') ?? []).map((v) => v.split(/=(.*)/s).slice(0, 2) as [string, string]));
  const image = Object.fromEntries(
    dockerInstructions(readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8'))
      .filter((i) => i.op === 'ENV')
      .flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])),
  );
  for (const env of [unitEnv, image]) {
    assert.equal(env.MALLOC_ARENA_MAX, '2');
    // A size chosen in NODE_OPTIONS would turn the agent's own cap off (memory-settings.ts).
    assert.equal(env.NODE_OPTIONS, undefined);
  }
});

test('the image HEALTHCHECK command, run with node: exit 0 when /readyz is 200, 1 when it is 503 or nothing listens', async (t) => {
  const text = readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
  const health = dockerInstructions(text).find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
  const argv = JSON.parse(health.slice(health.indexOf('CMD ') + 4)) as string[];
  assert.equal(argv[0], 'node');
  let ready = true;
  const server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: new Registry(), readiness: () => ({ ready, reason: ready ? 'ok' : 'outbox full' }) });
  t.after(() => server.close());
  const check = () =>
    run(process.execPath, argv.slice(1), { env: { ...process.env, EDGEWATCH_METRICS_PORT: String(server.port) } }).then(
      () => 0,
      (err: { code?: number }) => err.code ?? -1,
    );
  assert.equal(await check(), 0);
  ready = false;
  assert.equal(await check(), 1);
  await server.close();
  assert.equal(await check(), 1, 'nothing listening');
});
