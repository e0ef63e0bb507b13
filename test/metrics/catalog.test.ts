/** The metric catalogue follows Prometheus conventions, route labels are templates, and the agent is not ready before it has started. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { agentConfigSchema } from '../../src/config/schema.js';
import { AgentMetrics } from '../../src/metrics/agent-metrics.js';
import { METRIC_CATALOGUE, type MetricSpec } from '../../src/metrics/catalog.js';
import { metricsTable, registerMetrics } from '../../src/metrics/registry.js';
import { routeTemplate } from '../../src/server/metrics-routes.js';

const ALL: MetricSpec[] = [...Object.values(METRIC_CATALOGUE.agent), ...Object.values(METRIC_CATALOGUE.service)];

test('catalogue: edgewatch_ names, _total counters only, base units, unique names, snake_case labels, a help text each', () => {
  const names = new Set<string>();
  for (const m of ALL) {
    assert.match(m.name, /^edgewatch_[a-z0-9_]+$/, m.name);
    assert.ok(!names.has(m.name), `${m.name} declared once`);
    names.add(m.name);
    assert.equal(m.name.endsWith('_total'), m.type === 'counter', `${m.name}: _total exactly for counters`);
    if (m.type === 'histogram') assert.match(m.name, /_(seconds|bytes)$/, `${m.name}: a histogram in a base unit`);
    assert.ok(!/_(ms|milliseconds|kb|mb|gb)(_|$)/.test(m.name), `${m.name}: base units only`);
    for (const l of m.labels) assert.match(l, /^[a-z][a-z0-9_]*$/, `${m.name} label ${l}`);
    assert.ok(m.help.length > 20, `${m.name} has a help text`);
  }
});

test('catalogue: registering every declaration on a fresh registry exposes each name, and the README table has one row per metric', async () => {
  const registry = new Registry();
  registerMetrics(registry, METRIC_CATALOGUE.agent);
  registerMetrics(registry, METRIC_CATALOGUE.service);
  const text = await registry.metrics();
  for (const m of ALL) assert.match(text, new RegExp(`^# TYPE ${m.name} ${m.type}$`, 'm'));
  const table = metricsTable(METRIC_CATALOGUE.agent);
  assert.equal(table.split('\n').length, 2 + Object.keys(METRIC_CATALOGUE.agent).length);
  assert.match(table, /\| `edgewatch_inference_seconds` \| histogram \| `role`, `model`, `version` \|/);
});

test('route labels: API paths become templates, never ids; unknown paths collapse', () => {
  const id = '2f1c0d3e-9a8b-5c7d-8e6f-0a1b2c3d4e5f';
  assert.equal(routeTemplate(`/api/deployment/${id}/predictions`), '/api/deployment/{id}/predictions');
  assert.equal(routeTemplate(`/oracle/api/deployment/${id}/predictions`), '/oracle/api/deployment/{id}/predictions');
  assert.equal(routeTemplate(`/api/prediction/${id}/shadow`), '/api/prediction/{id}/shadow');
  assert.equal(routeTemplate(`/api/organization/${id}/deployments/find`), '/api/organization/{id}/deployments/find');
  assert.equal(routeTemplate(`/api/image/${id}`), '/api/image/{id}');
  assert.equal(routeTemplate('/api/home/ping'), '/api/home/ping');
  assert.equal(routeTemplate(`/api/whatever/${id}`), '/api/{unknown}');
  assert.equal(routeTemplate(`/oracle/${id}`), '/oracle/{unknown}');
  assert.equal(routeTemplate('/'), '/');
  assert.equal(routeTemplate('/metrics'), '/metrics');
  assert.equal(routeTemplate('/app.js'), '/{file}');
  assert.equal(routeTemplate(`/a/b/${id}`), '/{unknown}');
  // The SDK's stats, the registry, promotion and reviews: one template each, never an id.
  assert.equal(routeTemplate(`/oracle/api/deployment/${id}/predictions/stats`), '/oracle/api/deployment/{id}/predictions/stats');
  assert.equal(routeTemplate(`/api/deployment/${id}/promote`), '/api/deployment/{id}/promote');
  assert.equal(routeTemplate(`/api/deployment/${id}/predictedassets/find`), '/api/deployment/{id}/predictedassets/find');
  assert.equal(routeTemplate(`/api/predicted/asset/${id}/reviews`), '/api/predicted/asset/{id}/reviews');
  assert.equal(routeTemplate(`/api/model/version/${id}/modelfiles/find`), '/api/model/version/{id}/modelfiles/find');
  assert.equal(routeTemplate(`/api/model/${id}/versions`), '/api/model/{id}/versions');
  assert.equal(routeTemplate(`/api/model/file/${id}`), '/api/model/file/{id}');
  assert.equal(routeTemplate(`/api/organization/${id}/connector/${id}/generate_object_name`), '/api/organization/{id}/connector/{id}/generate_object_name');
  assert.equal(routeTemplate(`/api/object-storage/${id}/retrieve_presigned_url`), '/api/object-storage/{id}/retrieve_presigned_url');
});

test('agent readiness: 503 "starting" before the agent exists; the metrics still render', async () => {
  const config = agentConfigSchema.parse({ watch: ['/tmp/in'], champion: '/tmp/m', apiToken: 'x', deployment: 'd', metricsPort: 0 });
  const m = new AgentMetrics(config, new Registry());
  const r = m.readiness();
  assert.equal(r.ready, false);
  assert.match(r.reason, /^starting/);
  const text = await m.registry.metrics();
  assert.match(text, /^edgewatch_watched_folders 1$/m);
  assert.match(text, /^edgewatch_watched_folders_up 0$/m);
  assert.match(text, /^edgewatch_outbox_entries 0$/m);
});

test('agent config: metrics off by default, 127.0.0.1 by default, ports checked', () => {
  const base = { watch: ['/tmp/in'], champion: '/tmp/m', apiToken: 'x', deployment: 'd' };
  assert.equal(agentConfigSchema.parse(base).metricsPort, undefined);
  assert.equal(agentConfigSchema.parse(base).metricsHost, '127.0.0.1');
  assert.equal(agentConfigSchema.safeParse({ ...base, metricsPort: 65536 }).success, false);
  assert.equal(agentConfigSchema.safeParse({ ...base, metricsPort: 1.5 }).success, false);
});
