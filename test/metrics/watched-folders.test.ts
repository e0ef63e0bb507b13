/** edgewatch_watched_folders_up follows a watched folder that vanishes and comes back (the agent keeps running meanwhile). */
import assert from 'node:assert/strict';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import { loadConfig } from '../../src/config/load.js';
import { agentConfigSchema, ENV_ALIASES } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { startAgentMetrics } from '../../src/metrics/start-agent-metrics.js';
import { agentArgs, startService, tempFolder, waitUntil } from '../helpers/service.js';
import { health, scrape } from './scrape.js';

test('watched folders up: 2 of 2, then 1 of 2 while one folder is gone, 2 of 2 once it is back', { timeout: 60_000 }, async (t) => {
  const dir = await tempFolder(t);
  const [a, b] = [join(dir, 'cam-a'), join(dir, 'cam-b')];
  await mkdir(a);
  await mkdir(b);
  const service = await startService(t);
  const [, ...argv] = agentArgs({ host: service.url, inbox: a, stateDir: join(dir, 'state') }, ['--watch', b, '--metrics-port', '0', '--log-level', 'silent']);
  const { config } = loadConfig(agentConfigSchema, { argv, env: { PICSELLIA_API_TOKEN: service.token }, envAliases: ENV_ALIASES });
  const port = await startAgentMetrics(config, silentLogger());
  assert.ok(port);
  t.after(() => port.server.close());
  const agent = await Agent.start(config, port.metrics.agentOptions({ logger: silentLogger() }));
  t.after(() => agent.close());
  port.metrics.started();
  const up = async () => (await scrape(`${port.server.url}/metrics`)).sum('edgewatch_watched_folders_up');
  assert.equal((await scrape(`${port.server.url}/metrics`)).sum('edgewatch_watched_folders'), 2);
  assert.equal(await up(), 2);

  await rename(b, join(dir, 'cam-b-away'));
  await waitUntil(async () => (await up()) === 1, 30_000, 'one folder down');
  assert.equal((await health(`${port.server.url}/readyz`)).status, 200, 'a missing folder does not make the agent unready: the other one is still watched');
  await rename(join(dir, 'cam-b-away'), b);
  await waitUntil(async () => (await up()) === 2, 30_000, 'both folders up again');
});
