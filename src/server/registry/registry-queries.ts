/**
 * The registry's reads and row mapping, shared by its two stores (SQLite: registry-store.ts, PostgreSQL:
 * ../pg/pg-registry.ts): the same SELECTs (aliases double-quoted, which both dialects read as identifiers),
 * the version row's decoding and the columns a version update changes. Each store adds its own placeholders.
 */
import type { NewVersion, VersionRow } from './registry-store.js';

export const MODEL_SELECT = 'SELECT id, organization_id AS "organizationId", name, description FROM registry_models';
export const VERSION_SELECT = `SELECT v.id, v.model_id, m.name AS model_name, v.version, v.name, v.labels_json, v.type, v.framework, v.description, v.created_s
  FROM registry_versions v JOIN registry_models m ON m.id = v.model_id`;
/** `large` comes back as 0/1 from SQLite and as a boolean from PostgreSQL. */
export const FILE_SELECT = 'SELECT id, model_version_id AS "modelVersionId", name, filename, object_name AS "objectName", large FROM registry_files';
export const OBJECT_SELECT = `SELECT object_name AS "objectName", organization_id AS "organizationId", model_version_id AS "modelVersionId", filename, bytes, sha256,
  content_type AS "contentType" FROM registry_objects`;
/** A `ModelPeriod`'s columns of `deployment_model_history` (also what an insert returns on PostgreSQL). */
export const PERIOD_COLUMNS = `seq, deployment_id AS "deploymentId", champion_version_id AS "championVersionId", shadow_version_id AS "shadowVersionId",
  since_s AS "sinceS", reason`;
export const PERIOD_SELECT = `SELECT ${PERIOD_COLUMNS} FROM deployment_model_history`;

/** A row of `VERSION_SELECT`. */
export interface VersionDbRow {
  id: string;
  model_id: string;
  model_name: string;
  version: number;
  name: string;
  labels_json: string | null;
  type: string;
  framework: string;
  description: string | null;
  created_s: number;
}

export function versionOf(r: VersionDbRow): VersionRow {
  return {
    id: r.id,
    modelId: r.model_id,
    modelName: r.model_name,
    version: r.version,
    name: r.name,
    labels: r.labels_json === null ? null : (JSON.parse(r.labels_json) as Record<string, string>),
    type: r.type,
    framework: r.framework,
    description: r.description,
    createdS: r.created_s,
  };
}

/** The `[column, value]` pairs an update of `v` sets on `registry_versions` (only the fields given). */
export function versionChanges(v: NewVersion): [column: string, value: unknown][] {
  const changes: [string, unknown][] = [];
  if (v.name !== undefined) changes.push(['name', v.name]);
  if (v.labels !== undefined) changes.push(['labels_json', v.labels === null ? null : JSON.stringify(v.labels)]);
  if (v.type !== undefined) changes.push(['type', v.type]);
  if (v.framework !== undefined) changes.push(['framework', v.framework]);
  if (v.description !== undefined) changes.push(['description', v.description]);
  return changes;
}
