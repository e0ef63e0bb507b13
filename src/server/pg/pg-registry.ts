/**
 * The model registry on PostgreSQL (`RegistryStore`; SQLite: registry/registry-store.ts, same answers): models,
 * versions, stored objects, model files and each deployment's champion/shadow history. Replicas share it: unique
 * constraints decide between two replicas creating the same name, a version number is taken under its model's row lock,
 * and a champion/shadow change is serialized per deployment and announced (NOTIFY, see model-assignment.ts) when it commits.
 */
import { randomUUID } from 'node:crypto';
import { FILE_SELECT, MODEL_SELECT, OBJECT_SELECT, PERIOD_COLUMNS, PERIOD_SELECT, VERSION_SELECT, versionChanges, versionOf, type VersionDbRow } from '../registry/registry-queries.js';
import type { FileRow, ModelPeriod, ModelRow, NewVersion, ObjectRow, VersionRow } from '../registry/registry-store.js';
import type { RegistryStore } from '../store-api.js';
import type { PgSql } from './pg-store.js';

/** Channel of champion/shadow changes; the payload is the deployment id. */
export const MODELS_CHANNEL = 'edgewatch_models';

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown }).code === '23505';
}

/** `RegistryStore` on the service's PostgreSQL pool. */
export class PgModelRegistry implements RegistryStore {
  readonly #sql: PgSql;

  constructor(sql: PgSql) {
    this.#sql = sql;
  }

  async #one<T>(sql: string, params: unknown[]): Promise<T | undefined> {
    return (await this.#sql.rows<T>(sql, params))[0];
  }

  async createModel(organizationId: string, name: string, description: string | null): Promise<ModelRow | undefined> {
    const id = randomUUID();
    const rows = await this.#sql.rows('INSERT INTO registry_models (id, organization_id, name, description, created_s) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id', [id, organizationId, name, description, Date.now() / 1000]);
    return rows.length === 1 ? { id, organizationId, name, description } : undefined;
  }

  findModel(by: { id: string } | { organizationId: string; name: string }): Promise<ModelRow | undefined> {
    return 'id' in by ? this.#one<ModelRow>(`${MODEL_SELECT} WHERE id = $1`, [by.id]) : this.#one<ModelRow>(`${MODEL_SELECT} WHERE organization_id = $1 AND name = $2`, [by.organizationId, by.name]);
  }

  listModels(organizationId: string): Promise<ModelRow[]> {
    return this.#sql.rows<ModelRow>(`${MODEL_SELECT} WHERE organization_id = $1 ORDER BY name`, [organizationId]);
  }

  async createVersion(modelId: string, v: NewVersion, defaults: { type: string; framework: string }): Promise<VersionRow | undefined> {
    const id = randomUUID();
    const created = await this.#sql.transaction(async (client) => {
      // The model's row lock: two replicas adding a version to one model take the next numbers in turn.
      if ((await client.query('SELECT 1 FROM registry_models WHERE id = $1 FOR UPDATE', [modelId])).rowCount === 0) return false;
      const last = Number((await client.query<{ n: number | null }>('SELECT MAX(version) AS n FROM registry_versions WHERE model_id = $1', [modelId])).rows[0]?.n ?? 0);
      const inserted = await client.query(
        `INSERT INTO registry_versions (id, model_id, version, name, labels_json, type, framework, description, created_s)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
        [id, modelId, last + 1, v.name ?? String(last + 1), v.labels == null ? null : JSON.stringify(v.labels), v.type ?? defaults.type, v.framework ?? defaults.framework, v.description ?? null, Date.now() / 1000],
      );
      return inserted.rowCount === 1;
    });
    return created ? this.getVersion(id) : undefined;
  }

  async updateVersion(id: string, v: NewVersion): Promise<VersionRow | undefined> {
    const changes = versionChanges(v);
    if (changes.length > 0) {
      try {
        const sets = changes.map(([column], i) => `${column} = $${i + 1}`).join(', ');
        await this.#sql.rows(`UPDATE registry_versions SET ${sets} WHERE id = $${changes.length + 1}`, [...changes.map(([, value]) => value), id]);
      } catch (err) {
        if (isUniqueViolation(err)) return undefined;
        throw err;
      }
    }
    return this.getVersion(id);
  }

  async getVersion(id: string): Promise<VersionRow | undefined> {
    const r = await this.#one<VersionDbRow>(`${VERSION_SELECT} WHERE v.id = $1`, [id]);
    return r && versionOf(r);
  }

  async findVersion(modelId: string, by: { name: string } | { version: number }): Promise<VersionRow | undefined> {
    const r = 'name' in by
      ? await this.#one<VersionDbRow>(`${VERSION_SELECT} WHERE v.model_id = $1 AND v.name = $2`, [modelId, by.name])
      : await this.#one<VersionDbRow>(`${VERSION_SELECT} WHERE v.model_id = $1 AND v.version = $2`, [modelId, by.version]);
    return r && versionOf(r);
  }

  async listVersions(modelId: string): Promise<VersionRow[]> {
    return (await this.#sql.rows<VersionDbRow>(`${VERSION_SELECT} WHERE v.model_id = $1 ORDER BY v.version`, [modelId])).map(versionOf);
  }

  async addObject(o: { objectName: string; organizationId: string; modelVersionId: string | null; filename: string }): Promise<void> {
    await this.#sql.rows('INSERT INTO registry_objects (object_name, organization_id, model_version_id, filename, created_s) VALUES ($1, $2, $3, $4, $5)', [o.objectName, o.organizationId, o.modelVersionId, o.filename, Date.now() / 1000]);
  }

  getObject(objectName: string): Promise<ObjectRow | undefined> {
    return this.#one<ObjectRow>(`${OBJECT_SELECT} WHERE object_name = $1`, [objectName]);
  }

  async markUploaded(objectName: string, bytes: number, sha256: string, contentType: string): Promise<void> {
    await this.#sql.rows('UPDATE registry_objects SET bytes = $1, sha256 = $2, content_type = $3, uploaded_s = $4 WHERE object_name = $5', [bytes, sha256, contentType, Date.now() / 1000, objectName]);
  }

  async addFile(f: Omit<FileRow, 'id'>): Promise<FileRow | undefined> {
    const id = randomUUID();
    const rows = await this.#sql.rows(
      'INSERT INTO registry_files (id, model_version_id, name, filename, object_name, large, created_s) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id',
      [id, f.modelVersionId, f.name, f.filename, f.objectName, f.large, Date.now() / 1000],
    );
    return rows.length === 1 ? { id, ...f } : undefined;
  }

  listFiles(modelVersionId: string): Promise<FileRow[]> {
    return this.#sql.rows<FileRow>(`${FILE_SELECT} WHERE model_version_id = $1 ORDER BY created_s, id`, [modelVersionId]);
  }

  findFile(by: { id: string } | { modelVersionId: string; name: string }): Promise<FileRow | undefined> {
    return 'id' in by ? this.#one<FileRow>(`${FILE_SELECT} WHERE id = $1`, [by.id]) : this.#one<FileRow>(`${FILE_SELECT} WHERE model_version_id = $1 AND name = $2`, [by.modelVersionId, by.name]);
  }

  async deleteFile(id: string): Promise<boolean> {
    return (await this.#sql.rows('DELETE FROM registry_files WHERE id = $1 RETURNING id', [id])).length === 1;
  }

  currentPeriod(deploymentId: string): Promise<ModelPeriod | undefined> {
    return this.#one<ModelPeriod>(`${PERIOD_SELECT} WHERE deployment_id = $1 ORDER BY seq DESC LIMIT 1`, [deploymentId]);
  }

  periods(deploymentId: string): Promise<ModelPeriod[]> {
    return this.#sql.rows<ModelPeriod>(`${PERIOD_SELECT} WHERE deployment_id = $1 ORDER BY seq`, [deploymentId]);
  }

  /** Starts a new period when the pair changes (one change per deployment at a time, across replicas) and notifies every replica on commit. */
  setModels(deploymentId: string, championVersionId: string | null, shadowVersionId: string | null, reason: string): Promise<{ period: ModelPeriod; changed: boolean }> {
    return this.#sql.transaction(async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('edgewatch models ' || $1))", [deploymentId]);
      const now = (await client.query<ModelPeriod>(`${PERIOD_SELECT} WHERE deployment_id = $1 ORDER BY seq DESC LIMIT 1`, [deploymentId])).rows[0];
      if (now !== undefined && now.championVersionId === championVersionId && now.shadowVersionId === shadowVersionId) return { period: now, changed: false };
      const period = (await client.query<ModelPeriod>(
        `INSERT INTO deployment_model_history (deployment_id, champion_version_id, shadow_version_id, since_s, reason) VALUES ($1, $2, $3, $4, $5)
         RETURNING ${PERIOD_COLUMNS}`,
        [deploymentId, championVersionId, shadowVersionId, Date.now() / 1000, reason],
      )).rows[0] as ModelPeriod;
      await client.query('SELECT pg_notify($1, $2)', [MODELS_CHANNEL, deploymentId]);
      return { period, changed: true };
    });
  }
}
