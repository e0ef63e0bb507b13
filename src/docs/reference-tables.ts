/** Markdown reference tables derived from the configuration schemas, the error catalogue and the exit codes (the README embeds them; a test keeps them in step). */
import type { z } from 'zod';
import { describeFields } from '../config/fields.js';
import { ERROR_CODES } from '../errors.js';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** One row per key: flag, environment variable, default, description. */
export function configTable(schema: z.ZodObject, envPrefix?: string, envAliases: Record<string, string[]> = {}): string {
  const rows = describeFields(schema, envPrefix).map((f) => {
    const def = f.defaultValue === undefined ? (f.required ? '*required*' : '') : `\`${JSON.stringify(f.defaultValue)}\``;
    const envs = [f.env, ...(envAliases[f.key] ?? [])].map((e) => `\`${e}\``).join(', ');
    const values = f.values ? ` One of: ${f.values.map((v) => `\`${v}\``).join(', ')}.` : '';
    return `| \`${f.key}\` | \`${f.flag}\` | ${envs} | ${def} | ${cell(f.description)}${values} |`;
  });
  return ['| key | flag | environment | default | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

/** One row per `EW_*` code. */
export function errorTable(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, meaning]) => `| \`${code}\` | ${cell(meaning)} |`);
  return ['| code | meaning |', '| --- | --- |', ...rows].join('\n');
}

/** One row per exit code, with its meaning. */
export function exitCodeTable(codes: readonly { code: number; meaning: string }[]): string {
  const rows = codes.map(({ code, meaning }) => `| ${code} | ${cell(meaning)} |`);
  return ['| code | meaning |', '| --- | --- |', ...rows].join('\n');
}

/** Replaces the text between `<!-- name:start -->` and `<!-- name:end -->`. */
export function replaceSection(doc: string, name: string, content: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i === -1 || j === -1 || j < i) throw new Error(`README has no ${start} ... ${end} section`);
  return `${doc.slice(0, i + start.length)}\n${content}\n${doc.slice(j)}`;
}
