/** The monitoring service the bench posts to: edgewatch's embedded service on 127.0.0.1:0 with a fresh data folder. */
import { request } from 'undici';
import { serveConfigSchema, startServer } from '../src/server/index.js';

/** A running service plus what a client needs to reach its deployment. */
export interface BenchService {
  url: string;
  token: string;
  organization: string;
  deployment: string;
  close(): Promise<void>;
}

/** What a naive client needs to POST predictions. */
export interface OracleSession {
  predictionsUrl: string;
  jwt: string;
}

const ORG = 'bench';
const DEPLOYMENT = 'bench';

/** Starts the embedded service on 127.0.0.1:0 with a fresh data folder `dataDir` and one CLASSIFICATION deployment. */
export async function startBenchService(dataDir: string, labels: string[]): Promise<BenchService> {
  const config = serveConfigSchema.parse({ dataDir, port: 0, organization: ORG, deployment: [{ name: DEPLOYMENT, type: 'CLASSIFICATION', labels }] });
  const server = await startServer(config, {});
  return { url: server.url, token: server.token, organization: ORG, deployment: DEPLOYMENT, close: () => server.close() };
}

/** Resolves the deployment through the platform API and logs in to its monitoring service, like the SDK does. */
export async function openOracleSession(service: BenchService): Promise<OracleSession> {
  const auth = { authorization: `Bearer ${service.token}` };
  const get = async (path: string): Promise<Record<string, unknown>> => {
    const res = await request(new URL(path, service.url), { headers: auth });
    if (res.statusCode !== 200) throw new Error(`GET ${path} answered ${res.statusCode}`);
    return (await res.body.json()) as Record<string, unknown>;
  };
  const org = await get(`/api/organizations/find?name=${encodeURIComponent(service.organization)}`);
  const dep = await get(`/api/organization/${String(org.id)}/deployments/find?name=${encodeURIComponent(service.deployment)}`);
  const oracle = String(dep.oracle_host ?? service.url);
  const login = await request(new URL('/api/auth/login', oracle), { method: 'POST', body: JSON.stringify({ api_token: service.token, deployment_id: dep.id }), headers: { 'content-type': 'application/json' } });
  if (login.statusCode !== 200) throw new Error(`login answered ${login.statusCode}`);
  const { jwt } = (await login.body.json()) as { jwt: string };
  return { predictionsUrl: new URL(`/api/deployment/${String(dep.id)}/predictions`, oracle).href, jwt };
}

/** POSTs one monitor body; resolves when the service answered 201. */
export async function postPrediction(session: OracleSession, body: Buffer): Promise<void> {
  const res = await request(session.predictionsUrl, { method: 'POST', body, headers: { authorization: `Bearer ${session.jwt}`, 'content-type': 'application/json' } });
  const text = await res.body.text();
  if (res.statusCode !== 201) throw new Error(`POST predictions answered ${res.statusCode}: ${text.slice(0, 200)}`);
}
