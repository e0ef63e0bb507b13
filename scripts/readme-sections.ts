/** The generated sections of README.md, by marker name (shared by the generator script and the test that keeps the README in step). */
import { agentConfigSchema, ENV_ALIASES } from '../src/config/schema.js';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { configTable, errorTable } from '../src/docs/reference-tables.js';

/** The demo models as their manifests describe them (accuracy written by the training script). */
function demoModelsTable(): string {
  const rows = ['demo-champion', 'demo-shadow'].map((name) => {
    const dir = new URL(`../models/${name}/`, import.meta.url).pathname;
    const m = JSON.parse(readFileSync(join(dir, 'edgewatch.json'), 'utf8')) as { description?: string; trainedAccuracy?: number; input: { width: number; height: number } };
    const bytes = readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    const accuracy = m.trainedAccuracy === undefined ? '?' : `${(m.trainedAccuracy * 100).toFixed(1)} %`;
    return `| \`${name}\` | ${m.description ?? ''} | ${m.input.width}×${m.input.height} | ${accuracy} | ${(bytes / 1024).toFixed(0)} KB |`;
  });
  return ['| model | what it is | input | held-out accuracy | size |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

export async function readmeSections(): Promise<Record<string, string>> {
  const { serveConfigSchema } = await import('../src/server/config.js');
  const { demoConfigSchema } = await import('../src/commands/demo.js');
  const { outboxConfigSchema } = await import('../src/commands/outbox.js');
  return {
    'config-run': configTable(agentConfigSchema, undefined, ENV_ALIASES),
    'config-serve': configTable(serveConfigSchema),
    'config-demo': configTable(demoConfigSchema, 'EDGEWATCH_DEMO_'),
    'config-outbox': configTable(outboxConfigSchema),
    'error-codes': errorTable(),
    'demo-models': demoModelsTable(),
  };
}
