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
      metadata: z.record(z.string(), z.unknown()).nullish(),
      custom_metadata: z.record(z.string(), z.unknown()).nullish(),
      timestamp: z.number().refine(Number.isFinite, 'must be epoch seconds').nullish(),
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

/** One `{field, message}` per zod issue, `field` as a dotted path (`raw_predictions.detection_scores.0`). */
export function describeIssues(error: z.ZodError): { field: string; message: string }[] {
  return error.issues.map((issue) => {
    const field = issue.path.map(String).join('.') || '(body)';
    const missing = issue.code === 'invalid_type' && (issue as { input?: unknown }).input === undefined;
    return { field, message: missing ? 'is required' : issue.message };
  });
}
