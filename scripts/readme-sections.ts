/** The generated sections of README.md, by marker name (shared by the generator script and the test that keeps the README in step). */
import { agentConfigSchema, ENV_ALIASES } from '../src/config/schema.js';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { configTable, errorTable, exitCodeTable } from '../src/docs/reference-tables.js';
import { EXIT } from '../src/errors.js';

/**
 * The exit codes with the doc comment of each `EXIT` member in src/errors.ts as its meaning, so the
 * README table and the code's own documentation are one text. A member without a comment throws.
 */
export function exitCodes(): { name: string; code: number; meaning: string }[] {
  const path = new URL('../src/errors.ts', import.meta.url).pathname;
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  let literal: ts.ObjectLiteralExpression | undefined;
  source.forEachChild(function visit(node): void {
    if (ts.isVariableDeclaration(node) && node.name.getText(source) === 'EXIT' && node.initializer) {
      const init = ts.isAsExpression(node.initializer) ? node.initializer.expression : node.initializer;
      if (ts.isObjectLiteralExpression(init)) literal = init;
    }
    node.forEachChild(visit);
  });
  if (!literal) throw new Error(`${path}: no EXIT object literal`);
  return literal.properties.map((property) => {
    const name = property.name?.getText(source) ?? '';
    const doc = ts.getJSDocCommentsAndTags(property).find(ts.isJSDoc);
    const meaning = typeof doc?.comment === 'string' ? doc.comment.replace(/\s+/g, ' ').trim() : '';
    if (!(name in EXIT) || meaning === '') throw new Error(`${path}: EXIT.${name} needs a doc comment (it is the README's exit-code row)`);
    return { name, code: EXIT[name as keyof typeof EXIT], meaning };
  });
}

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

/** Every generated section of README.md, by marker name. */
export async function readmeSections(): Promise<Record<string, string>> {
  const { serveConfigSchema } = await import('../src/server/config.js');
  const { demoConfigSchema } = await import('../src/commands/demo.js');
  const { outboxConfigSchema } = await import('../src/commands/outbox.js');
  const { modelsListConfigSchema, modelsPullConfigSchema, modelsPushConfigSchema, MODELS_ENV_PREFIX } = await import('../src/commands/models.js');
  const { reloadConfigSchema } = await import('../src/commands/reload.js');
  const { METRIC_CATALOGUE } = await import('../src/metrics/catalog.js');
  const { metricsTable } = await import('../src/metrics/registry.js');
  return {
    'config-run': configTable(agentConfigSchema, undefined, ENV_ALIASES),
    'config-serve': configTable(serveConfigSchema),
    'config-demo': configTable(demoConfigSchema, 'EDGEWATCH_DEMO_'),
    'config-outbox': configTable(outboxConfigSchema),
    'config-models-pull': configTable(modelsPullConfigSchema, MODELS_ENV_PREFIX),
    'config-models-list': configTable(modelsListConfigSchema, MODELS_ENV_PREFIX),
    'config-models-push': configTable(modelsPushConfigSchema, MODELS_ENV_PREFIX, ENV_ALIASES),
    'config-reload': configTable(reloadConfigSchema),
    'exit-codes': exitCodeTable(exitCodes()),
    'error-codes': errorTable(),
    'demo-models': demoModelsTable(),
    'metrics-agent': metricsTable(METRIC_CATALOGUE.agent),
    'metrics-service': metricsTable(METRIC_CATALOGUE.service),
  };
}
