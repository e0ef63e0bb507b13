/** A service whose data disk is really full (a 4 MB tmpfs, minFreeGb 0) answers monitor calls 503 with Retry-After, never 500, and stores again once space is back. Needs root to mount; skipped otherwise. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { serveConfigSchema, startServer } from '../../src/server/index.js';
import { classification, makeJpeg, monitorBody, postMonitor, sdkHandshake, tempDir } from './sdk.js';

function mountTmpfs(dir: string, size: string): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

/** Writes into `path` until the file system refuses, down to its last page. */
async function fillUp(path: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    for (const size of [64 * 1024, 4096, 512]) {
      const chunk = Buffer.alloc(size, 1);
      try {
        for (;;) await handle.write(chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    await handle.close();
  }
}

test('a full data disk: 503 with Retry-After instead of 500, then 201 once space is freed', async (t) => {
  const dataDir = join(await tempDir(t), 'data');
  execFileSync('mkdir', [dataDir]);
  const refused = mountTmpfs(dataDir, '4m');
  if (refused) {
    t.skip(`cannot mount a tmpfs here (${refused})`);
    return;
  }
  try {
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
      assert.equal(server.store.count(h.deploymentId), 2);
    } finally {
      await server.close();
    }
  } finally {
    execFileSync('umount', ['-l', dataDir], { stdio: 'ignore' });
  }
});
