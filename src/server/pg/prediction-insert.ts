/** The PostgreSQL insert of predictions (columns and parameters: ../prediction-row.ts, shared with SQLite). */
import { PREDICTION_COLUMNS } from '../prediction-row.js';

/** `INSERT … VALUES (…), … ON CONFLICT ON CONSTRAINT predictions_image_once DO NOTHING` (its UNIQUE (deployment_id, image_key), pg/schema.ts) for `rows` predictions. */
export function insertSql(rows: number): string {
  const n = PREDICTION_COLUMNS.length;
  const values = Array.from({ length: rows }, (_, r) => `(${PREDICTION_COLUMNS.map((_, c) => `$${r * n + c + 1}`).join(', ')})`).join(', ');
  return `INSERT INTO predictions (${PREDICTION_COLUMNS.join(', ')}) VALUES ${values} ON CONFLICT ON CONSTRAINT predictions_image_once DO NOTHING`;
}
