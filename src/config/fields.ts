/** Reads a zod object schema as a table of fields, from which flags, environment variables, help text and the README table are derived. */
import type { z } from 'zod';

export type FieldKind = 'string' | 'number' | 'boolean' | 'enum' | 'list';

/** One configuration key as seen from the outside. */
export interface ConfigField {
  key: string;
  kind: FieldKind;
  flag: string;
  env: string;
  description: string;
  required: boolean;
  defaultValue: unknown;
  /** Allowed values of an enum. */
  values?: readonly string[];
  /** `list` of numbers rather than strings. */
  numericList?: boolean;
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  element?: z.ZodType;
  defaultValue?: unknown;
  entries?: Record<string, string>;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** `apiToken` → `api-token`. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** `apiToken` → `EDGEWATCH_API_TOKEN`. */
export function envName(key: string, prefix = 'EDGEWATCH_'): string {
  return prefix + key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** The fields of an object schema, in declaration order. */
export function describeFields(schema: z.ZodObject, envPrefix = 'EDGEWATCH_'): ConfigField[] {
  return Object.entries(schema.shape).map(([key, outer]) => {
    let node = outer as z.ZodType;
    let required = true;
    let defaultValue: unknown;
    for (;;) {
      const def = defOf(node);
      if (def.type === 'optional' || def.type === 'nullable') {
        required = false;
        node = def.innerType as z.ZodType;
      } else if (def.type === 'default' || def.type === 'prefault') {
        required = false;
        defaultValue = def.defaultValue;
        node = def.innerType as z.ZodType;
      } else break;
    }
    const def = defOf(node);
    let kind: FieldKind = 'string';
    let values: string[] | undefined;
    let numericList = false;
    if (def.type === 'number' || def.type === 'int') kind = 'number';
    else if (def.type === 'boolean') kind = 'boolean';
    else if (def.type === 'enum') {
      kind = 'enum';
      values = Object.values(def.entries ?? {});
    } else if (def.type === 'array') {
      kind = 'list';
      numericList = defOf(def.element as z.ZodType).type === 'number';
    }
    const description = (outer as z.ZodType).description ?? '';
    return { key, kind, flag: `--${kebab(key)}`, env: envName(key, envPrefix), description, required, defaultValue, values, numericList };
  });
}
