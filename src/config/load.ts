/** Builds a frozen configuration from defaults < config file < environment < flags, validated by one zod schema. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { EdgewatchError } from '../errors.js';
import { describeFields, type ConfigField } from './fields.js';

export interface LoadOptions {
  /** Command-line arguments after the sub-command. */
  argv?: readonly string[];
  /** Environment; defaults to none (the CLI passes `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Extra environment names per key (e.g. `PICSELLIA_API_TOKEN` for `apiToken`). */
  envAliases?: Record<string, string[]>;
  /** Values given programmatically: they override file and environment, flags override them. */
  overrides?: Record<string, unknown>;
  envPrefix?: string;
  /** Flags that are not configuration keys (e.g. `--help`). */
  extraBooleanFlags?: string[];
  /**
   * Key of a list field that also takes the positional arguments, after its flag values
   * (`models pull a b` is `--name a --name b`). Without it a positional argument is an EW_USAGE error.
   */
  positionals?: string;
}

export interface Loaded<T> {
  config: Readonly<T>;
  /** Values of `extraBooleanFlags`. */
  flags: Record<string, boolean>;
}

function coerce(field: ConfigField, raw: string | string[] | boolean): unknown {
  if (field.kind === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const s = String(raw).toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
    return raw;
  }
  if (field.kind === 'number') {
    const s = String(raw).replace(/_/g, '');
    const n = s.trim() === '' ? Number.NaN : Number(s);
    return Number.isNaN(n) ? raw : n;
  }
  if (field.kind === 'list') {
    const items = (Array.isArray(raw) ? raw : [String(raw)]).flatMap((v) => (field.key === 'watch' ? [v] : v.split(','))).map((v) => v.trim()).filter((v) => v !== '');
    return field.numericList ? items.map((v) => (Number.isNaN(Number(v)) ? v : Number(v))) : items;
  }
  return raw;
}

/** One line per problem, naming the key (as flag) and what is expected. Never echoes values. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], fields: ConfigField[]): string[] {
  return issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const field = fields.find((f) => f.key === key);
    const rest = issue.path.slice(1).map(String).join('.');
    const name = field ? `${field.key} (${field.flag}${rest ? ` item ${rest}` : ''}, ${field.env})` : key || 'config';
    let message = issue.message;
    if (issue.code === 'invalid_type' && (issue as { input?: unknown }).input === undefined) message = 'is required';
    if (issue.code === 'unrecognized_keys') message = `unknown key(s): ${issue.keys.join(', ')}`;
    if (field?.values) message += ` (one of: ${field.values.join(', ')})`;
    return `${name}: ${message}`;
  });
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new EdgewatchError('EW_CONFIG_FILE', `Cannot read config file ${path}: ${(cause as Error).message}. Check the --config path.`, { cause, details: { path } });
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('the top level must be an object');
    return value as Record<string, unknown>;
  } catch (cause) {
    throw new EdgewatchError('EW_CONFIG_FILE', `Config file ${path} is not a JSON object: ${(cause as Error).message}.`, { cause, details: { path } });
  }
}

/**
 * Parses configuration for `schema` from flags, environment and an optional `config` file.
 * Throws `EW_USAGE` for unknown flags, `EW_CONFIG_FILE` for an unreadable file and
 * `EW_CONFIG_INVALID` (with `details.problems`, one line each) for invalid values.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, options: LoadOptions = {}): Loaded<z.output<S>> {
  const fields = describeFields(schema, options.envPrefix);
  const parseOptions: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const f of fields) parseOptions[f.flag.slice(2)] = { type: f.kind === 'boolean' ? 'boolean' : 'string', multiple: f.kind === 'list' };
  for (const extra of options.extraBooleanFlags ?? []) parseOptions[extra] = { type: 'boolean' };
  const positionalField = options.positionals === undefined ? undefined : fields.find((f) => f.key === options.positionals);
  if (options.positionals !== undefined && positionalField?.kind !== 'list') throw new TypeError(`loadConfig: positionals names "${options.positionals}", which is not a list key of the schema`);
  let parsed: Record<string, string | boolean | (string | boolean)[] | undefined>;
  let positionals: string[];
  try {
    ({ values: parsed, positionals } = parseArgs({ args: [...(options.argv ?? [])], options: parseOptions, strict: true, allowPositionals: positionalField !== undefined }));
  } catch (cause) {
    throw new EdgewatchError('EW_USAGE', `${(cause as Error).message}. Run with --help to list every option.`, { cause });
  }
  const flags: Record<string, boolean> = {};
  for (const extra of options.extraBooleanFlags ?? []) flags[extra] = parsed[extra] === true;

  const env = options.env ?? {};
  const fromEnv: Record<string, unknown> = {};
  for (const f of fields) {
    const names = [f.env, ...(options.envAliases?.[f.key] ?? [])];
    const name = names.find((n) => env[n] !== undefined && env[n] !== '');
    if (name !== undefined) fromEnv[f.key] = coerce(f, env[name] as string);
  }
  const fromFlags: Record<string, unknown> = {};
  for (const f of fields) {
    const raw = parsed[f.flag.slice(2)];
    if (raw !== undefined) fromFlags[f.key] = coerce(f, raw as string | string[] | boolean);
  }
  if (positionalField && positionals.length > 0) {
    fromFlags[positionalField.key] = [...((fromFlags[positionalField.key] as unknown[] | undefined) ?? []), ...(coerce(positionalField, positionals) as unknown[])];
  }
  const configPath = (fromFlags.config ?? options.overrides?.config ?? fromEnv.config) as string | undefined;
  const fromFile = configPath !== undefined && 'config' in schema.shape ? readConfigFile(configPath) : {};
  const merged = { ...fromFile, ...fromEnv, ...(options.overrides ?? {}), ...fromFlags };
  const result = schema.safeParse(merged);
  if (!result.success) {
    const problems = formatIssues(result.error.issues, fields);
    throw new EdgewatchError('EW_CONFIG_INVALID', `Invalid configuration:\n  ${problems.join('\n  ')}`, { details: { problems } });
  }
  return { config: deepFreeze(result.data), flags };
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** `--help` text for a schema: one block per option with its environment variable and default. */
export function helpText(schema: z.ZodObject, envPrefix?: string, envAliases: Record<string, string[]> = {}): string {
  return describeFields(schema, envPrefix)
    .map((f) => {
      const arg = f.kind === 'boolean' ? '' : f.kind === 'enum' ? ` <${f.values?.join('|')}>` : f.kind === 'number' ? ' <n>' : f.kind === 'list' ? ' <v> (repeatable)' : ' <v>';
      const def = f.defaultValue === undefined ? (f.required ? ' [required]' : '') : ` [default: ${JSON.stringify(f.defaultValue)}]`;
      const envs = [f.env, ...(envAliases[f.key] ?? [])].join(', ');
      return `  ${f.flag}${arg}\n      ${f.description}${def}\n      env: ${envs}`;
    })
    .join('\n');
}
