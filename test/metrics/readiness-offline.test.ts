/** The agent's /readyz while the platform has never answered: ready, "buffering offline", the deployment not resolved; 503 "stopping" once close() began. */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import { loadConfig } from '../../src/config/load.js';
import { agentConfigSchema, ENV_ALIASES } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { startAgentMetrics } from '../../src/metrics/start-agent-metrics.js';
import { unusedPort } from '../helpers/ports.js';
import { agentArgs, tempFolder } from '../helpers/service.js';
import { health, scrape } from './scrape.js';

test('agent /readyz with an unreachable platform and no cached deployment: 200 "buffering offline", deployment_resolved 0; 503 "stopping" while closing', { timeout: 60_000 }, async (t) => {
  const dir = await tempFolder(t);
  const inbox = join(dir, 'inbox');
  await mkdir(inbox);
  const [, ...argv] = agentArgs({ host: `http://127.0.0.1:${await unusedPort()}`, inbox, stateDir: join(dir, 'state') }, ['--metrics-port', '0', '--log-level', 'silent']);
  const { config } = loadConfig(agentConfigSchema, { argv, env: { PICSELLIA_API_TOKEN: 'token-123' }, envAliases: ENV_ALIASES });
  const port = await startAgentMetrics(config, silentLogger());
  assert.ok(port);
  t.after(() => port.server.close());
  const starting = await health(`${port.server.url}/readyz`);
  assert.equal(starting.status, 503, 'not ready before the agent exists');
  assert.match(String(starting.body.reason), /^starting/);

  const agent = await Agent.start(config, port.metrics.agentOptions({ logger: silentLogger() }));
  port.metrics.started();
  const ready = await health(`${port.server.url}/readyz`);
  assert.equal(ready.status, 200);
  assert.match(String(ready.body.reason), /^buffering offline/);
  assert.equal(ready.body.deploymentResolved, false);
  assert.equal((await scrape(`${port.server.url}/metrics`)).sum('edgewatch_deployment_resolved'), 0);

  const closing = agent.close();
  const stopping = await health(`${port.server.url}/readyz`);
  assert.equal(stopping.status, 503);
  assert.equal(stopping.body.reason, 'stopping');
  await closing;
});
