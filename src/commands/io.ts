/** What every command shares: its streams and environment (`Io`), signal handling and the one way errors are reported. */
import { EXIT, isEdgewatchError, type ErrorCode } from '../errors.js';
import { escapeControl } from '../log.js';

/** Where a command writes and the environment it reads (the CLI passes the process's; tests pass their own). */
export interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/**
 * Errors that happen while a command does its work rather than before it: re-running as is may
 * succeed (the registry is back), so they exit 1 like a failed `--once` run, not 2.
 */
const RUNTIME_FAILURES: ReadonlySet<ErrorCode> = new Set(['EW_PULL_FAILED', 'EW_PULL_VERIFY']);

/**
 * Writes an error the way the user needs it (`edgewatch: EW_CODE: message`; invalid configuration
 * has one line per problem) and returns the exit code: 2 for what the user fixes before re-running,
 * 1 for runtime failures and unexpected errors (with their stack).
 */
export function reportError(err: unknown, io: Io): number {
  if (isEdgewatchError(err)) {
    // Line breaks kept (configuration errors list one problem per line); any other control character escaped.
    io.err.write(`edgewatch: ${err.code}: ${err.message.split('\n').map(escapeControl).join('\n')}\n`);
    return RUNTIME_FAILURES.has(err.code) ? EXIT.FAILURES : EXIT.CONFIG;
  }
  io.err.write(`edgewatch: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  return EXIT.FAILURES;
}

/** Calls `stop` on the first SIGINT/SIGTERM; a second one exits at once with EXIT.FORCED. Returns a function removing the handlers. */
export function onSignals(io: Io, stop: () => Promise<void>): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count += 1;
    if (count > 1) {
      io.err.write(`edgewatch: second ${signal}: exiting now (the outbox keeps everything not yet sent)\n`);
      process.exit(EXIT.FORCED);
    }
    io.err.write(`edgewatch: ${signal}: finishing in-flight images, press Ctrl+C again to force\n`);
    void stop();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** True when the arguments ask for help (`--help` or `-h` anywhere). */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}
