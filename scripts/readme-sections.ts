/** The generated sections of README.md, by marker name (shared by the generator script and the test that keeps the README in step). */
import { agentConfigSchema, ENV_ALIASES } from '../src/config/schema.js';
import { configTable, errorTable } from '../src/docs/reference-tables.js';

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
  };
}
