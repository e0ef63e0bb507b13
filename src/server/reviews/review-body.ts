/**
 * The body of `POST /api/predicted/asset/{id}/reviews` (`PredictedAsset.add_review`): any of `classifications: [{label}]`,
 * `rectangles: [{x, y, w, h, label}]` (top-left and size, integer pixels) and `polygons: [{polygon: [[x, y], ...], label}]`;
 * labels are names. Checked against the deployment's labels and the image's size; problems name the field.
 */
import { z } from 'zod';
import { describeIssues } from '../prediction-schema.js';

const label = z.string().min(1).max(200);
const pixel = z.number().int();

/** The review body; unknown keys are ignored, as the SDK sends only these three. */
export const reviewBodySchema = z.object({
  classifications: z.array(z.object({ label })).max(1000).optional(),
  rectangles: z.array(z.object({ x: pixel, y: pixel, w: pixel.positive(), h: pixel.positive(), label })).max(10_000).optional(),
  polygons: z.array(z.object({ polygon: z.array(z.tuple([z.number(), z.number()])).min(3).max(10_000), label })).max(10_000).optional(),
});

/** A parsed review body. */
export type ReviewBody = z.output<typeof reviewBodySchema>;

/** One problem of a review body: the field (`classifications.0.label`) and what is wrong. */
export interface ReviewProblem {
  field: string;
  message: string;
}

/** Parses and checks a review body; `allowedLabels` empty means any label name is accepted. */
export function checkReview(raw: unknown, allowedLabels: readonly string[], size: { width: number; height: number }): { ok: true; body: ReviewBody; labels: string[] } | { ok: false; problems: ReviewProblem[] } {
  const parsed = reviewBodySchema.safeParse(raw);
  if (!parsed.success) return { ok: false, problems: describeIssues(parsed.error, raw) };
  const body = parsed.data;
  const problems: ReviewProblem[] = [];
  const allowed = new Set(allowedLabels);
  const checkLabel = (value: string, field: string) => {
    if (allowed.size > 0 && !allowed.has(value)) problems.push({ field, message: `${JSON.stringify(value)} is not a label of this deployment (${[...allowed].join(', ')})` });
  };
  body.classifications?.forEach((c, i) => checkLabel(c.label, `classifications.${i}.label`));
  body.rectangles?.forEach((r, i) => {
    checkLabel(r.label, `rectangles.${i}.label`);
    if (r.x < 0 || r.y < 0 || r.x + r.w > size.width || r.y + r.h > size.height) {
      problems.push({ field: `rectangles.${i}`, message: `(x ${r.x}, y ${r.y}, w ${r.w}, h ${r.h}) is not inside the ${size.width}×${size.height} image` });
    }
  });
  body.polygons?.forEach((p, i) => {
    checkLabel(p.label, `polygons.${i}.label`);
    const outside = p.polygon.findIndex(([x, y]) => x < 0 || y < 0 || x > size.width || y > size.height);
    if (outside !== -1) problems.push({ field: `polygons.${i}.polygon.${outside}`, message: `point is outside the ${size.width}×${size.height} image` });
  });
  if (problems.length > 0) return { ok: false, problems };
  const labels = [...new Set([...(body.classifications ?? []), ...(body.rectangles ?? []), ...(body.polygons ?? [])].map((x) => x.label))];
  return { ok: true, body, labels };
}
