/**
 * The agent as a child process, for the fault tests (SIGKILL, SIGTERM, memory of a real process).
 *
 * As an entry (`node --import tsx test/helpers/agent-child.ts run ...`) it runs the CLI `main` and
 * exits with its code. Imported, it exports `spawnAgent()`, which starts such a child and collects
 * its JSON log lines.
 *
 * ```ts
 * const child = spawnAgent(['run', '--watch', inbox, ...], { PICSELLIA_API_TOKEN: token });
 * t.after(() => child.kill());
 * await child.waitForLog((l) => l.msg === 'watching', 60_000);
 * const code = await child.exited;
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, resolve } from 'node:path';

const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SELF), '..', '..');

/** One JSON log line of the child (non-JSON stderr lines come as `{msg: line, raw: true}`). */
export type LogLine = Record<string, unknown> & { msg?: string };

/** A running agent child. */
export interface AgentChild {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Log lines seen so far on stderr. */
  readonly logs: LogLine[];
  /** Everything written to stdout and stderr so far. */
  readonly output: { out: string; err: string };
  /** Resolves with the exit code (or 128 + signal number when killed by a signal). */
  readonly exited: Promise<number>;
  /** True once the process ended. */
  readonly done: boolean;
  /** Resolves with the first log line matching `match` (already seen or future); rejects after `timeoutMs` or if the child exits first. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine>;
  /** Sends `signal` (default SIGKILL) if still running; resolves once it exited. */
  kill(signal?: NodeJS.Signals): Promise<number>;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Starts `edgewatch <argv>` in a child Node process (cwd: the repository root). */
export function spawnAgent(argv: string[], env: Record<string, string> = {}): AgentChild {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, ...argv], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const output = { out: '', err: '' };
  const listeners = new Set<() => void>();
  let done = false;
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (output.out += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    output.err += s;
    pending += s;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ msg: line, raw: true });
      }
    }
    for (const l of [...listeners]) l();
  });
  const exited = new Promise<number>((resolveExit) => {
    child.on('exit', (code, signal) => {
      done = true;
      resolveExit(code ?? 128 + (SIGNAL_NUMBERS[signal ?? ''] ?? 0));
      for (const l of [...listeners]) l();
    });
  });
  return {
    process: child,
    pid: child.pid ?? -1,
    logs,
    output,
    exited,
    get done() {
      return done;
    },
    waitForLog(match, timeoutMs) {
      return new Promise<LogLine>((resolveLine, reject) => {
        const check = () => {
          const found = logs.find(match);
          if (found) return finish(() => resolveLine(found));
          if (done) return finish(() => reject(new Error(`agent exited before the expected log line; stderr:\n${output.err.slice(-4000)}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`no matching log line within ${timeoutMs} ms; stderr:\n${output.err.slice(-4000)}`))), timeoutMs);
        const finish = (f: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        check();
      });
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (!done) child.kill(signal);
      return exited;
    },
  };
}

// Entry point: run the CLI and exit with its code once stderr is flushed.
if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const { main } = await import('../../src/cli.js');
  const code = await main(process.argv.slice(2));
  process.stderr.write('', () => process.exit(code));
}
