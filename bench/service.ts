/** The monitoring service the bench posts to: edgewatch's embedded service on 127.0.0.1:0 with a fresh data folder. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { request } from 'undici';

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

/**
 * Starts the embedded service on 127.0.0.1:0 with a fresh data folder `dataDir` and one CLASSIFICATION
 * deployment, in a child process: a real monitoring service does not share the agent's event loop.
 */
export async function startBenchService(dataDir: string, labels: string[]): Promise<BenchService> {
  const child = spawn(process.execPath, [...(process.env.BENCH_SERVICE_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', new URL('./service-child.ts', import.meta.url).pathname, dataDir, JSON.stringify(labels), ORG, DEPLOYMENT], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => { throw new Error('bench service exited at start'); })])) as [string];
  lines.close();
  const { url, token } = JSON.parse(line) as { url: string; token: string };
  return {
    url,
    token,
    organization: ORG,
    deployment: DEPLOYMENT,
    close: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
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
