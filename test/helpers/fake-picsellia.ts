/**
 * A protocol-faithful fake of the Picsellia platform AND its monitoring service ("oracle"), for tests.
 *
 * ```ts
 * const fake = await startFakePicsellia({ deployment: { type: 'OBJECT_DETECTION' } });
 * t.after(() => fake.close());
 * // point a client at fake.url with fake.apiToken, org fake.state.organization.name, deployment fake.state.deployment.name
 * fake.script('predictions', { status: 503, headers: { 'retry-after': '7' } }, { status: 409, body: { message: 'dup' } });
 * const gate = fake.gate('predictions');       // the next prediction waits until gate.release()
 * await gate.arrived;                           // ...resolves when it reached the server
 * await fake.waitFor(() => fake.predictions.length === 3);   // event-driven, no sleeps
 * assert.deepEqual(fake.violations, []);        // every request was protocol-correct
 * ```
 *
 * One node:http server on 127.0.0.1:0 serves both roles at the root. `oracle_host` is the fake's own
 * URL by default, or `options.oracleHost` (a string, a function of the URL such as
 * `(url) => url + '/prefix'` to test that clients drop a path prefix, or null = monitoring disabled).
 *
 * Routes (anything else: 404 and a violation "wrong path"; wrong method: 405 and a violation):
 * - platform, `Authorization: Bearer <apiToken>`, GET: `/api/home/ping`, `/api/organizations/find?name=`,
 *   `/api/organization/{id}`, `/api/organization/{id}/deployments/find?name=|?id=`
 * - platform, models (fake-model-registry.ts): `GET /api/deployment/{id}` (`model_version_id`,
 *   `shadow_model_version_id` from `state.deployment`), `POST .../model|shadow`, model versions and files,
 *   `retrieve_presigned_url`, the upload chain, model/version creation; object storage is a second server
 *   (`fake.registry.storageUrl`) that records a violation when the Authorization header reaches it;
 *   `script('storage', {status: 403})` answers one storage request with 403.
 * - oracle, POST: `/api/auth/login` (body exactly `{api_token, deployment_id}`, answers 200 `{jwt, expires}`),
 *   `/api/deployment/{id}/predictions` and `/api/prediction/{id}/shadow` (`Authorization: Bearer <jwt>`).
 *
 * Strictness. A missing or non-Bearer Authorization header, a malformed body (see `validatePredictionBody`),
 * a JWT the fake never issued, a wrong path or method: answered 400 (401 for an unknown JWT, 404/405
 * for paths/methods) with `{message}`, and recorded in `violations` (tests assert it stays empty).
 * Legitimate refusals are NOT violations: a well-formed but wrong API token → 401, an expired
 * (revoked) JWT → 401, an unknown organization/deployment → 404.
 * Bodies are parsed as JSON whatever their Content-Type (the SDK sends none on the oracle).
 *
 * Predictions: accepted ones are stored in `predictions` (with the decoded image) and answered
 * 201 `{id: uuid}`; a repeat of the same `custom_metadata.edgewatch.imageId` (else the image's
 * sha256) for the same deployment is answered 409 `{message}`. Late shadow: 201 `{id}`, 409 when the
 * prediction already has a shadow, 404 when unknown.
 *
 * Scripting: `script(kind, ...responses)` queues responses consumed one per request of that kind,
 * after the strictness checks passed (a malformed request is answered 400 and consumes nothing):
 * - `{status, body?, headers?}`: answer this (`body` object → JSON, string → text). A scripted 401
 *   on `predictions`/`shadow` also revokes every issued JWT (an expired JWT: the client must log in again).
 * - `{drop: true}`: destroy the socket without answering (connection drop).
 * - `{hold: promise, then?, onHold?}`: call `onHold(request)`, wait for the promise, then answer `then`
 *   (or normally). `gate(kind)` wraps this: its `arrived` resolves when that request is being held.
 * Mutable `state` changes the platform's data between requests (type, oracleHost, default organization...).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { REGISTRY_ROUTES, startFakeRegistry, type FakeRegistry, type RegistryKind } from './fake-model-registry.js';

/** The request kinds a fake recognises (the `script` keys). */
export type RouteKind = 'ping' | 'organizationsFind' | 'organization' | 'deploymentsFind' | 'login' | 'predictions' | 'shadow' | RegistryKind;

/** A canned answer for `script()`. */
export type ScriptedResponse =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | { drop: true }
  | { hold: Promise<unknown>; then?: ScriptedResponse; onHold?: (request: RecordedRequest) => void };

/** One request as the fake received it. `status` is filled when answered (null: dropped or still pending). */
export interface RecordedRequest {
  kind: RouteKind | 'unknown';
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The exact bytes received. */
  body: Buffer;
  status: number | null;
}

/** One accepted prediction. */
export interface StoredPrediction {
  id: string;
  deploymentId: string;
  /** `custom_metadata.edgewatch.imageId`, or null when absent. */
  imageId: string | null;
  /** The parsed JSON body. */
  body: Record<string, unknown>;
  /** The exact bytes received (to check key order and number formatting). */
  raw: Buffer;
  /** The decoded `image`. */
  image: Buffer;
  /** Set by a later `POST /api/prediction/{id}/shadow`. */
  lateShadow: { shadow_raw_predictions: unknown; shadow_latency: number } | null;
}

/** Start-up options; all optional. */
export interface FakePicselliaOptions {
  /** The API token the platform accepts (default: a random `tok-…`). */
  apiToken?: string;
  organization?: { id?: string; name?: string; defaultConnectorId?: string | null };
  /** `default_organization` of the ping (default: the organization's id; null allowed). */
  defaultOrganization?: string | null;
  deployment?: { id?: string; name?: string; type?: string };
  /** `oracle_host` of the deployment: default the fake's URL; a function receives that URL; null disables monitoring. */
  oracleHost?: string | null | ((url: string) => string);
  /** A careless server: echo the received token/JWT in auth error messages (to test client-side redaction). */
  echoSecrets?: boolean;
}

/** Platform data the fake serves; mutate it between requests to change answers. */
export interface FakeState {
  organization: { id: string; name: string; defaultConnectorId: string | null };
  defaultOrganization: string | null;
  deployment: { id: string; name: string; type: string; oracleHost: string | null; modelVersionId: string | null; shadowModelVersionId: string | null };
}

/** Handle of a running fake. */
export interface FakePicsellia {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  apiToken: string;
  state: FakeState;
  requests: RecordedRequest[];
  predictions: StoredPrediction[];
  /** Protocol violations seen (one human-readable line each). */
  violations: string[];
  /** JWTs issued by logins so far (in order). */
  issuedJwts: string[];
  /** Queues canned responses for the next requests of `kind`. */
  script(kind: RouteKind, ...responses: ScriptedResponse[]): void;
  /** Queues a hold: the request of `kind` that consumes it waits until `release()`; `arrived` resolves when it is held. */
  gate(kind: RouteKind, then?: ScriptedResponse): { arrived: Promise<RecordedRequest>; release(): void };
  /** Revokes every issued JWT (the next oracle request gets 401). */
  expireJwts(): void;
  /** Requests of one kind, in arrival order. */
  requestsOf(kind: RouteKind): RecordedRequest[];
  /** Resolves once `condition()` is true, checked now and after every request; rejects after `timeoutMs` (default 10 s). */
  waitFor(condition: () => boolean, timeoutMs?: number): Promise<void>;
  /** Model versions, files, object storage (fake-model-registry.ts). */
  registry: FakeRegistry;
  /** Stops the server, destroying open connections (held requests included). Idempotent. */
  close(): Promise<void>;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v);
const isNum = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);
const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Problems of a prediction object for deployment type `type` (empty when valid). */
export function validatePrediction(p: unknown, type: string, label: string): string[] {
  if (!isObj(p)) return [`${label} must be an object`];
  const errors: string[] = [];
  const classes = p.detection_classes;
  if (!Array.isArray(classes) || !classes.every(isInt)) errors.push(`${label}.detection_classes must be a list of integers`);
  if (!Array.isArray(p.detection_scores) || !p.detection_scores.every(isNum)) errors.push(`${label}.detection_scores must be a list of numbers`);
  if (!('detection_texts' in p)) errors.push(`${label}.detection_texts must be present (null when unused)`);
  else if (p.detection_texts !== null && (!Array.isArray(p.detection_texts) || !p.detection_texts.every((t) => typeof t === 'string'))) {
    errors.push(`${label}.detection_texts must be null or a list of strings`);
  }
  const n = Array.isArray(classes) ? classes.length : -1;
  const sameLength = (key: string): void => {
    const v = p[key];
    if (Array.isArray(v) && v.length !== n) errors.push(`${label}.${key} has ${v.length} items, detection_classes ${n}`);
  };
  sameLength('detection_scores');
  if (Array.isArray(p.detection_texts) && p.detection_texts.length > 0) sameLength('detection_texts');
  if (type === 'OBJECT_DETECTION') {
    const b = p.detection_boxes;
    if (!Array.isArray(b) || !b.every((box) => Array.isArray(box) && box.length === 4 && box.every(isInt))) {
      errors.push(`${label}.detection_boxes must be a list of 4 integers per object`);
    } else sameLength('detection_boxes');
  } else if (type === 'SEGMENTATION') {
    const m = p.detection_masks;
    const poly = (x: unknown): boolean => Array.isArray(x) && x.every((pt) => Array.isArray(pt) && pt.length === 2 && pt.every(isInt));
    if (!Array.isArray(m) || !m.every(poly)) errors.push(`${label}.detection_masks must be a list of integer [x, y] polygons`);
    else sameLength('detection_masks');
  }
  return errors;
}

/** Problems of a predictions body for deployment type `type` (empty when valid); also returns the decoded image. */
export function validatePredictionBody(body: unknown, type: string): { errors: string[]; image: Buffer | null } {
  if (!isObj(body)) return { errors: ['body must be a JSON object'], image: null };
  const errors: string[] = [];
  if (typeof body.filename !== 'string' || body.filename === '') errors.push('filename must be a non-empty string');
  if (body.content_type !== 'IMAGE/JPEG' && body.content_type !== 'IMAGE/PNG') errors.push('content_type must be exactly IMAGE/JPEG or IMAGE/PNG');
  for (const k of ['height', 'width']) if (!isInt(body[k]) || (body[k] as number) <= 0) errors.push(`${k} must be a positive integer`);
  errors.push(...validatePrediction(body.raw_predictions, type, 'raw_predictions'));
  if (!isNum(body.latency)) errors.push('latency must be a number (seconds)');
  if (!isNum(body.timestamp)) errors.push('timestamp must be a number (epoch seconds)');
  if (typeof body.source !== 'string') errors.push('source must be a string');
  if (!Array.isArray(body.tags) || !body.tags.every((t) => typeof t === 'string')) errors.push('tags must be a list of strings');
  if ('metadata' in body && !isObj(body.metadata)) errors.push('metadata must be an object');
  if ('custom_metadata' in body && !isObj(body.custom_metadata)) errors.push('custom_metadata must be an object');
  if ('shadow_raw_predictions' in body) {
    if (!isNum(body.shadow_latency)) errors.push('shadow_latency is required (a number) with shadow_raw_predictions');
    errors.push(...validatePrediction(body.shadow_raw_predictions, type, 'shadow_raw_predictions'));
  } else if ('shadow_latency' in body) errors.push('shadow_latency without shadow_raw_predictions');
  let image: Buffer | null = null;
  if (typeof body.image !== 'string' || body.image === '' || !BASE64.test(body.image)) {
    errors.push('image must be standard padded base64 without line breaks');
  } else {
    image = Buffer.from(body.image, 'base64');
    const jpeg = image[0] === 0xff && image[1] === 0xd8 && image[2] === 0xff;
    const png = image.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    if ((body.content_type === 'IMAGE/JPEG' && !jpeg) || (body.content_type === 'IMAGE/PNG' && !png)) {
      errors.push(`image bytes do not match content_type ${String(body.content_type)}`);
    }
  }
  return { errors, image };
}

interface Route {
  kind: RouteKind;
  method: 'GET' | 'POST';
  params: string[];
}

function route(path: string, method: string): Route | null {
  const table: Array<[RegExp, RouteKind, 'GET' | 'POST']> = [
    ...REGISTRY_ROUTES,
    [/^\/api\/home\/ping$/, 'ping', 'GET'],
    [/^\/api\/organizations\/find$/, 'organizationsFind', 'GET'],
    [/^\/api\/organization\/([^/]+)$/, 'organization', 'GET'],
    [/^\/api\/organization\/([^/]+)\/deployments\/find$/, 'deploymentsFind', 'GET'],
    [/^\/api\/auth\/login$/, 'login', 'POST'],
    [/^\/api\/deployment\/([^/]+)\/predictions$/, 'predictions', 'POST'],
    [/^\/api\/prediction\/([^/]+)\/shadow$/, 'shadow', 'POST'],
  ];
  let found: Route | null = null;
  for (const [re, kind, m] of table) {
    const match = re.exec(path);
    if (!match) continue;
    const r = { kind, method: m, params: match.slice(1).map((p) => decodeURIComponent(p)) };
    if (m === method) return r;
    found ??= r;
  }
  return found;
}

/** Starts a fake on 127.0.0.1:0. */
export async function startFakePicsellia(options: FakePicselliaOptions = {}): Promise<FakePicsellia> {
  const apiToken = options.apiToken ?? `tok-${randomUUID()}`;
  const orgId = options.organization?.id ?? randomUUID();
  const scripts = new Map<RouteKind, ScriptedResponse[]>();
  const validJwts = new Map<string, string>(); // jwt → deployment id
  const waiters = new Set<() => void>();
  const seen = new Map<string, string>(); // dedup key → prediction id
  const requests: RecordedRequest[] = [];
  const predictions: StoredPrediction[] = [];
  const violations: string[] = [];
  const issuedJwts: string[] = [];
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks)).finally(notify);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const oracleHost = options.oracleHost === undefined ? url : typeof options.oracleHost === 'function' ? options.oracleHost(url) : options.oracleHost;
  const state: FakeState = {
    organization: { id: orgId, name: options.organization?.name ?? 'acme', defaultConnectorId: options.organization?.defaultConnectorId ?? null },
    defaultOrganization: options.defaultOrganization === undefined ? orgId : options.defaultOrganization,
    deployment: {
      id: options.deployment?.id ?? randomUUID(),
      name: options.deployment?.name ?? 'line-3',
      type: options.deployment?.type ?? 'CLASSIFICATION',
      oracleHost,
      modelVersionId: null,
      shadowModelVersionId: null,
    },
  };
  const registry = await startFakeRegistry(
    (message) => violations.push(message),
    () => {
      const next = scripts.get('storage')?.shift();
      return next !== undefined && 'status' in next ? { status: next.status } : undefined;
    },
    notify,
  );

  async function handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const u = new URL(req.url ?? '/', url);
    const r = route(u.pathname, req.method ?? '');
    const rec: RecordedRequest = {
      kind: r?.kind ?? 'unknown',
      method: req.method ?? '',
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
      headers: req.headers,
      body,
      status: null,
    };
    requests.push(rec);
    notify();
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
      rec.status = status;
      const text = typeof payload === 'string' ? payload : JSON.stringify(payload ?? {});
      res.writeHead(status, { 'content-type': typeof payload === 'string' ? 'text/plain' : 'application/json', ...headers });
      res.end(text);
    };
    const violation = (status: number, message: string): void => {
      violations.push(`${req.method} ${u.pathname}: ${message}`);
      send(status, { message });
    };
    if (r === null) return violation(404, `wrong path ${u.pathname}`);
    if (req.method !== r.method) return violation(405, `method ${req.method} not allowed (expected ${r.method})`);

    const auth = req.headers.authorization;
    const bearer = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : null;
    const echo = (secret: string): string => (options.echoSecrets ? ` (received "${secret}")` : '');
    const isRegistry = REGISTRY_ROUTES.some(([, kind]) => kind === r.kind);
    const isPlatform = ['ping', 'organizationsFind', 'organization', 'deploymentsFind'].includes(r.kind) || isRegistry;
    if (isPlatform || r.kind === 'predictions' || r.kind === 'shadow') {
      if (bearer === null) return violation(400, 'missing or malformed Authorization: Bearer header');
      if (isPlatform && bearer !== apiToken) return send(401, { message: `Invalid API token${echo(bearer)}` });
      if (!isPlatform && !validJwts.has(bearer)) {
        if (!issuedJwts.includes(bearer)) return violation(401, 'Bearer is not a JWT issued by /api/auth/login');
        return send(401, { message: `JWT expired${echo(bearer)}` });
      }
    }
    let json: unknown;
    if (r.method === 'POST') {
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        return violation(400, 'body is not JSON');
      }
    }
    // Strictness checks of bodies and ids.
    const dep = state.deployment;
    if (r.kind === 'login') {
      const keys = isObj(json) ? Object.keys(json).sort().join(',') : '';
      if (keys !== 'api_token,deployment_id' || !isObj(json) || typeof json.api_token !== 'string' || typeof json.deployment_id !== 'string') {
        return violation(400, 'login body must be exactly {"api_token": string, "deployment_id": string}');
      }
      if (json.deployment_id !== dep.id) return violation(401, `unknown deployment_id ${json.deployment_id}`);
    }
    if (r.kind === 'predictions') {
      if (r.params[0] !== dep.id) return violation(404, `unknown deployment ${r.params[0]}`);
      if (validJwts.get(bearer as string) !== dep.id) return violation(401, 'JWT issued for another deployment');
      const { errors } = validatePredictionBody(json, dep.type);
      if (errors.length > 0) return violation(400, `invalid prediction: ${errors.join('; ')}`);
    }
    if (r.kind === 'shadow') {
      const ok = isObj(json) && isNum(json.shadow_latency) && validatePrediction(json.shadow_raw_predictions, dep.type, 'shadow_raw_predictions').length === 0;
      if (!ok) return violation(400, 'late shadow body must be {shadow_raw_predictions: <prediction>, shadow_latency: number}');
    }

    // Scripted faults.
    let scripted = scripts.get(r.kind)?.shift();
    while (scripted !== undefined && 'hold' in scripted) {
      scripted.onHold?.(rec);
      await scripted.hold;
      scripted = scripted.then;
    }
    if (scripted !== undefined) {
      if ('drop' in scripted) {
        res.socket?.destroy();
        return;
      }
      if (scripted.status === 401 && (r.kind === 'predictions' || r.kind === 'shadow')) validJwts.clear();
      return send(scripted.status, scripted.body ?? {}, scripted.headers);
    }

    // Normal answers.
    const org = state.organization;
    if (isRegistry) {
      return registry.handle({
        kind: r.kind as RegistryKind,
        params: r.params,
        query: rec.query,
        json,
        send,
        violation,
        deployment: { id: dep.id, get modelVersionId() { return dep.modelVersionId; }, set modelVersionId(v) { dep.modelVersionId = v; }, get shadowModelVersionId() { return dep.shadowModelVersionId; }, set shadowModelVersionId(v) { dep.shadowModelVersionId = v; } },
        organization: { id: org.id, defaultConnectorId: org.defaultConnectorId },
      });
    }
    switch (r.kind) {
      case 'ping':
        return send(200, { sdk_version: '6.28.1', username: 'edge', default_organization: state.defaultOrganization });
      case 'organizationsFind':
        if (rec.query.name !== org.name) return send(404, { message: `Organization ${rec.query.name ?? ''} not found` });
        return send(200, { id: org.id });
      case 'organization':
        if (r.params[0] !== org.id) return send(404, { message: `Organization ${r.params[0]} not found` });
        return send(200, { id: org.id, name: org.name, default_connector_id: org.defaultConnectorId });
      case 'deploymentsFind': {
        const match = r.params[0] === org.id && (rec.query.name === dep.name || rec.query.id === dep.id);
        if (!match) return send(404, { message: `Deployment ${rec.query.name ?? rec.query.id ?? ''} not found` });
        return send(200, { id: dep.id, name: dep.name, type: dep.type, oracle_host: dep.oracleHost, serving_host: null, review_campaign_id: null });
      }
      case 'login': {
        const j = json as { api_token: string };
        if (j.api_token !== apiToken) return send(401, { message: `Invalid API token${echo(j.api_token)}` });
        const jwt = `jwt-${issuedJwts.length + 1}-${randomUUID()}`;
        issuedJwts.push(jwt);
        validJwts.set(jwt, dep.id);
        return send(200, { jwt, expires: 3600 });
      }
      case 'predictions': {
        const b = json as Record<string, unknown>;
        const image = Buffer.from(b.image as string, 'base64');
        const cm = b.custom_metadata as { edgewatch?: { imageId?: unknown } } | undefined;
        const imageId = typeof cm?.edgewatch?.imageId === 'string' ? cm.edgewatch.imageId : null;
        const key = `${dep.id}:${imageId ?? createHash('sha256').update(image).digest('hex')}`;
        const existing = seen.get(key);
        if (existing !== undefined) return send(409, { message: `This data has already been processed (prediction ${existing})` });
        const id = randomUUID();
        seen.set(key, id);
        predictions.push({ id, deploymentId: dep.id, imageId, body: b, raw: body, image, lateShadow: null });
        return send(201, { id });
      }
      case 'shadow': {
        const p = predictions.find((x) => x.id === r.params[0]);
        if (p === undefined) return send(404, { message: `Prediction ${r.params[0]} not found` });
        if (p.lateShadow !== null || 'shadow_raw_predictions' in p.body) return send(409, { message: 'Shadow prediction already processed' });
        const j = json as { shadow_raw_predictions: unknown; shadow_latency: number };
        p.lateShadow = { shadow_raw_predictions: j.shadow_raw_predictions, shadow_latency: j.shadow_latency };
        return send(201, { id: p.id });
      }
    }
  }

  function enqueue(kind: RouteKind, ...responses: ScriptedResponse[]): void {
    const queue = scripts.get(kind) ?? [];
    queue.push(...responses);
    scripts.set(kind, queue);
  }

  let closed: Promise<void> | null = null;
  return {
    url,
    apiToken,
    state,
    requests,
    predictions,
    violations,
    issuedJwts,
    registry,
    script: enqueue,
    gate(kind, then) {
      let release!: () => void;
      let reached!: (req: RecordedRequest) => void;
      const hold = new Promise<void>((resolve) => {
        release = resolve;
      });
      const arrived = new Promise<RecordedRequest>((resolve) => {
        reached = resolve;
      });
      enqueue(kind, { hold, onHold: reached, ...(then === undefined ? {} : { then }) });
      return { arrived, release };
    },
    expireJwts() {
      validJwts.clear();
    },
    requestsOf(kind) {
      return requests.filter((q) => q.kind === kind);
    },
    waitFor(condition, timeoutMs = 10_000) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          let ok = false;
          try {
            ok = condition();
          } catch (err) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(err as Error);
            return;
          }
          if (ok) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`fake-picsellia: condition not met within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      closed ??= Promise.all([
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
        registry.close(),
      ]).then(() => undefined);
      return closed;
    },
  };
}

/** `n` copies of one scripted response, e.g. `fake.script('predictions', ...times(3, { status: 503 }))`. */
export function times(n: number, response: ScriptedResponse): ScriptedResponse[] {
  return Array.from({ length: n }, () => response);
}
