/** The model registry's rows: models, model versions, stored objects, model files, and each deployment's champion/shadow history. */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { cachedStatement } from '../../sqlite-statements.js';
import { FILE_SELECT, MODEL_SELECT, OBJECT_SELECT, PERIOD_SELECT, VERSION_SELECT, versionChanges, versionOf, type VersionDbRow } from './registry-queries.js';

/** A model (the "origin" of its versions). */
export interface ModelRow {
  id: string;
  organizationId: string;
  name: string;
  description: string | null;
}

/** A model version with its model. `labels` maps class index (as a string) to label name. */
export interface VersionRow {
  id: string;
  modelId: string;
  modelName: string;
  version: number;
  name: string;
  labels: Record<string, string> | null;
  type: string;
  framework: string;
  description: string | null;
  createdS: number;
}

/** An object of the storage (the datalake folder): its name, and once uploaded its size and SHA-256. */
export interface ObjectRow {
  objectName: string;
  organizationId: string;
  modelVersionId: string | null;
  filename: string;
  bytes: number | null;
  sha256: string | null;
  contentType: string | null;
}

/** A model file of a version. */
export interface FileRow {
  id: string;
  modelVersionId: string;
  name: string;
  filename: string;
  objectName: string;
  large: boolean;
}

/** One entry of a deployment's champion/shadow history: in force from `sinceS` (reception time) until the next entry. */
export interface ModelPeriod {
  seq: number;
  deploymentId: string;
  championVersionId: string | null;
  shadowVersionId: string | null;
  sinceS: number;
  reason: string;
}

/** Fields of a new model version (`Model.create_version` keys; unknown ones are ignored). */
export interface NewVersion {
  name?: string | undefined;
  labels?: Record<string, string> | null | undefined;
  type?: string | undefined;
  framework?: string | undefined;
  description?: string | undefined;
}

function fileOf(r: Omit<FileRow, 'large'> & { large: number }): FileRow {
  return { ...r, large: r.large === 1 };
}

/** Synchronous queries of the registry tables (better-sqlite3). */
export class ModelRegistry {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Creates a model; undefined when the organization already has one of that name. */
  createModel(organizationId: string, name: string, description: string | null): ModelRow | undefined {
    const id = randomUUID();
    const info = cachedStatement(this.#db, 'INSERT INTO registry_models (id, organization_id, name, description, created_s) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(id, organizationId, name, description, Date.now() / 1000);
    return info.changes === 1 ? { id, organizationId, name, description } : undefined;
  }

  /** A model by id, or by name within an organization. */
  findModel(by: { id: string } | { organizationId: string; name: string }): ModelRow | undefined {
    return ('id' in by
      ? cachedStatement(this.#db, `${MODEL_SELECT} WHERE id = ?`).get(by.id)
      : cachedStatement(this.#db, `${MODEL_SELECT} WHERE organization_id = ? AND name = ?`).get(by.organizationId, by.name)) as ModelRow | undefined;
  }

  /** Models of an organization, by name. */
  listModels(organizationId: string): ModelRow[] {
    return cachedStatement(this.#db, `${MODEL_SELECT} WHERE organization_id = ? ORDER BY name`).all(organizationId) as ModelRow[];
  }

  /** Adds the next version (number = last + 1, name defaults to that number); undefined when the name is taken. */
  createVersion(modelId: string, v: NewVersion, defaults: { type: string; framework: string }): VersionRow | undefined {
    return this.#db.transaction(() => {
      const last = (cachedStatement(this.#db, 'SELECT MAX(version) AS n FROM registry_versions WHERE model_id = ?').get(modelId) as { n: number | null }).n ?? 0;
      const id = randomUUID();
      const info = cachedStatement(
        this.#db,
        `INSERT INTO registry_versions (id, model_id, version, name, labels_json, type, framework, description, created_s)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ).run(id, modelId, last + 1, v.name ?? String(last + 1), v.labels == null ? null : JSON.stringify(v.labels), v.type ?? defaults.type, v.framework ?? defaults.framework, v.description ?? null, Date.now() / 1000);
      return info.changes === 1 ? this.getVersion(id) : undefined;
    })();
  }

  /** Changes the given fields of a version; undefined when the new name is taken by another version of its model. */
  updateVersion(id: string, v: NewVersion): VersionRow | undefined {
    const changes = versionChanges(v);
    if (changes.length > 0) {
      try {
        cachedStatement(this.#db, `UPDATE registry_versions SET ${changes.map(([column]) => `${column} = ?`).join(', ')} WHERE id = ?`).run(...changes.map(([, value]) => value), id);
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') return undefined;
        throw err;
      }
    }
    return this.getVersion(id);
  }

  /** A model version by id. */
  getVersion(id: string): VersionRow | undefined {
    const r = cachedStatement(this.#db, `${VERSION_SELECT} WHERE v.id = ?`).get(id) as VersionDbRow | undefined;
    return r && versionOf(r);
  }

  /** A version of a model by name or number. */
  findVersion(modelId: string, by: { name: string } | { version: number }): VersionRow | undefined {
    const r = ('name' in by
      ? cachedStatement(this.#db, `${VERSION_SELECT} WHERE v.model_id = ? AND v.name = ?`).get(modelId, by.name)
      : cachedStatement(this.#db, `${VERSION_SELECT} WHERE v.model_id = ? AND v.version = ?`).get(modelId, by.version)) as VersionDbRow | undefined;
    return r && versionOf(r);
  }

  /** Versions of a model, oldest first. */
  listVersions(modelId: string): VersionRow[] {
    return (cachedStatement(this.#db, `${VERSION_SELECT} WHERE v.model_id = ? ORDER BY v.version`).all(modelId) as VersionDbRow[]).map(versionOf);
  }

  /** Records a new object name (before its upload). */
  addObject(o: { objectName: string; organizationId: string; modelVersionId: string | null; filename: string }): void {
    cachedStatement(this.#db, 'INSERT INTO registry_objects (object_name, organization_id, model_version_id, filename, created_s) VALUES (?, ?, ?, ?, ?)')
      .run(o.objectName, o.organizationId, o.modelVersionId, o.filename, Date.now() / 1000);
  }

  /** An object by name. */
  getObject(objectName: string): ObjectRow | undefined {
    return cachedStatement(this.#db, `${OBJECT_SELECT} WHERE object_name = ?`).get(objectName) as ObjectRow | undefined;
  }

  /** Records a finished upload. */
  markUploaded(objectName: string, bytes: number, sha256: string, contentType: string): void {
    cachedStatement(this.#db, 'UPDATE registry_objects SET bytes = ?, sha256 = ?, content_type = ?, uploaded_s = ? WHERE object_name = ?')
      .run(bytes, sha256, contentType, Date.now() / 1000, objectName);
  }

  /** Adds a model file; undefined when the version already has a file of that name. */
  addFile(f: Omit<FileRow, 'id'>): FileRow | undefined {
    const id = randomUUID();
    const info = cachedStatement(this.#db, 'INSERT INTO registry_files (id, model_version_id, name, filename, object_name, large, created_s) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(id, f.modelVersionId, f.name, f.filename, f.objectName, f.large ? 1 : 0, Date.now() / 1000);
    return info.changes === 1 ? { id, ...f } : undefined;
  }

  /** Files of a version, oldest first. */
  listFiles(modelVersionId: string): FileRow[] {
    return (cachedStatement(this.#db, `${FILE_SELECT} WHERE model_version_id = ? ORDER BY created_s, id`).all(modelVersionId) as (Omit<FileRow, 'large'> & { large: number })[]).map(fileOf);
  }

  /** A file by id, or by name within a version. */
  findFile(by: { id: string } | { modelVersionId: string; name: string }): FileRow | undefined {
    const r = ('id' in by
      ? cachedStatement(this.#db, `${FILE_SELECT} WHERE id = ?`).get(by.id)
      : cachedStatement(this.#db, `${FILE_SELECT} WHERE model_version_id = ? AND name = ?`).get(by.modelVersionId, by.name)) as (Omit<FileRow, 'large'> & { large: number }) | undefined;
    return r && fileOf(r);
  }

  /** Deletes a model file's row (its object stays: a download in progress finishes). */
  deleteFile(id: string): boolean {
    return cachedStatement(this.#db, 'DELETE FROM registry_files WHERE id = ?').run(id).changes === 1;
  }

  /** The champion/shadow in force for a deployment, undefined when none was ever set. */
  currentPeriod(deploymentId: string): ModelPeriod | undefined {
    return cachedStatement(this.#db, `${PERIOD_SELECT} WHERE deployment_id = ? ORDER BY seq DESC LIMIT 1`).get(deploymentId) as ModelPeriod | undefined;
  }

  /** Every champion/shadow period of a deployment, oldest first. */
  periods(deploymentId: string): ModelPeriod[] {
    return cachedStatement(this.#db, `${PERIOD_SELECT} WHERE deployment_id = ? ORDER BY seq`).all(deploymentId) as ModelPeriod[];
  }

  /** Starts a new period when the pair changes; returns the period in force afterwards and whether it is new. */
  setModels(deploymentId: string, championVersionId: string | null, shadowVersionId: string | null, reason: string): { period: ModelPeriod; changed: boolean } {
    return this.#db.transaction(() => {
      const now = this.currentPeriod(deploymentId);
      if (now !== undefined && now.championVersionId === championVersionId && now.shadowVersionId === shadowVersionId) return { period: now, changed: false };
      cachedStatement(this.#db, 'INSERT INTO deployment_model_history (deployment_id, champion_version_id, shadow_version_id, since_s, reason) VALUES (?, ?, ?, ?, ?)')
        .run(deploymentId, championVersionId, shadowVersionId, Date.now() / 1000, reason);
      return { period: this.currentPeriod(deploymentId) as ModelPeriod, changed: true };
    })();
  }
}
