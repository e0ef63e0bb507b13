/** The swappable pair (pipeline/live-models.ts): an image keeps the pair it leased; the old pool closes only once no lease and no job (a late shadow included) needs it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModelJob, ModelPool, PooledModel, TimedPrediction } from '../../src/infer/index.js';
import { LiveModels } from '../../src/pipeline/live-models.js';
import type { DecodedInput } from '../../src/types.js';

/** A pool whose jobs settle when the test says so. */
function fakePool(name: string, withShadow: boolean) {
  const pending: Array<(r: TimedPrediction) => void> = [];
  let closed = 0;
  const model = (role: string): PooledModel => {
    const submit = (): ModelJob => {
      const result = new Promise<TimedPrediction>((resolve) => pending.push(resolve));
      return { startedAt: 0, result, cancel: () => false };
    };
    return { info: { name: `${name}-${role}`, hash: `${name}-${role}` } as PooledModel['info'], backend: 'wasm', submit, predict: (i, o) => submit().result, queued: 0 };
  };
  const pool = {
    models: withShadow ? [model('champion'), model('shadow')] : [model('champion')],
    close: async () => {
      closed += 1;
    },
  } as unknown as ModelPool;
  return {
    pool,
    get closed() {
      return closed;
    },
    settleAll: () => {
      for (const r of pending.splice(0)) r({ prediction: { detection_classes: [0], detection_scores: [1], detection_texts: null }, latencySeconds: 0.001 } as TimedPrediction);
    },
  };
}
const input = {} as DecodedInput;
const original = { width: 1, height: 1 };
const flush = () => new Promise((r) => setImmediate(r));

test('a lease keeps its pair across a swap; the old pool closes after the last lease and the last job', async () => {
  const a = fakePool('a', true);
  const b = fakePool('b', false);
  const live = new LiveModels(a.pool, { champion: { dir: '/a', versionId: 'v1' }, shadow: { dir: '/a2', versionId: 'v2' } });
  const lease = live.acquire();
  assert.equal(lease.champion.modelVersionId, 'v1');
  const shadowJob = lease.shadow!.submit(input, original); // e.g. a shadow that falls behind: it outlives the lease
  live.swap(b.pool, { champion: { dir: '/b', versionId: 'v2' }, shadow: undefined });
  const next = live.acquire();
  assert.equal(next.champion.modelVersionId, 'v2');
  assert.equal(next.shadow, undefined, 'the new pair has no shadow');
  assert.equal(lease.champion.info.name, 'a-champion', 'the old lease still names the models it started with');
  assert.equal(live.pools, 2);
  lease.release();
  lease.release(); // idempotent
  await flush();
  assert.equal(a.closed, 0, 'a job still runs on the old pool');
  a.settleAll();
  await shadowJob.result;
  await flush();
  await flush();
  assert.equal(a.closed, 1, 'closed once idle');
  assert.equal(live.pools, 1);
  next.release();
  assert.equal(b.closed, 0, 'the current pool stays');
  await live.close();
  assert.equal(b.closed, 1);
  assert.equal(a.closed, 1, 'never closed twice');
  const c = fakePool('c', false);
  live.swap(c.pool, { champion: { dir: '/c' }, shadow: undefined });
  await flush();
  assert.equal(c.closed, 1, 'a pool swapped in after close() is closed at once');
  assert.equal(live.current.champion.modelVersionId, 'v2');
});
