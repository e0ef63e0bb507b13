/**
 * Tables of the model registry, the deployments' champion/shadow history and the reviews, in the monitoring database
 * (`monitoring.db`, beside the `predictions` table of store.ts) through a second connection: reviews join predictions.
 */
import Database from 'better-sqlite3';
import { EdgewatchError } from '../../errors.js';
import { installPeriodTraffic } from '../reviews/period-traffic.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS registry_models (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT,
  created_s REAL NOT NULL,
  UNIQUE (organization_id, name)
);
CREATE TABLE IF NOT EXISTS registry_versions (
  id TEXT PRIMARY KEY,
  model_id TEXT NOT NULL REFERENCES registry_models (id),
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  labels_json TEXT,
  type TEXT NOT NULL,
  framework TEXT NOT NULL,
  description TEXT,
  created_s REAL NOT NULL,
  UNIQUE (model_id, version),
  UNIQUE (model_id, name)
);
CREATE TABLE IF NOT EXISTS registry_objects (
  object_name TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL,
  model_version_id TEXT,
  filename TEXT NOT NULL,
  bytes INTEGER,
  sha256 TEXT,
  content_type TEXT,
  created_s REAL NOT NULL,
  uploaded_s REAL
);
CREATE TABLE IF NOT EXISTS registry_files (
  id TEXT PRIMARY KEY,
  model_version_id TEXT NOT NULL REFERENCES registry_versions (id),
  name TEXT NOT NULL,
  filename TEXT NOT NULL,
  object_name TEXT NOT NULL,
  large INTEGER NOT NULL,
  created_s REAL NOT NULL,
  UNIQUE (model_version_id, name)
);
CREATE TABLE IF NOT EXISTS deployment_model_history (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  deployment_id TEXT NOT NULL,
  champion_version_id TEXT,
  shadow_version_id TEXT,
  since_s REAL NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deployment_model_history_by_deployment ON deployment_model_history (deployment_id, seq);
CREATE TABLE IF NOT EXISTS prediction_reviews (
  prediction_id TEXT PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  deployment_id TEXT NOT NULL,
  body_json TEXT NOT NULL,
  labels_json TEXT NOT NULL,
  created_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS prediction_reviews_by_deployment ON prediction_reviews (deployment_id);
-- Predicted assets are listed by reception time (created_at, newest first by default) and periods start at a reception time.
CREATE INDEX IF NOT EXISTS predictions_by_received ON predictions (deployment_id, received_s);
CREATE TRIGGER IF NOT EXISTS predictions_keep_reviewed BEFORE DELETE ON predictions
  WHEN EXISTS (SELECT 1 FROM prediction_reviews WHERE prediction_id = OLD.id)
  BEGIN SELECT RAISE(IGNORE); END;
`;

/**
 * Opens `file` (the monitoring database, whose `predictions` table must exist) and creates the registry's tables.
 * The trigger makes a reviewed prediction impossible to delete, whoever deletes. Throws `EW_STORE_OPEN`.
 */
export function openRegistryDb(file: string): Database.Database {
  try {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('synchronous = NORMAL');
    db.exec(SCHEMA);
    installPeriodTraffic(db);
    return db;
  } catch (cause) {
    throw new EdgewatchError('EW_STORE_OPEN', `Cannot open the model registry in ${file}: ${(cause as Error).message}.`, { cause, details: { path: file } });
  }
}
