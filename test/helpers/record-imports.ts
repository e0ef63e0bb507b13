/**
 * Records the modules a process loads, for tests that check what a command pulls in.
 *
 * Run a child as `node --import tsx --import ./test/helpers/record-imports.ts <entry>` with
 * `EDGEWATCH_TEST_IMPORT_LOG=<file>`: every URL the ESM loader resolves is appended to the file, one
 * per line, and at exit so is every CommonJS module in `require.cache` (which also catches packages
 * reached through `require` inside other packages, where no ESM hook runs). The same file is the
 * hooks module: imported on the main thread it registers itself; on the hooks thread it provides
 * `initialize` and `resolve`.
 */
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';

let logFile: string | undefined;

/** Hooks thread: where to append the resolved URLs. */
export function initialize(data: { logFile?: string }): void {
  logFile = data.logFile;
}

type NextResolve = (specifier: string, context: unknown) => Promise<{ url: string }>;

/** Resolves as the rest of the chain does and appends the result, synchronously so that nothing is lost when the process exits. */
export async function resolve(specifier: string, context: unknown, nextResolve: NextResolve): Promise<{ url: string }> {
  const result = await nextResolve(specifier, context);
  if (logFile) appendFileSync(logFile, `${result.url}\n`);
  return result;
}

const mainLogFile = isMainThread ? process.env.EDGEWATCH_TEST_IMPORT_LOG : undefined;
if (mainLogFile) {
  register(import.meta.url, { data: { logFile: mainLogFile } });
  const requireCache = createRequire(import.meta.url).cache;
  process.on('exit', () => {
    const urls = Object.keys(requireCache).map((path) => pathToFileURL(path).href);
    appendFileSync(mainLogFile, urls.map((url) => `${url}\n`).join(''));
  });
}
