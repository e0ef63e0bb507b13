/**
 * Object storage of the platform, backed by the datalake folder: object names (`generate_object_name`), presigned
 * uploads (`generate_presigned_url` answers `client_type: "minio"`, then a multipart POST of the signed fields plus
 * `file`), presigned downloads (`retrieve_presigned_url`, then a GET with no Authorization that sends Content-Length;
 * 403 when expired or tampered). Model files live under `registry/model-files/<model version>/<uuid>/<filename>`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { dirname, extname } from 'node:path';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { writeFileAtomic } from '../../fs-atomic.js';
import { requireApiToken, type ServerContext } from '../context.js';
import { HttpError, allow, readBody } from '../http-util.js';
import { baseUrl } from '../platform-routes.js';
import { boundaryOf, parseMultipart } from './multipart.js';
import { connectorIdOf } from './registry-json.js';
import { jsonBody, organizationOr404, segment, versionOr404 } from './registry-routes.js';
import { DOWNLOAD_PREFIX, UPLOAD_PATH } from './signed-urls.js';

/** A reply streamed from a file, with its length known in advance. */
export interface StreamReply {
  status: number;
  stream: Readable | null;
  contentLength: number;
  contentType: string;
  headers?: Record<string, string>;
}

type Reply = { status: number; body: unknown } | StreamReply;

/** Bytes a multipart upload may add around the file (boundaries, the signed fields). */
const FORM_OVERHEAD_BYTES = 1024 * 1024;

const objectNameBody = z.object({
  filename: z.string().min(1).max(255),
  type: z.string().default('MODEL_FILE'),
  context: z.object({ model_version_id: z.string().min(1) }),
});
const presignBody = z.object({ object_name: z.string().min(1).max(1024), content_type: z.string().max(200).optional() });

function safeFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const s = base.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 120);
  return s === '' ? 'file' : s;
}

const CONTENT_TYPES: Record<string, string> = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.zip': 'application/zip', '.json': 'application/json' };

/** Checks the connector of a storage call: the organization's `default_connector_id`. */
function connectorOr404(ctx: ServerContext, connectorId: string): void {
  if (!ctx.organizations.some((o) => connectorIdOf(o) === connectorId)) throw new HttpError(404, `Connector ${connectorId} does not exist: use the organization's default_connector_id.`);
}

async function generateObjectName(ctx: ServerContext, req: IncomingMessage, orgId: string, connectorId: string): Promise<Reply> {
  const org = organizationOr404(ctx, orgId);
  if (connectorIdOf(org) !== connectorId) throw new HttpError(404, `Connector ${connectorId} is not organization ${org.name}'s.`);
  const body = await jsonBody(req, objectNameBody, 'object name request');
  if (body.type !== 'MODEL_FILE') throw new HttpError(422, `Invalid object name request: type ${body.type} is not supported here (only MODEL_FILE).`, { field: 'type' });
  const v = await versionOr404(ctx, body.context.model_version_id);
  const objectName = `registry/model-files/${v.id}/${randomUUID()}/${safeFilename(body.filename)}`;
  await ctx.registry.models.addObject({ objectName, organizationId: org.id, modelVersionId: v.id, filename: body.filename });
  return { status: 200, body: { object_name: objectName } };
}

async function presignUpload(ctx: ServerContext, req: IncomingMessage): Promise<Reply> {
  const body = await jsonBody(req, presignBody, 'presigned URL request');
  const object = await ctx.registry.models.getObject(body.object_name);
  if (object === undefined) throw new HttpError(404, `Object ${body.object_name} does not exist: call generate_object_name first.`);
  if (object.bytes !== null) throw new HttpError(409, `Object ${body.object_name} is already uploaded: objects are immutable, store a new file instead.`);
  return {
    status: 200,
    body: { client_type: 'minio', presigned_url_data: { url: `${baseUrl(ctx, req)}${UPLOAD_PATH}`, fields: ctx.registry.signer.uploadFields(body.object_name, ctx.config.maxModelFileBytes) } },
  };
}

async function presignDownload(ctx: ServerContext, req: IncomingMessage): Promise<Reply> {
  const body = await jsonBody(req, presignBody, 'presigned URL request');
  const object = await ctx.registry.models.getObject(body.object_name);
  if (object === undefined || object.bytes === null) throw new HttpError(404, `Object ${body.object_name} does not exist or is not uploaded yet.`);
  // Exactly 200: the SDK treats any other success status as a storage error.
  return { status: 200, body: { presigned_url: ctx.registry.signer.downloadUrl(baseUrl(ctx, req), body.object_name) } };
}

/** The presigned POST: checks the signed policy, the size cap and that the object awaits its upload, then stores the file. */
async function upload(ctx: ServerContext, req: IncomingMessage): Promise<Reply> {
  const boundary = boundaryOf(req.headers['content-type'] ?? '');
  if (boundary === null) throw new HttpError(400, 'An upload is a multipart/form-data POST of the presigned fields plus file.');
  const raw = await readBody(req, ctx.config.maxModelFileBytes + FORM_OVERHEAD_BYTES);
  const parts = parseMultipart(raw, boundary);
  if (parts === null) throw new HttpError(400, 'The upload is not a readable multipart/form-data body.');
  const field = (name: string): string | null => {
    const part = parts.find((p) => p.name === name && p.filename === null);
    return part === undefined ? null : part.data.toString('utf8');
  };
  const checked = ctx.registry.signer.checkUpload({ key: field('key'), policy: field('policy'), signature: field('signature') });
  if (!checked.ok) throw new HttpError(403, checked.reason === 'expired' ? 'The presigned upload has expired: ask generate_presigned_url for a new one.' : 'The upload fields are not the signed ones (key, policy, signature).');
  const file = parts.find((p) => p.name === 'file');
  if (file === undefined) throw new HttpError(422, 'Invalid upload: the file part "file" is missing.', { field: 'file' });
  const bytes = file.data;
  if (bytes.length > checked.policy.max_bytes) throw new HttpError(413, `The file is ${bytes.length} bytes; the limit is ${checked.policy.max_bytes} (maxModelFileBytes).`, { limitBytes: checked.policy.max_bytes });
  const objectName = checked.policy.object_name;
  const object = await ctx.registry.models.getObject(objectName);
  if (object === undefined) throw new HttpError(404, `Object ${objectName} does not exist.`);
  if (object.bytes !== null) throw new HttpError(409, `Object ${objectName} is already uploaded.`);
  const path = ctx.datalake.resolve(objectName);
  if (path === null) throw new HttpError(422, 'Invalid object name.', { field: 'key' });
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, bytes, 0o600);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const type = field('Content-Type') ?? file.contentType ?? 'application/octet-stream';
  await ctx.registry.models.markUploaded(objectName, bytes.length, sha256, type);
  return { status: 201, body: { object_name: objectName, size: bytes.length, sha256 } };
}

/** A presigned GET: no API token, 403 when the signature is wrong or expired, Content-Length always. */
async function download(ctx: ServerContext, req: IncomingMessage, url: URL, objectName: string): Promise<Reply> {
  const verdict = ctx.registry.signer.checkDownload(objectName, url.searchParams.get('expires'), url.searchParams.get('signature'));
  if (verdict !== 'ok') throw new HttpError(403, verdict === 'expired' ? 'This presigned URL has expired: ask for a new one (retrieve_presigned_url).' : 'This URL is not signed for this object.');
  const path = ctx.datalake.resolve(objectName);
  if (path === null) throw new HttpError(404, 'No such object.');
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new Error('not a file');
    size = s.size;
  } catch {
    throw new HttpError(404, `Object ${objectName} is not in the storage any more.`);
  }
  const known = (await ctx.registry.models.getObject(objectName))?.contentType;
  const contentType = known ?? CONTENT_TYPES[extname(objectName).toLowerCase()] ?? 'application/octet-stream';
  const stream = req.method === 'HEAD' ? null : createReadStream(path);
  return { status: 200, stream, contentLength: size, contentType, headers: { 'cache-control': 'private, no-store', 'content-security-policy': "default-src 'none'" } };
}

/** Handles an object-storage route, or returns null. */
export async function handleStorage(ctx: ServerContext, req: IncomingMessage, url: URL): Promise<Reply | null> {
  const path = url.pathname;
  if (path.startsWith(DOWNLOAD_PREFIX)) {
    allow(req, 'GET', 'HEAD');
    return download(ctx, req, url, segment(path.slice(DOWNLOAD_PREFIX.length)));
  }
  if (path === UPLOAD_PATH) {
    allow(req, 'POST');
    return upload(ctx, req);
  }
  let m = /^\/api\/organization\/([^/]+)\/connector\/([^/]+)\/generate_object_name$/.exec(path);
  if (m) {
    allow(req, 'POST');
    requireApiToken(ctx, req);
    return generateObjectName(ctx, req, segment(m[1]), segment(m[2]));
  }
  m = /^\/api\/object-storage\/([^/]+)\/(generate_presigned_url|retrieve_presigned_url|init_multipart_upload)$/.exec(path);
  if (m) {
    allow(req, 'POST');
    requireApiToken(ctx, req);
    connectorOr404(ctx, segment(m[1]));
    if (m[2] === 'init_multipart_upload') {
      throw new HttpError(501, `Multipart uploads are not supported by edgewatch serve: files up to maxModelFileBytes (${ctx.config.maxModelFileBytes} bytes) go in one presigned POST.`);
    }
    return m[2] === 'generate_presigned_url' ? presignUpload(ctx, req) : presignDownload(ctx, req);
  }
  return null;
}
