/** What the embedded service stored, per image id, for the sink and sampling tests to compare against; and the sink records read back. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { LateShadowRecord, SinkRecord } from '../../src/sinks/record.js';
import type { RawPrediction } from '../../src/types.js';

/** One stored prediction: its image id, the champion's raw prediction and `custom_metadata.edgewatch`. */
export interface Stored {
  imageId: string;
  champion: RawPrediction;
  edgewatch: { imageId: string; sampling?: { probability: number; policy: string } } & Record<string, unknown>;
  championClass: number | null;
  shadowClass: number | null;
}

/** Every prediction the service in `dataDir` stored, by image id. */
export function storedByImageId(dataDir: string): Map<string, Stored> {
  const db = new Database(join(dataDir, 'monitoring.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT champion_json, custom_metadata_json, champion_class, shadow_class FROM predictions ORDER BY rowid').all() as {
      champion_json: string;
      custom_metadata_json: string;
      champion_class: number | null;
      shadow_class: number | null;
    }[];
    const out = new Map<string, Stored>();
    for (const r of rows) {
      const edgewatch = (JSON.parse(r.custom_metadata_json) as { edgewatch: Stored['edgewatch'] }).edgewatch;
      out.set(edgewatch.imageId, { imageId: edgewatch.imageId, champion: JSON.parse(r.champion_json) as RawPrediction, edgewatch, championClass: r.champion_class, shadowClass: r.shadow_class });
    }
    return out;
  } finally {
    db.close();
  }
}

/** Every line of a JSONL file, image records and late-shadow follow-ups (every line must parse: a torn line fails the test). */
export async function jsonlLines(path: string): Promise<(SinkRecord | LateShadowRecord)[]> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? '' : Promise.reject(err)));
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as SinkRecord | LateShadowRecord);
}

/** The image records of a JSONL file (`edgewatch.prediction/1`; a late shadow's follow-up is left out). */
export async function jsonlRecords(path: string): Promise<SinkRecord[]> {
  return (await jsonlLines(path)).filter((r): r is SinkRecord => r.schema === 'edgewatch.prediction/1');
}

/** The champion's raw prediction as a sink record carries it (classes and scores, boxes when detection). */
export function rawOf(record: SinkRecord): { classes: number[]; scores: number[] } {
  return { classes: record.champion.results.map((r) => r.classId), scores: record.champion.results.map((r) => r.score) };
}
