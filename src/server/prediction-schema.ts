/** zod schemas of the monitoring requests (`monitor` body and late shadow), tolerant exactly where the Picsellia SDK's senders differ; prediction objects are protocol/prediction.ts's. */
import { z } from 'zod';
import { WIRE_CONTENT_TYPES } from '../protocol/content-type.js';
import { predictionSchema } from '../protocol/prediction.js';
import type { TaskType } from '../types.js';

const int = z.number().int();

export type { ParsedPrediction } from '../protocol/prediction.js';

const latency = z.number().min(0).refine(Number.isFinite, 'must be a finite number of seconds');
const BASE64_MESSAGE = 'must be standard padded base64 without line breaks';

/** Bytes that standard padded base64 of length `length` ending in `padding` '=' decodes to. */
function decodedLength(length: number, padding: number): number {
  return (length / 4) * 3 - padding;
}

/**
 * The image field decoded to bytes. Node's decoder skips characters outside the alphabet (line
 * breaks, spaces, '!'…) and stops at an early '=', so a string is standard padded base64 exactly
 * when its length is a multiple of 4, it has no URL-safe '-' or '_' (which Node also accepts), and
 * it decodes to the length its size promises. Decoding is a fraction of a millisecond for a 5 MB
 * image, where a regular expression over the string, or re-encoding to compare, took several.
 */
const imageString = z
  .string({ message: 'is required (base64 of the image file; cloud_image is not supported by the embedded service)' })
  .min(1, 'must not be empty')
  .transform((s, ctx) => {
    const padding = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
    const bytes = s.length % 4 === 0 && !s.includes('-') && !s.includes('_') ? Buffer.from(s, 'base64') : undefined;
    if (bytes === undefined || bytes.length !== decodedLength(s.length, padding)) {
      ctx.addIssue({ code: 'custom', message: BASE64_MESSAGE });
      return z.NEVER;
    }
    return bytes;
  });

/** `image`: base64 as above, or the bytes `parseMonitorJson` already decoded and checked the same way. */
const imageField = z.unknown().transform((value, ctx): Buffer => {
  if (Buffer.isBuffer(value)) return value;
  const parsed = imageString.safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0]);
  return z.NEVER;
});

/** Earliest `timestamp` accepted: 2000-01-01T00:00:00Z in epoch seconds (agents replaying an old outbox stay well after it). */
export const EARLIEST_TIMESTAMP_S = 946_684_800;
/** How far ahead of the service's clock a `timestamp` may be (a capture clock slightly ahead of ours). */
export const FUTURE_TIMESTAMP_SLACK_S = 86_400;

/**
 * `timestamp`: epoch seconds from 2000-01-01 to one day from now. Milliseconds (1.7e12), zero and far
 * futures are refused: one such value stretched the stats' time range over centuries.
 */
const timestamp = z.number().superRefine((t, ctx) => {
  const latestS = Date.now() / 1000 + FUTURE_TIMESTAMP_SLACK_S;
  if (t >= EARLIEST_TIMESTAMP_S && t <= latestS) return;
  const hint = t > latestS && t / 1000 >= EARLIEST_TIMESTAMP_S && t / 1000 <= latestS ? ' (this looks like milliseconds: divide by 1000)' : '';
  ctx.addIssue({ code: 'custom', message: `must be epoch seconds from ${EARLIEST_TIMESTAMP_S} (2000-01-01) to one day from now, got ${t}${hint}` });
});

/** Deepest nesting accepted in `metadata` and `custom_metadata` (the object itself is level 1). */
export const MAX_METADATA_DEPTH = 32;
/** Largest `metadata` or `custom_metadata` accepted, in bytes of JSON. */
export const MAX_METADATA_BYTES = 64 * 1024;

/** True when `value` nests objects or arrays deeper than `max` levels; iterative, so any depth is safe to check. */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [v, depth] = item;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

/** `metadata` / `custom_metadata`: an object at most MAX_METADATA_DEPTH deep and MAX_METADATA_BYTES long (the gallery serves it on every poll). */
const metadataObject = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  if (nestsDeeperThan(value, MAX_METADATA_DEPTH)) {
    ctx.addIssue({ code: 'custom', message: `is nested too deep: at most ${MAX_METADATA_DEPTH} levels of objects and arrays` });
    return;
  }
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > MAX_METADATA_BYTES) ctx.addIssue({ code: 'custom', message: `is ${bytes} bytes of JSON; the limit is ${MAX_METADATA_BYTES} bytes` });
});

/** One compiled schema per task type: zod compiles a schema on first use, so building one per request costs more than parsing. */
function perType<T>(build: (type: TaskType) => T): (type: TaskType) => T {
  const built = new Map<TaskType, T>();
  return (type) => {
    let schema = built.get(type);
    if (schema === undefined) {
      schema = build(type);
      built.set(type, schema);
    }
    return schema;
  };
}

/** Body of `POST /api/deployment/{id}/predictions` for a deployment of `type` (`image` parsed to its bytes). */
export const monitorBodySchema = perType((type: TaskType) => {
  const prediction = predictionSchema(type);
  return z
    .object({
      filename: z.string().min(1).max(1024),
      content_type: z
        .string()
        .transform((s) => s.toUpperCase())
        .pipe(z.enum(WIRE_CONTENT_TYPES, { message: 'must be IMAGE/JPEG or IMAGE/PNG (case-insensitive)' })),
      height: int.min(1),
      width: int.min(1),
      raw_predictions: prediction,
      latency,
      source: z.string().min(1).max(200).nullish(),
      tags: z.array(z.string().min(1).max(200)).max(100).nullish(),
      metadata: metadataObject.nullish(),
      custom_metadata: metadataObject.nullish(),
      timestamp: timestamp.nullish(),
      upload_dir: z.string().nullish(),
      shadow_latency: latency.nullish(),
      shadow_raw_predictions: prediction.nullish(),
      image: imageField,
    })
    .superRefine((b, ctx) => {
      if (b.shadow_raw_predictions != null && b.shadow_latency == null) {
        ctx.addIssue({ code: 'custom', path: ['shadow_latency'], message: 'is required when shadow_raw_predictions is sent' });
      }
    });
});

export type MonitorBody = z.output<ReturnType<typeof monitorBodySchema>>;

/** Body of `POST /api/prediction/{id}/shadow`. */
export const shadowBodySchema = perType((type: TaskType) => z.object({ shadow_raw_predictions: predictionSchema(type), shadow_latency: latency }));

/** Body of `POST /api/auth/login`. */
export const loginBodySchema = z.object({ api_token: z.string().min(1), deployment_id: z.string().min(1) });

/** The value at `path` in `input` (undefined when absent). */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** What a wrong value is, for messages: `a string`, `null`, `an array`. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/**
 * One `{field, message}` per zod issue of parsing `input`, `field` as a dotted path
 * (`raw_predictions.detection_scores.0`); a missing field `is required`, a wrong type says what was expected and what came.
 */
export function describeIssues(error: z.ZodError, input: unknown): { field: string; message: string }[] {
  return error.issues.map((issue) => {
    const field = issue.path.map(String).join('.') || '(body)';
    if (issue.code !== 'invalid_type') return { field, message: issue.message };
    const value = valueAt(input, issue.path);
    if (value === undefined) return { field, message: 'is required' };
    const expected = String((issue as { expected?: unknown }).expected ?? 'another type');
    return { field, message: `must be ${/^[aeiou]/.test(expected) ? 'an' : 'a'} ${expected}, not ${kindOf(value)}` };
  });
}
