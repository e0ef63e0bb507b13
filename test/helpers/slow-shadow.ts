/** A set-up of the shadow-priority and late-shadow tests: images, a fake Picsellia and a slow shadow whose jobs queue up, so that some shadows fall behind. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { agentConfigSchema, type AgentConfig, type AgentConfigInput } from '../../src/config/schema.js';
import { selectBackend } from '../../src/infer/backend.js';
import { startFakePicsellia, type FakePicsellia } from './fake-picsellia.js';
import { tempDir, writeJpeg } from './images.js';
import { DEMO_CHAMPION, writeSlowModelFolder } from './models.js';

export interface SlowShadowSetUp {
  dir: string;
  inbox: string;
  /** The slow shadow's model folder. */
  slowShadow: string;
  fake: FakePicsellia;
  /** `--once` agent configuration on the inbox (workers 2: two hosts holding both models, where the slow shadow jobs queue up), with `extra` on top. */
  config: (extra?: Partial<AgentConfigInput>) => AgentConfig;
  stateDb: string;
}

/** A folder of `n` different images, a fake Picsellia (closed in `t.after`) and a slow shadow model. */
export async function setUpSlowShadow(t: TestContext, n: number): Promise<SlowShadowSetUp> {
  const dir = await tempDir(t);
  const inbox = join(dir, 'inbox');
  await mkdir(inbox);
  for (let i = 0; i < n; i++) await writeJpeg(inbox, `frame-${i}.jpg`, { width: 200 + i * 8, height: 150 });
  const slowShadow = join(dir, 'slow-shadow');
  await mkdir(slowShadow);
  await selectBackend('wasm'); // to save the model from this thread
  await writeSlowModelFolder(slowShadow);
  const fake = await startFakePicsellia();
  t.after(() => fake.close());
  const config = (extra: Partial<AgentConfigInput> = {}) =>
    agentConfigSchema.parse({
      watch: [inbox], champion: DEMO_CHAMPION, shadow: slowShadow, workers: 2, concurrency: 4,
      host: fake.url, apiToken: fake.apiToken, organization: fake.state.organization.name, deployment: fake.state.deployment.name,
      stateDir: join(dir, 'state'), stableMs: 20, retryBaseMs: 5, retryMaxMs: 20, once: true, ...extra,
    });
  return { dir, inbox, slowShadow, fake, config, stateDb: join(dir, 'state', 'edgewatch.db') };
}
