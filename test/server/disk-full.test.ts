/** A service whose data disk is really full (a 4 MB tmpfs, minFreeGb 0) answers monitor calls 503 with Retry-After, never 500, and stores again once space is back. Needs root to mount; skipped otherwise. */
import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { serveConfigSchema, startServer } from '../../src/server/index.js';
import { fillUp, withTmpfs } from '../helpers/tmpfs.js';
import { classification, makeJpeg, monitorBody, postMonitor, sdkHandshake, tempDir } from './sdk.js';

test('a full data disk: 503 with Retry-After instead of 500, then 201 once space is freed', async (t) => {
  const dataDir = join(await tempDir(t), 'data');
  await mkdir(dataDir);
  await withTmpfs(t, dataDir, '4m', async () => {
    const server = await startServer(serveConfigSchema.parse({ dataDir, port: 0, minFreeGb: 0 }));
    try {
      const h = await sdkHandshake(server.url, server.token);
      const body = (seed: number) => makeJpeg(64, 64, seed).then((image) => monitorBody({ image, width: 64, height: 64, champion: classification(0, 0.5), latencyS: 0.01 }));
      assert.equal((await postMonitor(h, await body(1))).status, 201);
      const filler = join(dataDir, 'filler');
      await fillUp(filler);
      const full = await postMonitor(h, await body(2));
      assert.equal(full.status, 503, full.text);
      assert.equal(full.headers['retry-after'], '30');
      assert.equal(full.json.code, 'EW_SERVER_DISK_LOW');
      await rm(filler);
      const again = await postMonitor(h, await body(2));
      assert.equal(again.status, 201, again.text);
      assert.equal(await server.store.count(h.deploymentId), 2);
    } finally {
      await server.close();
    }
  });
});
