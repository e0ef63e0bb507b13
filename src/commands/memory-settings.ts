/** The agent's process-wide memory settings: what it applies itself, and a hint for what only its environment can set. */
import { setFlagsFromString } from 'node:v8';

/** Node arguments or NODE_OPTIONS through which the user has already chosen the young generation's size. */
const YOUNG_GENERATION_FLAG = /--(max[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor|max[-_]young[-_]generation[-_]size)\b/;

/**
 * Keeps the main thread's young generation at its initial size (1 MB semi-spaces). V8 reads
 * --max-semi-space-size only when the heap is set up, before any line of the agent runs, but reads
 * the growth factor each time the young generation would grow: a factor of 1 stops the growth from
 * here on. The main thread's objects are small and short-lived (messages, log lines, requests); it
 * let the young generation grow to 16 MB for nothing (measured at the peak of a `run --once`:
 * new space 16.3 → 2.0 MB). Model hosts have their own cap (model-worker.ts). Left alone when the
 * user chose a size in node's arguments or NODE_OPTIONS. Returns whether the cap was applied.
 */
export function capYoungGeneration(execArgv: readonly string[] = process.execArgv, nodeOptions: string | undefined = process.env.NODE_OPTIONS): boolean {
  if (YOUNG_GENERATION_FLAG.test(`${execArgv.join(' ')} ${nodeOptions ?? ''}`)) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}

/**
 * What a low-memory run on glibc is missing of the service files' setting (deploy/edgewatch.service,
 * deploy/Dockerfile), as one log message; undefined when nothing is. It is an environment setting:
 * glibc reads MALLOC_ARENA_MAX before any line of the agent runs.
 */
export function memoryHint(workers: number, env: Record<string, string | undefined>, glibc: () => boolean = onGlibc): string | undefined {
  if (workers !== 1 || env.MALLOC_ARENA_MAX !== undefined || !glibc()) return undefined;
  return "workers 1 (low memory): set MALLOC_ARENA_MAX=2 in the agent's environment for about 30 MB less peak memory (as the systemd unit and the Docker image do)";
}

/** Whether this process runs on glibc (where MALLOC_ARENA_MAX applies). */
export function onGlibc(): boolean {
  if (process.platform !== 'linux') return false;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime !== undefined;
}
