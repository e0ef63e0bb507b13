/** Runs the embedded monitoring service in its own process for the bench (as a real service would be): prints one JSON line {url, token}, stops on SIGTERM. */
import { serveConfigSchema, startServer } from '../dist/server/index.js';

const [dataDir, labelsJson, org, deployment] = process.argv.slice(2) as [string, string, string, string];
const config = serveConfigSchema.parse({ dataDir, port: 0, organization: org, deployment: [{ name: deployment, type: 'CLASSIFICATION', labels: JSON.parse(labelsJson) as string[] }] });
const server = await startServer(config, {});
process.stdout.write(`${JSON.stringify({ url: server.url, token: server.token })}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
