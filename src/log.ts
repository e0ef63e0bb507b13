/** The logger: pino, as JSON lines or as one readable line per event; secrets are redacted by path. */
import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

const REDACT = ['apiToken', 'token', 'jwt', 'authorization', '*.apiToken', '*.token', '*.jwt', '*.authorization', 'headers.authorization'];
const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v']);

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s="]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
  return JSON.stringify(value);
}

/** A destination that turns pino's JSON lines into `HH:MM:SS.mmm LEVEL message key=value ...`. */
function prettyDestination(out: NodeJS.WritableStream): DestinationStream {
  return {
    write(line: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const time = new Date(record.time as number).toISOString().slice(11, 23);
      const fields = Object.entries(record)
        .filter(([k]) => !SKIP.has(k))
        .map(([k, v]) => (k === 'err' && v && typeof v === 'object' ? `err=${formatValue((v as { message?: string }).message)}` : `${k}=${formatValue(v)}`));
      out.write(`${time} ${LEVEL_NAMES[record.level as number] ?? record.level} ${String(record.msg ?? '')}${fields.length ? ` ${fields.join(' ')}` : ''}\n`);
    },
  };
}

/** Creates the process logger. Logs go to stderr so that stdout carries only results. */
export function createLogger(options: { level: LogLevel; format: 'pretty' | 'json'; destination?: NodeJS.WritableStream; name?: string }): Logger {
  const out = options.destination ?? process.stderr;
  const base = { level: options.level, redact: { paths: REDACT, censor: '[redacted]' }, base: options.name ? { name: options.name } : null };
  if (options.format === 'json') return pino(base, { write: (s: string) => out.write(s) });
  return pino(base, prettyDestination(out));
}

/** A logger that drops everything (library use and tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
