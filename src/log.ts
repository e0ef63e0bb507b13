/** The logger: pino, as JSON lines or as one readable line per event; secrets are redacted by path, control characters escaped. */
import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

const REDACT = ['apiToken', 'token', 'jwt', 'authorization', '*.apiToken', '*.token', '*.jwt', '*.authorization', 'headers.authorization'];
const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v']);

/** Characters that could end, rewrite or colour a terminal line: C0 and C1 controls, DEL, the Unicode line and paragraph separators. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
/** The same, minus those JSON.stringify and pino already escape (C0). */
const UNESCAPED_BY_JSON = /[\u007f-\u009f\u2028\u2029]/g;
const SHORT_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(c: string): string {
  return SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * `text` with every control character written as an escape (`\n`, `\u001b`): a file name holding a
 * newline or a terminal escape sequence cannot forge a log line or colour the terminal.
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, escapeChar);
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s="\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value) ? JSON.stringify(value).replace(UNESCAPED_BY_JSON, escapeChar) : value;
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
  return (JSON.stringify(value) ?? String(value)).replace(UNESCAPED_BY_JSON, escapeChar);
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
      out.write(`${time} ${LEVEL_NAMES[record.level as number] ?? record.level} ${escapeControl(String(record.msg ?? ''))}${fields.length ? ` ${fields.join(' ')}` : ''}\n`);
    },
  };
}

/** Creates the process logger. Logs go to stderr so that stdout carries only results. */
export function createLogger(options: { level: LogLevel; format: 'pretty' | 'json'; destination?: NodeJS.WritableStream; name?: string }): Logger {
  const out = options.destination ?? process.stderr;
  const base = { level: options.level, redact: { paths: REDACT, censor: '[redacted]' }, base: options.name ? { name: options.name } : null };
  // pino escapes C0 controls in JSON strings; C1 controls and U+2028/2029 are escaped here (only ever inside strings).
  if (options.format === 'json') return pino(base, { write: (s: string) => out.write(s.replace(UNESCAPED_BY_JSON, escapeChar)) });
  return pino(base, prettyDestination(out));
}

/** A logger that drops everything (library use and tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
