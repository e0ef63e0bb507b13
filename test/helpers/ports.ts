/** Ports for tests: one nothing listens on right now. */
import { createServer } from 'node:net';

/** A 127.0.0.1 port that was free a moment ago (bound on port 0, then released): for a server about to start, or for a connection that must be refused. */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
