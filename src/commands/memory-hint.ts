/** A hint for `--workers 1` (the low-memory mode) run without the memory settings the service files use. */

/**
 * What a low-memory run on glibc is missing of the service files' settings (deploy/edgewatch.service,
 * deploy/Dockerfile), as one log message; undefined when nothing is. They are environment settings:
 * glibc reads MALLOC_ARENA_MAX and V8 its semi-space size before any line of the agent runs.
 */
export function memoryHint(workers: number, env: Record<string, string | undefined>, glibc: () => boolean = onGlibc): string | undefined {
  if (workers !== 1 || !glibc()) return undefined;
  const missing: string[] = [];
  if (env.MALLOC_ARENA_MAX === undefined) missing.push('MALLOC_ARENA_MAX=2');
  if (!/--max-semi-space-size\b/.test(env.NODE_OPTIONS ?? '')) missing.push('NODE_OPTIONS=--max-semi-space-size=1');
  if (missing.length === 0) return undefined;
  return `workers 1 (low memory): set ${missing.join(' and ')} in the agent's environment for about 30 MB less peak memory (as the systemd unit and the Docker image do)`;
}

/** Whether this process runs on glibc (where MALLOC_ARENA_MAX applies). */
export function onGlibc(): boolean {
  if (process.platform !== 'linux') return false;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime !== undefined;
}
