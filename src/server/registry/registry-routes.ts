/**
 * Model registry calls of the platform (Picsellia SDK 6.28.1): models, model versions and model files
 * (`Client.create_model/get_model`, `Model.create_version/get_version/list_versions`, `ModelVersion.list_files/get_file/store`,
 * `ModelFile.sync/delete`). Reads take any reader credential; changes take the API token.
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { OrganizationInfo } from '../config.js';
import { requireApiToken, requireReader, type ServerContext } from '../context.js';
import { HttpError, allow, decodedSegment, parseJson, readBody } from '../http-util.js';
import { baseUrl } from '../platform-routes.js';
import { describeIssues } from '../prediction-schema.js';
import { fileJson, modelJson, versionJson } from './registry-json.js';
import type { FileRow, VersionRow } from './registry-store.js';

type Reply = { status: number; body: unknown };

const TYPES = ['CLASSIFICATION', 'OBJECT_DETECTION', 'SEGMENTATION'] as const;
const FRAMEWORKS = ['TENSORFLOW', 'PYTORCH', 'ONNX', 'NOT_CONFIGURED'] as const;

const modelBody = z.object({ name: z.string().min(1).max(200), description: z.string().max(10_000).nullish() });
const versionBody = z.object({
  name: z.string().min(1).max(200).nullish(),
  labels: z.record(z.string().regex(/^\d+$/, 'keys must be class indexes written as strings'), z.string().min(1)).nullish(),
  type: z.string().transform((s) => s.toUpperCase()).pipe(z.enum(TYPES)).nullish(),
  framework: z.string().transform((s) => s.toUpperCase()).pipe(z.enum(FRAMEWORKS)).nullish(),
  description: z.string().max(10_000).nullish(),
});
const fileBody = z.object({
  name: z.string().min(1).max(200),
  filename: z.string().min(1).max(255),
  object_name: z.string().min(1).max(1024),
  large: z.boolean().default(false),
});

/** A JSON body of a small platform call, validated by `schema` (422 naming the field). */
export async function jsonBody<S extends z.ZodType>(req: IncomingMessage, schema: S, what: string): Promise<z.output<S>> {
  const raw = parseJson(await readBody(req, 256 * 1024));
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error, raw);
    throw new HttpError(422, `Invalid ${what}: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, { field: problems[0]?.field, errors: problems });
  }
  return parsed.data;
}

/** A percent-decoded path segment (`decodedSegment` of a regex group); 400 when its encoding is malformed. */
export function segment(raw: string | undefined): string {
  return decodedSegment(raw ?? '');
}

/** An organization, else 404. */
export function organizationOr404(ctx: ServerContext, id: string): OrganizationInfo {
  const org = ctx.organizations.find((o) => o.id === id);
  if (org === undefined) throw new HttpError(404, `Organization ${id} does not exist.`);
  return org;
}

/** A model version, else 404. */
export async function versionOr404(ctx: ServerContext, id: string): Promise<VersionRow> {
  const v = await ctx.registry.models.getVersion(id);
  if (v === undefined) throw new HttpError(404, `Model version ${id} does not exist.`);
  return v;
}

async function fileReply(ctx: ServerContext, req: IncomingMessage, f: FileRow) {
  return fileJson(f, await ctx.registry.models.getObject(f.objectName), ctx.registry.signer.downloadUrl(baseUrl(ctx, req), f.objectName));
}

async function addFile(ctx: ServerContext, req: IncomingMessage, v: VersionRow): Promise<Reply> {
  const body = await jsonBody(req, fileBody, 'model file');
  const object = await ctx.registry.models.getObject(body.object_name);
  if (object === undefined || object.modelVersionId !== v.id) {
    throw new HttpError(422, `Invalid model file: object_name ${body.object_name} was not generated for model version ${v.id} (call generate_object_name first).`, { field: 'object_name' });
  }
  if (object.bytes === null) throw new HttpError(422, `Invalid model file: object_name ${body.object_name} has not been uploaded yet.`, { field: 'object_name' });
  const file = await ctx.registry.models.addFile({ modelVersionId: v.id, name: body.name, filename: body.filename, objectName: body.object_name, large: body.large });
  if (file === undefined) throw new HttpError(409, `Model version ${v.id} already has a file named ${body.name}: store it with replace=True (or delete that file first).`, { field: 'name' });
  ctx.logger.info({ modelVersionId: v.id, name: body.name, bytes: object.bytes }, 'model file stored');
  return { status: 201, body: await fileReply(ctx, req, file) };
}

function pageOf<T>(items: T[]): { items: T[]; count: number } {
  return { items, count: items.length };
}

/** Handles a registry route, or returns null. */
export async function handleRegistry(ctx: ServerContext, req: IncomingMessage, url: URL): Promise<Reply | null> {
  const path = url.pathname;
  const reg = ctx.registry.models;
  let m = /^\/api\/organization\/([^/]+)\/models(\/find)?$/.exec(path);
  if (m) {
    if (m[2] === undefined) allow(req, 'GET', 'POST');
    else allow(req, 'GET');
    if (req.method === 'POST') requireApiToken(ctx, req);
    else requireReader(ctx, req, null);
    const org = organizationOr404(ctx, segment(m[1]));
    if (m[2] !== undefined) {
      const name = url.searchParams.get('name');
      const id = url.searchParams.get('id');
      const found = id !== null ? await reg.findModel({ id }) : name !== null ? await reg.findModel({ organizationId: org.id, name }) : undefined;
      if (found === undefined || found.organizationId !== org.id) throw new HttpError(404, `Model ${JSON.stringify(name ?? id ?? '')} does not exist in organization ${org.name}.`);
      return { status: 200, body: modelJson(found) };
    }
    if (req.method === 'GET') return { status: 200, body: pageOf((await reg.listModels(org.id)).map(modelJson)) };
    const body = await jsonBody(req, modelBody, 'model');
    const created = await reg.createModel(org.id, body.name, body.description ?? null);
    if (created === undefined) throw new HttpError(409, `A model named ${body.name} already exists in organization ${org.name}: get it with models/find?name=.`, { field: 'name' });
    return { status: 201, body: modelJson(created) };
  }
  m = /^\/api\/organization\/([^/]+)\/modelversions\/find$/.exec(path);
  if (m) {
    allow(req, 'GET');
    requireReader(ctx, req, null);
    organizationOr404(ctx, segment(m[1]));
    return { status: 200, body: versionJson(await versionOr404(ctx, url.searchParams.get('id') ?? '')) };
  }
  m = /^\/api\/model\/([^/]+)(\/versions(\/find)?)?$/.exec(path);
  if (m && m[1] !== 'version' && m[1] !== 'file') {
    if (m[2] === undefined || m[3] !== undefined) allow(req, 'GET');
    else allow(req, 'GET', 'POST');
    if (req.method === 'POST') requireApiToken(ctx, req);
    else requireReader(ctx, req, null);
    const model = await reg.findModel({ id: segment(m[1]) });
    if (m[2] === undefined) {
      if (model === undefined) throw new HttpError(404, `Model ${m[1]} does not exist.`);
      return { status: 200, body: modelJson(model) };
    }
    if (model === undefined) throw new HttpError(404, `Model ${m[1]} does not exist.`);
    if (m[3] !== undefined) {
      const name = url.searchParams.get('name');
      const version = url.searchParams.get('version');
      const found = name !== null ? await reg.findVersion(model.id, { name }) : version !== null && /^\d+$/.test(version) ? await reg.findVersion(model.id, { version: Number(version) }) : undefined;
      if (found === undefined) throw new HttpError(404, `Model ${model.name} has no version ${JSON.stringify(name ?? version ?? '')}.`);
      return { status: 200, body: versionJson(found) };
    }
    if (req.method === 'GET') return { status: 200, body: pageOf((await reg.listVersions(model.id)).map(versionJson)) };
    const body = await jsonBody(req, versionBody, 'model version');
    const created = await reg.createVersion(model.id, { name: body.name ?? undefined, labels: body.labels ?? null, type: body.type ?? undefined, framework: body.framework ?? undefined, description: body.description ?? undefined }, { type: 'CLASSIFICATION', framework: 'TENSORFLOW' });
    if (created === undefined) throw new HttpError(409, `Model ${model.name} already has a version named ${body.name ?? ''}.`, { field: 'name' });
    ctx.logger.info({ model: model.name, version: created.version, modelVersionId: created.id }, 'model version created');
    return { status: 201, body: versionJson(created) };
  }
  m = /^\/api\/model\/version\/([^/]+)(\/modelfiles(\/find)?)?$/.exec(path);
  if (m) {
    if (m[2] !== undefined && m[3] === undefined) allow(req, 'GET', 'POST');
    else if (m[2] === undefined) allow(req, 'GET', 'PATCH');
    else allow(req, 'GET');
    if (req.method === 'POST' || req.method === 'PATCH') requireApiToken(ctx, req);
    else requireReader(ctx, req, null);
    const v = await versionOr404(ctx, segment(m[1]));
    if (req.method === 'PATCH') {
      // `ModelVersion.update(...)`: the keys edgewatch keeps (name, labels, type, framework, description); others are ignored.
      const body = await jsonBody(req, versionBody, 'model version update');
      const updated = await reg.updateVersion(v.id, { name: body.name ?? undefined, labels: body.labels ?? undefined, type: body.type ?? undefined, framework: body.framework ?? undefined, description: body.description ?? undefined });
      if (updated === undefined) throw new HttpError(409, `Model ${v.modelName} already has a version named ${body.name ?? ''}.`, { field: 'name' });
      return { status: 200, body: versionJson(updated) };
    }
    if (m[2] === undefined) return { status: 200, body: versionJson(v) };
    if (req.method === 'POST') return addFile(ctx, req, v);
    if (m[3] === undefined) return { status: 200, body: { items: await Promise.all((await reg.listFiles(v.id)).map((f) => fileReply(ctx, req, f))) } };
    const name = url.searchParams.get('name') ?? '';
    const f = await reg.findFile({ modelVersionId: v.id, name });
    if (f === undefined) throw new HttpError(404, `Model version ${v.id} has no file named ${JSON.stringify(name)}.`);
    return { status: 200, body: await fileReply(ctx, req, f) };
  }
  m = /^\/api\/model\/file\/([^/]+)$/.exec(path);
  if (m) {
    allow(req, 'GET', 'DELETE');
    if (req.method === 'DELETE') requireApiToken(ctx, req);
    else requireReader(ctx, req, null);
    const f = await reg.findFile({ id: segment(m[1]) });
    if (f === undefined) throw new HttpError(404, `Model file ${m[1]} does not exist.`);
    if (req.method === 'GET') return { status: 200, body: await fileReply(ctx, req, f) };
    await reg.deleteFile(f.id);
    return { status: 200, body: { id: f.id, deleted: true } };
  }
  return null;
}
