/** Test helper: requests shaped exactly as the Picsellia Python SDK sends them (no Content-Type on monitor, json.dumps login), plus images made with sharp. */
import { request, Agent } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import sharp from 'sharp';
import { serveConfigSchema, startServer, type RunningServer, type ServeConfigInput } from '../../src/server/index.js';

/** Response of `httpRequest`. */
export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed JSON body (undefined when the body is not JSON). */
  json: any;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One HTTP request with node:http: headers exactly as given (no implicit Content-Type, unlike fetch). */
export function httpRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body);
    const headers: Record<string, string | number> = { 'user-agent': 'python-requests/2.32.3', accept: '*/*', ...(options.headers ?? {}) };
    if (body !== undefined) headers['content-length'] = body.length;
    const req = request(url, { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Python `json.dumps` formatting (`", "` and `": "` separators), as the SDK's login body. */
export function pyJsonDumps(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pyJsonDumps).join(', ')}]`;
  if (value && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pyJsonDumps(v)}`).join(', ')}}`;
  return JSON.stringify(value);
}

/** A solid-colour JPEG (optionally with an EXIF orientation tag). */
export async function makeJpeg(width: number, height: number, seed = 0, orientation?: number): Promise<Buffer> {
  let img = sharp({ create: { width, height, channels: 3, background: { r: seed % 256, g: Math.floor(seed / 256) % 256, b: (seed * 37) % 256 } } }).jpeg({ quality: 80 });
  if (orientation !== undefined) img = img.withMetadata({ orientation });
  return img.toBuffer();
}

/** A solid-colour PNG. */
export async function makePng(width: number, height: number, seed = 0): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: (seed * 53) % 256, g: seed % 256, b: 200 } } }).png().toBuffer();
}

/** `ClassificationPredictionFormat.model_dump()`: `detection_texts` null. */
export function classification(classId: number, score: number) {
  return { detection_classes: [classId], detection_texts: null, detection_scores: [score] };
}

/** Options of one SDK-shaped monitor body. */
export interface MonitorOptions {
  image: Buffer;
  contentType?: string;
  width: number;
  height: number;
  champion: { detection_classes: number[]; detection_scores: number[]; detection_texts?: null };
  latencyS: number;
  shadow?: { detection_classes: number[]; detection_scores: number[]; detection_texts?: null };
  shadowLatencyS?: number;
  filename?: string;
  source?: string;
  tags?: string[];
  timestamp?: number;
  customMetadata?: Record<string, unknown>;
}

/** The monitor body with the SDK's key order: filename, content_type, height, width, raw_predictions, latency, optional keys, shadow, image last. */
export function monitorBody(o: MonitorOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {
    filename: o.filename ?? 'frame.jpg',
    content_type: o.contentType ?? 'IMAGE/JPEG',
    height: o.height,
    width: o.width,
    raw_predictions: o.champion,
    latency: o.latencyS,
  };
  if (o.source !== undefined) body.source = o.source;
  if (o.tags !== undefined) body.tags = o.tags;
  if (o.customMetadata !== undefined) body.custom_metadata = o.customMetadata;
  if (o.timestamp !== undefined) body.timestamp = o.timestamp;
  if (o.shadow !== undefined) {
    body.shadow_latency = o.shadowLatencyS ?? 0.01;
    body.shadow_raw_predictions = o.shadow;
  }
  body.image = o.image.toString('base64');
  return body;
}

/** What `Client(...)` + `get_deployment(name)` learn. */
export interface Handshake {
  organizationId: string;
  deploymentId: string;
  oracleHost: string;
  jwt: string;
}

/** Runs DESIGN.md §2 steps 1–5 as the SDK does and returns the ids and the JWT. */
export async function sdkHandshake(url: string, token: string, organization = 'edge', deployment = 'demo'): Promise<Handshake> {
  const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'user-agent': 'Picsellia-SDK/6.28.1' };
  const ping = await httpRequest(`${url}/api/home/ping`, { headers: h });
  if (ping.status !== 200) throw new Error(`ping ${ping.status}`);
  const org = await httpRequest(`${url}/api/organizations/find?name=${encodeURIComponent(organization)}`, { headers: h });
  const dep = await httpRequest(`${url}/api/organization/${org.json.id}/deployments/find?name=${encodeURIComponent(deployment)}`, { headers: h });
  if (dep.status !== 200) throw new Error(`deployment find ${dep.status}`);
  const login = await httpRequest(`${dep.json.oracle_host}/api/auth/login`, { method: 'POST', body: pyJsonDumps({ api_token: token, deployment_id: dep.json.id }) });
  if (login.status !== 200) throw new Error(`login ${login.status}`);
  return { organizationId: org.json.id, deploymentId: dep.json.id, oracleHost: dep.json.oracle_host, jwt: login.json.jwt };
}

/** `POST /api/deployment/{id}/predictions` with no Content-Type and a compact (orjson-like) body. */
export function postMonitor(h: Handshake, body: unknown): Promise<HttpResult> {
  return httpRequest(`${h.oracleHost}/api/deployment/${h.deploymentId}/predictions`, { method: 'POST', headers: { authorization: `Bearer ${h.jwt}` }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** A temp data folder removed after the test. */
export async function tempDir(t: TestContext, prefix = 'edgewatch-server-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts a service on 127.0.0.1:0 in a temp data folder (or `input.dataDir`); closes it, then removes the temp folder, after the test. */
export async function startTestServer(t: TestContext, input: ServeConfigInput = {}): Promise<{ server: RunningServer; dataDir: string }> {
  const ownDir = input.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'edgewatch-server-')) : null;
  const dataDir = input.dataDir ?? (ownDir as string);
  const server = await startServer(serveConfigSchema.parse({ port: 0, ...input, dataDir }));
  t.after(async () => {
    await server.close();
    if (ownDir !== null) await rm(ownDir, { recursive: true, force: true });
  });
  return { server, dataDir };
}

/** Polls `condition` every few milliseconds until it holds; fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
