/** `edgewatch models push`: a TF.js model folder uploaded as one zip (entries at the root) to a new model version, through the SDK's upload chain, so it works against Picsellia and `serve` alike. */
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { zipSync } from 'fflate';
import { FormData, request } from 'undici';
import { EdgewatchError } from '../errors.js';
import { readManifest } from '../infer/manifest.js';
import { where } from '../monitor/http-exchange.js';
import type { ModelRegistryApi } from '../monitor/model-registry-api.js';

/** Above this size the SDK marks a file `large` (25 MiB). */
const LARGE_BYTES = 25 * 1024 * 1024;

export interface PushOptions {
  api: Pick<
    ModelRegistryApi,
    'findOrganization' | 'findDeployment' | 'connector' | 'findModel' | 'createModel' | 'createVersion' | 'generateObjectName' | 'uploadUrl' | 'addModelFile' | 'setDeploymentModel'
  >;
  dir: string;
  /** Model (origin) name: found, or created. */
  model: string;
  /** Version name (default: the manifest name and the time). */
  versionName?: string | undefined;
  /** Name of the ModelFile (the agent's --model-file-name). */
  fileName: string;
  organization?: string | undefined;
  organizationId?: string | undefined;
  /** Also make it the champion or shadow of this deployment. */
  deployment?: { name: string; as: 'champion' | 'shadow' } | undefined;
  timeoutMs: number;
}

/** What was pushed. */
export interface PushResult {
  modelId: string;
  versionId: string;
  versionName: string;
  objectName: string;
  bytes: number;
  /** Set when `deployment` was given. */
  deploymentId?: string;
}

/** Zips the top-level files of `dir` (what the agent unpacks: model.json, shards, manifest). */
async function zipModelFolder(dir: string): Promise<Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile() && !entry.name.startsWith('.')) files[entry.name] = await readFile(join(dir, entry.name));
  }
  if (!files['model.json']) {
    throw new EdgewatchError('EW_MODEL_NOT_TFJS', `${dir} has no model.json: push a TF.js model folder (convert a TensorFlow or Keras model with tensorflowjs_converter first).`, { details: { dir } });
  }
  return zipSync(files, { level: 6 });
}

/**
 * Checks the folder (its manifest gives the version's task and labels), creates the model if
 * needed and a new version, uploads the zip (generate_object_name, generate_presigned_url, a
 * presigned POST of the fields and the file, never with the API token), registers the ModelFile,
 * and optionally sets the version as the deployment's champion or shadow.
 */
export async function pushModel(o: PushOptions): Promise<PushResult> {
  const dir = resolve(o.dir);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new EdgewatchError('EW_MODEL_LOAD', `${dir} is not a folder: give the TF.js model folder to push.`, { details: { dir } });
  const { manifest } = await readManifest(dir);
  const zip = await zipModelFolder(dir);
  const { api } = o;
  const organizationId = await api.findOrganization({ organization: o.organization, organizationId: o.organizationId });
  const connectorId = await api.connector(organizationId);
  const model = (await api.findModel(organizationId, o.model)) ?? (await api.createModel(organizationId, o.model));
  const versionName = o.versionName ?? `${manifest.name ?? basename(dir)}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const labels = Object.fromEntries(manifest.labels.map((label, i) => [String(i), label]));
  const version = await api.createVersion(model.id, { name: versionName, labels, type: manifest.task, framework: 'TENSORFLOW' });
  const filename = `${o.fileName}.zip`;
  const objectName = await api.generateObjectName(organizationId, connectorId, filename, version.id);
  const upload = await api.uploadUrl(connectorId, objectName, 'application/zip');
  await sendToStorage(upload, objectName, zip, o.timeoutMs);
  await api.addModelFile(version.id, { name: o.fileName, filename, object_name: objectName, large: zip.length > LARGE_BYTES });
  const result: PushResult = { modelId: model.id, versionId: version.id, versionName, objectName, bytes: zip.length };
  if (o.deployment) {
    const found = await api.findDeployment({ organizationId, deployment: o.deployment.name });
    await api.setDeploymentModel(found.deploymentId, o.deployment.as, version.id);
    result.deploymentId = found.deploymentId;
  }
  return result;
}

/** The SDK's upload adapters: a presigned multipart POST (aws, minio, google) or a PUT (azure); no Authorization header either way. */
async function sendToStorage(upload: { clientType: string; url: string; fields: Record<string, string> }, objectName: string, zip: Uint8Array, timeoutMs: number): Promise<void> {
  let url: URL;
  try {
    url = new URL(upload.url);
  } catch {
    throw new EdgewatchError('EW_MONITOR_PROTOCOL', 'The upload URL from generate_presigned_url is not a URL.');
  }
  const signal = AbortSignal.timeout(timeoutMs);
  let status: number;
  let text: string;
  try {
    if (upload.clientType === 'azure') {
      const res = await request(url, { method: 'PUT', signal, headers: { ...upload.fields, 'content-type': 'application/zip', 'x-ms-blob-type': 'BlockBlob' }, body: zip });
      status = res.statusCode;
      text = await res.body.text();
    } else if (['aws', 'minio', 'google'].includes(upload.clientType)) {
      const form = new FormData();
      for (const [k, v] of Object.entries(upload.fields)) form.append(k, v);
      form.append('Content-Type', 'application/zip');
      form.append('file', new Blob([Buffer.from(zip)], { type: 'application/zip' }), objectName);
      const res = await request(url, { method: 'POST', signal, body: form });
      status = res.statusCode;
      text = await res.body.text();
    } else {
      throw new EdgewatchError('EW_MONITOR_PROTOCOL', `generate_presigned_url answered client_type "${upload.clientType}", which the SDK cannot upload to either (aws, minio, google, azure).`);
    }
  } catch (err) {
    if (err instanceof EdgewatchError) throw err;
    throw new EdgewatchError('EW_MONITOR_CONNECT', `The upload to object storage (${where(url)}) failed: ${(err as { code?: string }).code ?? (err as Error).message}.`);
  }
  if (status < 200 || status >= 300) {
    throw new EdgewatchError('EW_MONITOR_HTTP', `Object storage refused the upload (${where(url)}, HTTP ${status}): ${text.slice(0, 200)}`, { details: { status } });
  }
}
