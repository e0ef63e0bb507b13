/** The platform's model calls (SDK 6.28.1): a deployment's champion and shadow versions, model versions and their files, object-storage URLs, uploads and promotion. */
import { z } from 'zod';
import { EdgewatchError, isEdgewatchError } from '../errors.js';
import { HttpExchange, type MonitorLogger } from './http-exchange.js';
import { PlatformApi } from './platform-api.js';
import { organizationSchema } from './protocol-schemas.js';
import { Redactor } from './redactor.js';
import { lookUpOrganization, lookUpTarget, type TargetQuery } from './target-lookup.js';

/** `GET /api/deployment/{id}`: the champion (always) and the shadow (null or absent: none). */
export const platformDeploymentSchema = z.looseObject({
  id: z.string().min(1).optional(),
  model_version_id: z.string().min(1),
  shadow_model_version_id: z.string().min(1).nullable().optional(),
});

/** `GET /api/model/version/{id}` (`ModelVersionSchema`). */
export const modelVersionSchema = z.looseObject({
  id: z.string().min(1),
  origin: z.looseObject({ id: z.string(), name: z.string(), private: z.boolean() }),
  name: z.string(),
  version: z.number().int(),
  labels: z.record(z.string(), z.string()).nullable().optional(),
  type: z.string(),
  framework: z.string(),
});
export type ModelVersion = z.output<typeof modelVersionSchema>;

/** A ModelFile (`ModelFileSchema`). */
export const modelFileSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  object_name: z.string().min(1),
  filename: z.string(),
  large: z.boolean(),
  presigned_url: z.string().nullable().optional(),
});
export type ModelFile = z.output<typeof modelFileSchema>;

const presignedSchema = z.looseObject({ presigned_url: z.string().min(1) });
const objectNameSchema = z.looseObject({ object_name: z.string().min(1) });
const uploadUrlSchema = z.looseObject({
  client_type: z.string(),
  presigned_url_data: z.looseObject({ url: z.string().min(1), fields: z.record(z.string(), z.string()) }),
});
const modelSchema = z.looseObject({ id: z.string().min(1), name: z.string() });
const anyJson = z.unknown();

/** The champion and shadow a deployment names. */
export interface DeploymentModels {
  championVersionId: string;
  shadowVersionId: string | null;
}

/** Options of `ModelRegistryApi`. */
export interface ModelRegistryOptions {
  host: string;
  apiToken: string;
  requestTimeoutMs: number;
  userAgent: string;
  signal?: AbortSignal | undefined;
  logger?: MonitorLogger | undefined;
}

/** The model calls, with `Authorization: Bearer <api_token>` on the platform and never on object storage. Owns its HTTP agent: `close()` it. */
export class ModelRegistryApi {
  readonly #http: HttpExchange;
  readonly #platform: PlatformApi;
  readonly redactor: Redactor;
  #connector: { organizationId: string; connectorId: string } | undefined;

  constructor(options: ModelRegistryOptions) {
    this.redactor = new Redactor([options.apiToken]);
    this.#http = new HttpExchange({ requestTimeoutMs: options.requestTimeoutMs, userAgent: options.userAgent, signal: options.signal, redactor: this.redactor, logger: options.logger });
    this.#platform = new PlatformApi({ host: options.host, apiToken: options.apiToken, http: this.#http, redactor: this.redactor });
  }

  /** The organization and deployment ids, as the SDK finds them (ping, organization, deployment by name). */
  async findDeployment(query: TargetQuery): Promise<{ organizationId: string; deploymentId: string; type: string }> {
    const target = await lookUpTarget(this.#platform, query);
    return { organizationId: target.organizationId, deploymentId: target.deploymentId, type: target.type };
  }

  /** The organization id as the SDK finds it (by id, else by name, else the ping's default organization). */
  async findOrganization(query: Omit<TargetQuery, 'deployment'>): Promise<string> {
    const { organizationId, organization } = await lookUpOrganization(this.#platform, query);
    if (organization.default_connector_id) this.#connector = { organizationId, connectorId: organization.default_connector_id };
    return organizationId;
  }

  /** `GET /api/deployment/{id}`: which versions are champion and shadow now. */
  async deploymentModels(deploymentId: string): Promise<DeploymentModels> {
    const d = await this.#platform.get('deployment', `/api/deployment/${encodeURIComponent(deploymentId)}`, platformDeploymentSchema);
    return { championVersionId: d.model_version_id, shadowVersionId: d.shadow_model_version_id ?? null };
  }

  /** `GET /api/model/version/{id}`. */
  modelVersion(versionId: string): Promise<ModelVersion> {
    return this.#platform.get('model version', `/api/model/version/${encodeURIComponent(versionId)}`, modelVersionSchema);
  }

  /** `GET /api/model/version/{id}/modelfiles/find?name=`; a 404 is EW_MODEL_FILE_MISSING. */
  async modelFile(versionId: string, name: string): Promise<ModelFile> {
    try {
      return await this.#platform.get('model file look-up', `/api/model/version/${encodeURIComponent(versionId)}/modelfiles/find`, modelFileSchema, { query: { name } });
    } catch (err) {
      if (!isEdgewatchError(err, 'EW_MONITOR_NOT_FOUND')) throw err;
      throw new EdgewatchError(
        'EW_MODEL_FILE_MISSING',
        `Model version ${versionId} has no file named "${name}": push the TF.js model folder with \`edgewatch models push DIR --model NAME\` (stored as "${name}"), or set --model-file-name.`,
        { details: { versionId, name } },
      );
    }
  }

  /** The organization's `default_connector_id` (asked once): the object storage of its files. */
  async connector(organizationId: string): Promise<string> {
    if (this.#connector?.organizationId === organizationId) return this.#connector.connectorId;
    const org = await this.#platform.get('organization', `/api/organization/${encodeURIComponent(organizationId)}`, organizationSchema);
    if (!org.default_connector_id) {
      throw new EdgewatchError('EW_MODEL_DOWNLOAD', `Organization ${org.name} has no default storage connector (default_connector_id is null): model files cannot be fetched or stored.`, { details: { organizationId } });
    }
    this.#connector = { organizationId, connectorId: org.default_connector_id };
    return org.default_connector_id;
  }

  /** `POST /api/object-storage/{connector}/retrieve_presigned_url` `{object_name}`: exactly 200 `{presigned_url}`. */
  async retrievePresignedUrl(connectorId: string, objectName: string): Promise<string> {
    const r = await this.#platform.post('presigned URL', `/api/object-storage/${encodeURIComponent(connectorId)}/retrieve_presigned_url`, { object_name: objectName }, presignedSchema, { exactStatus: 200 });
    return r.presigned_url;
  }

  /** `GET /api/organization/{org}/models/find?name=`, or undefined on 404. */
  async findModel(organizationId: string, name: string): Promise<{ id: string } | undefined> {
    try {
      return await this.#platform.get('model look-up', `/api/organization/${encodeURIComponent(organizationId)}/models/find`, modelSchema, { query: { name } });
    } catch (err) {
      if (isEdgewatchError(err, 'EW_MONITOR_NOT_FOUND')) return undefined;
      throw err;
    }
  }

  /** `POST /api/organization/{org}/models` `{name}` (the SDK's create_model; edgewatch serve answers it too). */
  createModel(organizationId: string, name: string): Promise<{ id: string }> {
    return this.#platform.post('model creation', `/api/organization/${encodeURIComponent(organizationId)}/models`, { name }, modelSchema);
  }

  /** `POST /api/model/{id}/versions` with the version's name, labels, type and framework. */
  createVersion(modelId: string, body: { name: string; labels: Record<string, string>; type: string; framework: string }): Promise<ModelVersion> {
    return this.#platform.post('model version creation', `/api/model/${encodeURIComponent(modelId)}/versions`, body, modelVersionSchema);
  }

  /** `POST /api/organization/{org}/connector/{c}/generate_object_name`. */
  async generateObjectName(organizationId: string, connectorId: string, filename: string, versionId: string): Promise<string> {
    const r = await this.#platform.post(
      'object name',
      `/api/organization/${encodeURIComponent(organizationId)}/connector/${encodeURIComponent(connectorId)}/generate_object_name`,
      { filename, type: 'MODEL_FILE', context: { model_version_id: versionId } },
      objectNameSchema,
    );
    return r.object_name;
  }

  /** `POST /api/object-storage/{c}/generate_presigned_url` → the presigned POST's URL and form fields. */
  async uploadUrl(connectorId: string, objectName: string, contentType: string): Promise<{ clientType: string; url: string; fields: Record<string, string> }> {
    const r = await this.#platform.post('upload URL', `/api/object-storage/${encodeURIComponent(connectorId)}/generate_presigned_url`, { object_name: objectName, content_type: contentType }, uploadUrlSchema);
    return { clientType: r.client_type.toLowerCase(), url: r.presigned_url_data.url, fields: r.presigned_url_data.fields };
  }

  /** `POST /api/model/version/{id}/modelfiles` `{name, filename, object_name, large}`. */
  addModelFile(versionId: string, file: { name: string; filename: string; object_name: string; large: boolean }): Promise<ModelFile> {
    return this.#platform.post('model file creation', `/api/model/version/${encodeURIComponent(versionId)}/modelfiles`, file, modelFileSchema);
  }

  /** `POST /api/deployment/{id}/model|shadow` `{model_version_id}`: sets the champion or the shadow. */
  async setDeploymentModel(deploymentId: string, role: 'champion' | 'shadow', versionId: string): Promise<void> {
    await this.#platform.post(`set ${role}`, `/api/deployment/${encodeURIComponent(deploymentId)}/${role === 'champion' ? 'model' : 'shadow'}`, { model_version_id: versionId }, anyJson);
  }

  /** Releases the HTTP connections. Idempotent. */
  close(): Promise<void> {
    return this.#http.close();
  }
}
