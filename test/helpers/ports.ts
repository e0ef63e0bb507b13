/** Ports for tests: one nothing listens on right now, one something holds. */
import { createServer } from 'node:net';
import type { TestContext } from 'node:test';

/** A 127.0.0.1 port that was free a moment ago (bound on port 0, then released): for a server about to start, or for a connection that must be refused. */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A 127.0.0.1 port held by a listening server until the end of the test: for a start that must fail with "address in use". */
export async function takenPort(t: TestContext): Promise<number> {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  return (blocker.address() as { port: number }).port;
}
