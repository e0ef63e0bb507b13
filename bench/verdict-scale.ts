/**
 * `node --import tsx bench/verdict-scale.ts [N]`: what the verdict and the review queue cost on a large monitoring
 * database, and what their trigger-kept counters add to inserts. Fills N paired predictions (default 1 M, 1 in 23 a
 * disagreement) through `PredictionStore.insertMany` with and without the registry's triggers, then times the one-time
 * backfill of a database from before the counters, the verdict's counters, the queue page and, for reference, the scans
 * the counters replace.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteRegistry } from '../src/server/registry/services.js';
import { PredictionStore, type StoredPrediction } from '../src/server/store.js';

const N = Number(process.argv[2] ?? 1_000_000);
const BATCH = 10_000;

function row(i: number): StoredPrediction {
  const c = i % 5;
  return {
    id: randomUUID(), deploymentId: 'dep', imageKey: `k-${i}`, filename: `f${i}.jpg`, contentType: 'IMAGE/JPEG', width: 10, height: 10, imagePath: `x/${i}.jpg`, imageBytes: 1000,
    champion: { detection_classes: [c], detection_scores: [0.9], detection_texts: null }, championClass: c, championScore: 0.9, latencyS: 0.01,
    shadow: { detection_classes: [i % 23 === 0 ? (c + 1) % 5 : c], detection_scores: [0.8], detection_texts: null }, shadowClass: i % 23 === 0 ? (c + 1) % 5 : c, shadowScore: 0.8, shadowLatencyS: 0.02,
    source: 'serving', tags: [], metadata: null, customMetadata: { edgewatch: { champion: { name: 'a', hash: 'b', modelVersionId: 'v1' }, shadow: { name: 'a', hash: 'c', modelVersionId: 'v2' } } },
    timestampS: 1.7e9 + i, receivedS: 1.7e9 + i,
  };
}

function fill(withTriggers: boolean): { dir: string; insertS: number } {
  const dir = mkdtempSync(join(tmpdir(), 'ew-verdict-scale-'));
  const file = join(dir, 'monitoring.db');
  const store = new PredictionStore(file);
  const registry = withTriggers ? openSqliteRegistry(file) : null;
  const t0 = performance.now();
  for (let i = 0; i < N; i += BATCH) store.insertMany(Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => row(i + k)));
  const insertS = (performance.now() - t0) / 1000;
  registry?.close();
  store.close();
  return { dir, insertS };
}

const time = <T>(f: () => T): [T, number] => {
  const t0 = performance.now();
  const r = f();
  return [r, performance.now() - t0];
};

const bare = fill(false);
console.log(`${N} predictions without the registry's triggers: ${bare.insertS.toFixed(1)} s (${Math.round(N / bare.insertS)} /s)`);
// A database from before the counters: the first open counts its predictions once.
const [backfilled, backfillMs] = time(() => openSqliteRegistry(join(bare.dir, 'monitoring.db')));
console.log(`first open of that database (counters backfilled once): ${backfillMs.toFixed(0)} ms ${JSON.stringify(backfilled.reviews.periodTraffic('dep', 0))}`);
backfilled.close();
rmSync(bare.dir, { recursive: true, force: true });
const counted = fill(true);
console.log(`${N} predictions with the registry's triggers:    ${counted.insertS.toFixed(1)} s (${Math.round(N / counted.insertS)} /s)`);
const file = join(counted.dir, 'monitoring.db');
const [services, openMs] = time(() => openSqliteRegistry(file));
console.log(`open (counters already there): ${openMs.toFixed(0)} ms`);
const versions = { champion: 'v1', shadow: 'v2' };
const [traffic, trafficMs] = time(() => services.reviews.periodTraffic('dep', 0));
const [queue, queueMs] = time(() => services.reviews.queuePage('dep', { seq: 0, sinceS: 0 }, versions, 50));
const [scan, scanMs] = time(() => services.reviews.listIds({ deploymentId: 'dep', sinceS: 0, ranBy: versions, reviewed: false, paired: true, order: 'disagreements_first', limit: 50, offset: 0 }));
const [sdkPage, sdkMs] = time(() => services.reviews.listIds({ deploymentId: 'dep', order: '-created_at', limit: 1000, offset: 0 }));
const [sdkDeep, sdkDeepMs] = time(() => services.reviews.listIds({ deploymentId: 'dep', order: '-created_at', limit: 1000, offset: Math.floor(N / 2) }));
console.log(`the SDK's list_predicted_assets page of 1000 (newest first) and count: ${sdkMs.toFixed(0)} ms at offset 0, ${sdkDeepMs.toFixed(0)} ms at offset ${Math.floor(N / 2)} (count ${sdkPage.count}, ${sdkDeep.ids.length} items)`);
console.log(`verdict counters: ${trafficMs.toFixed(2)} ms ${JSON.stringify(traffic)}`);
console.log(`review queue page (50) and count: ${queueMs.toFixed(1)} ms (count ${queue.count})`);
console.log(`the same page by scanning the traffic (generic listing): ${scanMs.toFixed(0)} ms (count ${scan.count})`);
services.close();
rmSync(counted.dir, { recursive: true, force: true });
