/**
 * The model side of the Picsellia stand-in (fake-picsellia.ts): the deployment's champion and
 * shadow (`GET /api/deployment/{id}`, `POST /api/deployment/{id}/model|shadow`), model versions and
 * their files, the organization's object storage (a separate server, presigned URLs, presigned-POST
 * uploads), and model/version creation, as SDK 6.28.1 calls them.
 *
 * Storage strictness: a request to the storage server carrying an Authorization header (the API
 * token must never reach object storage) is a violation and is answered 400.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { boundaryOf, parseMultipart } from '../../src/server/registry/multipart.js';

/** Registry request kinds (the `script` keys of the fake, beside its own). */
export type RegistryKind =
  | 'deploymentGet'
  | 'setChampion'
  | 'setShadow'
  | 'modelVersion'
  | 'modelFiles'
  | 'modelFileFind'
  | 'modelFileCreate'
  | 'retrievePresignedUrl'
  | 'generatePresignedUrl'
  | 'generateObjectName'
  | 'modelFind'
  | 'modelCreate'
  | 'versionCreate'
  | 'storage';

/** Registry routes: path pattern, kind, method (one path may have several methods). */
export const REGISTRY_ROUTES: Array<[RegExp, RegistryKind, 'GET' | 'POST']> = [
  [/^\/api\/deployment\/([^/]+)$/, 'deploymentGet', 'GET'],
  [/^\/api\/deployment\/([^/]+)\/model$/, 'setChampion', 'POST'],
  [/^\/api\/deployment\/([^/]+)\/shadow$/, 'setShadow', 'POST'],
  [/^\/api\/model\/version\/([^/]+)$/, 'modelVersion', 'GET'],
  [/^\/api\/model\/version\/([^/]+)\/modelfiles$/, 'modelFiles', 'GET'],
  [/^\/api\/model\/version\/([^/]+)\/modelfiles$/, 'modelFileCreate', 'POST'],
  [/^\/api\/model\/version\/([^/]+)\/modelfiles\/find$/, 'modelFileFind', 'GET'],
  [/^\/api\/object-storage\/([^/]+)\/retrieve_presigned_url$/, 'retrievePresignedUrl', 'POST'],
  [/^\/api\/object-storage\/([^/]+)\/generate_presigned_url$/, 'generatePresignedUrl', 'POST'],
  [/^\/api\/organization\/([^/]+)\/connector\/([^/]+)\/generate_object_name$/, 'generateObjectName', 'POST'],
  [/^\/api\/organization\/([^/]+)\/models\/find$/, 'modelFind', 'GET'],
  [/^\/api\/organization\/([^/]+)\/models$/, 'modelCreate', 'POST'],
  [/^\/api\/model\/([^/]+)\/versions$/, 'versionCreate', 'POST'],
];

/** One stored model version. */
export interface FakeModelVersion {
  id: string;
  origin: { id: string; name: string; private: boolean };
  name: string;
  version: number;
  labels: Record<string, string> | null;
  type: string;
  framework: string;
  files: Array<{ id: string; name: string; object_name: string; filename: string; large: boolean; presigned_url?: string | null }>;
}

/** The registry's data and helpers, reachable as `fake.registry`. */
export interface FakeRegistry {
  /** Base URL of the storage server. */
  storageUrl: string;
  versions: Map<string, FakeModelVersion>;
  models: Map<string, { id: string; name: string }>;
  /** Object storage: object name → bytes. */
  objects: Map<string, Buffer>;
  /** Storage requests, with the headers received. */
  storageRequests: Array<{ method: string; path: string; authorization: string | undefined; status: number }>;
  /**
   * Adds a model version with one file `fileName` holding `zip` (default `model-tfjs`); with
   * `presigned`, the ModelFile carries its own presigned_url. Returns the version id.
   */
  addVersion(o: { model: string; name?: string; labels?: Record<string, string> | null; type?: string; zip: Buffer; fileName?: string; presigned?: boolean }): string;
  /** A presigned GET URL of an object (valid until `expireUrls()`). */
  presign(objectName: string): string;
  /** Makes every URL issued so far answer 403 (expired). */
  expireUrls(): void;
  close(): Promise<void>;
}

type Send = (status: number, payload: unknown) => void;

/** Context the fake passes for one registry request. */
export interface RegistryRequest {
  kind: RegistryKind;
  params: string[];
  query: Record<string, string>;
  json: unknown;
  send: Send;
  violation: (status: number, message: string) => void;
  deployment: { id: string; modelVersionId: string | null; shadowModelVersionId: string | null };
  organization: { id: string; defaultConnectorId: string | null };
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Starts the storage server and returns the registry; `onViolation` records storage violations in the fake's list; `scripted` takes the next scripted storage answer. */
export async function startFakeRegistry(onViolation: (message: string) => void, scripted: () => { status: number } | undefined, notify: () => void): Promise<FakeRegistry & { handle(r: RegistryRequest): void }> {
  const versions = new Map<string, FakeModelVersion>();
  const models = new Map<string, { id: string; name: string }>();
  const objects = new Map<string, Buffer>();
  const validSigs = new Set<string>();
  const storageRequests: FakeRegistry['storageRequests'] = [];
  const uploadPolicies = new Map<string, string>(); // policy token → object name

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      storage(req, res, Buffer.concat(chunks));
      notify();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const storageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function storage(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const u = new URL(req.url ?? '/', storageUrl);
    const entry = { method: req.method ?? '', path: u.pathname, authorization: req.headers.authorization, status: 0 };
    storageRequests.push(entry);
    const answer = (status: number, payload: Buffer | string, headers: Record<string, string> = {}) => {
      entry.status = status;
      res.writeHead(status, { 'content-length': String(Buffer.byteLength(payload)), ...headers });
      res.end(payload);
    };
    if (req.headers.authorization !== undefined) {
      onViolation(`${req.method} ${u.pathname} (storage): the platform's Authorization header reached object storage`);
      return answer(400, 'Authorization must not be sent to storage');
    }
    const forced = scripted();
    if (forced) return answer(forced.status, 'scripted');
    if (req.method === 'GET' && u.pathname.startsWith('/o/')) {
      const name = decodeURIComponent(u.pathname.slice(3));
      if (!validSigs.has(u.searchParams.get('sig') ?? '')) return answer(403, 'Request has expired');
      const bytes = objects.get(name);
      if (!bytes) return answer(404, 'NoSuchKey');
      return answer(200, bytes, { 'content-type': 'application/octet-stream' });
    }
    if (req.method === 'POST' && u.pathname === '/upload') {
      const boundary = boundaryOf(String(req.headers['content-type'] ?? ''));
      const parts = (boundary === null ? null : parseMultipart(body, boundary)) ?? [];
      const part = (name: string) => parts.find((p) => p.name === name)?.data;
      const policy = part('policy')?.toString('utf8');
      const key = part('key')?.toString('utf8');
      const file = part('file');
      if (!policy || !key || uploadPolicies.get(policy) !== key || !file) {
        onViolation('POST /upload (storage): multipart form without the presigned fields (key, policy) or without a file part');
        return answer(400, 'bad form');
      }
      objects.set(key, Buffer.from(file));
      return answer(204, '');
    }
    onViolation(`${req.method} ${u.pathname} (storage): unknown storage request`);
    return answer(404, 'not found');
  }

  const presign = (objectName: string): string => {
    const sig = randomUUID();
    validSigs.add(sig);
    return `${storageUrl}/o/${encodeURIComponent(objectName)}?sig=${sig}&X-Amz-Expires=3600`;
  };

  const registry = {
    storageUrl,
    versions,
    models,
    objects,
    storageRequests,
    presign,
    expireUrls() {
      validSigs.clear();
    },
    addVersion(o: { model: string; name?: string; labels?: Record<string, string> | null; type?: string; zip: Buffer; fileName?: string; presigned?: boolean }): string {
      let model = [...models.values()].find((m) => m.name === o.model);
      if (!model) {
        model = { id: randomUUID(), name: o.model };
        models.set(model.id, model);
      }
      const id = randomUUID();
      const objectName = `models/${id}/model.zip`;
      objects.set(objectName, o.zip);
      const count = [...versions.values()].filter((v) => v.origin.id === model.id).length;
      versions.set(id, {
        id,
        origin: { id: model.id, name: model.name, private: true },
        name: o.name ?? `v${count + 1}`,
        version: count + 1,
        labels: o.labels === undefined ? null : o.labels,
        type: o.type ?? 'CLASSIFICATION',
        framework: 'TENSORFLOW',
        files: [{ id: randomUUID(), name: o.fileName ?? 'model-tfjs', object_name: objectName, filename: 'model.zip', large: false, ...(o.presigned ? { presigned_url: presign(objectName) } : {}) }],
      });
      return id;
    },
    close(): Promise<void> {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    handle(r: RegistryRequest): void {
      const { send, json, params } = r;
      const dep = r.deployment;
      const versionJson = (v: FakeModelVersion) => ({ id: v.id, origin: v.origin, name: v.name, version: v.version, labels: v.labels, type: v.type, framework: v.framework, tags: [] });
      switch (r.kind) {
        case 'deploymentGet':
          if (params[0] !== dep.id) return send(404, { message: 'Deployment not found' });
          if (dep.modelVersionId === null) return r.violation(500, 'test setup: the deployment has no champion model version (the SDK requires model_version_id)');
          return send(200, { id: dep.id, name: 'line-3', type: 'CLASSIFICATION', oracle_host: null, serving_host: null, model_version_id: dep.modelVersionId, shadow_model_version_id: dep.shadowModelVersionId, tags: [] });
        case 'setChampion':
        case 'setShadow': {
          if (!isObj(json) || Object.keys(json).join() !== 'model_version_id' || typeof json.model_version_id !== 'string') return r.violation(400, 'body must be exactly {"model_version_id": "<uuid>"}');
          if (!versions.has(json.model_version_id)) return send(404, { message: 'Model version not found' });
          if (r.kind === 'setChampion') dep.modelVersionId = json.model_version_id;
          else dep.shadowModelVersionId = json.model_version_id;
          return send(200, { id: dep.id });
        }
        case 'modelVersion': {
          const v = versions.get(params[0] as string);
          return v ? send(200, versionJson(v)) : send(404, { message: 'Model version not found' });
        }
        case 'modelFiles': {
          const v = versions.get(params[0] as string);
          return v ? send(200, { items: v.files }) : send(404, { message: 'Model version not found' });
        }
        case 'modelFileFind': {
          const f = versions.get(params[0] as string)?.files.find((x) => x.name === r.query.name);
          return f ? send(200, f) : send(404, { message: `ModelFile ${r.query.name ?? ''} not found` });
        }
        case 'modelFileCreate': {
          const v = versions.get(params[0] as string);
          if (!v) return send(404, { message: 'Model version not found' });
          const ok = isObj(json) && ['name', 'filename', 'object_name'].every((k) => typeof json[k] === 'string') && typeof json.large === 'boolean';
          if (!ok) return r.violation(400, 'modelfiles body must be {name, filename, object_name, large}');
          const j = json as { name: string; filename: string; object_name: string; large: boolean };
          if (!objects.has(j.object_name)) return r.violation(400, `object ${j.object_name} was never uploaded`);
          const file = { id: randomUUID(), name: j.name, object_name: j.object_name, filename: j.filename, large: j.large };
          v.files = [...v.files.filter((f) => f.name !== j.name), file];
          return send(201, file);
        }
        case 'retrievePresignedUrl': {
          if (params[0] !== r.organization.defaultConnectorId) return send(404, { message: 'Connector not found' });
          if (!isObj(json) || typeof json.object_name !== 'string') return r.violation(400, 'body must be {"object_name"}');
          return send(200, { presigned_url: presign(json.object_name) });
        }
        case 'generateObjectName': {
          if (params[0] !== r.organization.id || params[1] !== r.organization.defaultConnectorId) return send(404, { message: 'Connector not found' });
          const ok = isObj(json) && typeof json.filename === 'string' && json.type === 'MODEL_FILE' && isObj(json.context) && typeof json.context.model_version_id === 'string';
          if (!ok) return r.violation(400, 'generate_object_name body must be {filename, type: "MODEL_FILE", context: {model_version_id}}');
          const j = json as { filename: string; context: { model_version_id: string } };
          return send(200, { object_name: `models/${j.context.model_version_id}/${randomUUID()}/${j.filename}` });
        }
        case 'generatePresignedUrl': {
          if (!isObj(json) || typeof json.object_name !== 'string' || typeof json.content_type !== 'string') return r.violation(400, 'body must be {object_name, content_type}');
          const policy = randomUUID();
          uploadPolicies.set(policy, json.object_name);
          return send(200, { client_type: 'minio', presigned_url_data: { url: `${storageUrl}/upload`, fields: { key: json.object_name, policy, 'x-amz-signature': randomUUID() } } });
        }
        case 'modelFind': {
          const m = [...models.values()].find((x) => x.name === r.query.name);
          return m ? send(200, { id: m.id, name: m.name, private: true }) : send(404, { message: 'Model not found' });
        }
        case 'modelCreate': {
          if (!isObj(json) || typeof json.name !== 'string') return r.violation(400, 'body must be {"name"}');
          const m = { id: randomUUID(), name: json.name };
          models.set(m.id, m);
          return send(201, { id: m.id, name: m.name, private: true });
        }
        case 'versionCreate': {
          const m = models.get(params[0] as string);
          if (!m) return send(404, { message: 'Model not found' });
          if (!isObj(json) || typeof json.name !== 'string') return r.violation(400, 'versions body needs a name');
          const count = [...versions.values()].filter((v) => v.origin.id === m.id).length;
          const v: FakeModelVersion = {
            id: randomUUID(),
            origin: { id: m.id, name: m.name, private: true },
            name: json.name,
            version: count + 1,
            labels: isObj(json.labels) ? (json.labels as Record<string, string>) : null,
            type: typeof json.type === 'string' ? json.type : 'CLASSIFICATION',
            framework: typeof json.framework === 'string' ? json.framework : 'NOT_CONFIGURED',
            files: [],
          };
          versions.set(v.id, v);
          return send(201, versionJson(v));
        }
        case 'storage':
          return r.violation(500, 'storage requests go to the storage server');
      }
    },
  };
  return registry;
}
