/** JSON shapes of the registry as the Picsellia SDK 6.28.1 reads them (ModelSchema, ModelVersionSchema, ModelFileSchema). */
import type { OrganizationInfo } from '../config.js';
import { stableUuid } from '../config.js';
import type { FileRow, ModelRow, ObjectRow, VersionRow } from './registry-store.js';

/** The organization's storage connector (`default_connector_id`): the datalake folder of this service. */
export function connectorIdOf(org: OrganizationInfo): string {
  return stableUuid(`connector:${org.name}`);
}

/** `Model` JSON. */
export function modelJson(m: ModelRow) {
  return { id: m.id, name: m.name, private: true, description: m.description };
}

/** `ModelVersion` JSON: `origin` is the model; `labels` maps class index (string) to label name. */
export function versionJson(v: VersionRow) {
  return {
    id: v.id,
    origin: { id: v.modelId, name: v.modelName, private: true },
    name: v.name,
    version: v.version,
    labels: v.labels,
    type: v.type,
    framework: v.framework,
    description: v.description,
    tags: [],
    created_at: new Date(v.createdS * 1000).toISOString(),
  };
}

/** `ModelFile` JSON with a fresh presigned download URL; `size` and `sha256` (edgewatch's additions) once the object is uploaded. */
export function fileJson(f: FileRow, object: ObjectRow | undefined, presignedUrl: string) {
  return {
    id: f.id,
    name: f.name,
    object_name: f.objectName,
    filename: f.filename,
    large: f.large,
    presigned_url: presignedUrl,
    size: object?.bytes ?? null,
    sha256: object?.sha256 ?? null,
  };
}
