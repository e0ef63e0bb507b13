/** The sink and sampling metrics of a running agent: sampled-out images by reason, sink records by result, sink queue depth. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import { agentConfigSchema, ENV_ALIASES } from '../../src/config/schema.js';
import { loadConfig } from '../../src/config/load.js';
import { AgentMetrics } from '../../src/metrics/agent-metrics.js';
import { agentArgs, inboxOfJpegs, startService } from '../helpers/service.js';

/** The value of one series in a Prometheus text exposition (undefined when absent). */
function series(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

test('metrics: edgewatch_images_sampled_out_total, edgewatch_sink_records_total and edgewatch_sink_pending move with the sinks', async (t) => {
  const service = await startService(t);
  const { dir, inbox } = await inboxOfJpegs(t, 5, { offset: 3000, prefix: 'm-' });
  const [, ...argv] = agentArgs({ host: service.url, inbox, stateDir: join(dir, 'state') }, ['--once', '--sample', 'rate=0', '--sink-jsonl', join(dir, 'p.jsonl'), '--sink-webhook', 'http://127.0.0.1:9/down']);
  const { config } = loadConfig(agentConfigSchema, { argv, env: { PICSELLIA_API_TOKEN: service.token }, envAliases: ENV_ALIASES });
  const metrics = new AgentMetrics(config);
  const agent = await Agent.start(config, metrics.agentOptions());
  t.after(() => agent.close());
  const summary = await agent.runOnce();
  assert.equal(summary.sampledOut, 5);
  assert.equal(summary.monitored, 0);
  const text = await metrics.registry.metrics();
  assert.equal(series(text, 'edgewatch_images_sampled_out_total', 'reason="sampled"'), 5);
  assert.equal(series(text, 'edgewatch_sink_records_total', 'sink="jsonl",result="delivered"'), 5);
  assert.equal(series(text, 'edgewatch_sink_records_total', 'sink="webhook",result="delivered"'), 0);
  assert.equal(series(text, 'edgewatch_sink_pending', 'sink="jsonl"'), 0);
  assert.equal(series(text, 'edgewatch_sink_pending', 'sink="webhook"'), 5, 'the unreachable webhook keeps its records');
  assert.equal(service.count(), 0, 'nothing monitored at rate 0');
});
