/** Test helper: the registry calls of the Picsellia SDK 6.28.1 as it sends them (headers, compact JSON, presigned multipart POST). */
import { randomBytes } from 'node:crypto';
import { httpRequest, type HttpResult } from './sdk.js';

/** The SDK's per-request platform headers (`Connexion`), with the organization header once a connector exists. */
export function sdkHeaders(token: string, organizationId?: string): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    'user-agent': 'Picsellia-SDK/6.28.1',
    ...(organizationId === undefined ? {} : { 'x-picsellia-organization': organizationId }),
  };
}

/** A platform client for one service: GET/POST/DELETE with the SDK's headers, bodies as compact JSON (orjson). */
export function platform(url: string, token: string, organizationId?: string) {
  const headers = sdkHeaders(token, organizationId);
  return {
    get: (path: string) => httpRequest(`${url}${path}`, { headers }),
    post: (path: string, body: unknown) => httpRequest(`${url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) }),
    delete: (path: string) => httpRequest(`${url}${path}`, { method: 'DELETE', headers }),
  };
}

/** Python requests' multipart body for `post(url, data=fields, files={"file": (filename, bytes)})`. */
export function multipart(fields: Record<string, string>, file: { filename: string; bytes: Buffer } | null): { body: Buffer; contentType: string } {
  const boundary = randomBytes(16).toString('hex');
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  if (file !== null) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.filename}"\r\n\r\n`), file.bytes, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** `S3UploadAdapter`: a multipart POST of the presigned fields plus `Content-Type` and the file part, no Picsellia headers. */
export function presignedPost(data: { url: string; fields: Record<string, string> }, bytes: Buffer, filename: string, contentType = 'application/zip'): Promise<HttpResult> {
  const form = multipart({ ...data.fields, 'Content-Type': contentType }, { filename, bytes });
  return httpRequest(data.url, { method: 'POST', headers: { 'content-type': form.contentType }, body: form.body });
}

/** `ModelVersion.store(name, path)` for a small file: object name, presigned POST, then the model file. Returns the ModelFile JSON reply. */
export async function storeModelFile(
  p: ReturnType<typeof platform>,
  ids: { organizationId: string; connectorId: string; modelVersionId: string },
  name: string,
  filename: string,
  bytes: Buffer,
): Promise<HttpResult> {
  const objectName = await p.post(`/api/organization/${ids.organizationId}/connector/${ids.connectorId}/generate_object_name`, { filename, type: 'MODEL_FILE', context: { model_version_id: ids.modelVersionId } });
  if (objectName.status !== 200) throw new Error(`generate_object_name ${objectName.status} ${objectName.text}`);
  const presigned = await p.post(`/api/object-storage/${ids.connectorId}/generate_presigned_url`, { object_name: objectName.json.object_name, content_type: 'application/zip' });
  if (presigned.status !== 200) throw new Error(`generate_presigned_url ${presigned.status} ${presigned.text}`);
  const uploaded = await presignedPost(presigned.json.presigned_url_data, bytes, objectName.json.object_name);
  if (uploaded.status >= 300) throw new Error(`upload ${uploaded.status} ${uploaded.text}`);
  return p.post(`/api/model/version/${ids.modelVersionId}/modelfiles`, { name, filename, object_name: objectName.json.object_name, large: false });
}
