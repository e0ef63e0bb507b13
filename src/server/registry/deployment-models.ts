/**
 * A deployment's champion and shadow: `POST /api/deployment/{id}/model` and `/shadow` with `{"model_version_id"}`
 * (`Deployment.set_model` / `set_shadow_model`), and edgewatch's own `POST /api/deployment/{id}/promote` (the shadow
 * becomes champion, the shadow slot is emptied). Each change is persisted, starts a new comparison period, and updates
 * the in-memory deployment so that predictions arriving from then on are credited to the new versions.
 * Setting as champion the version that is the shadow is a promotion too: the shadow slot is emptied.
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { DeploymentInfo } from '../config.js';
import { deploymentOr404, type ServerContext } from '../context.js';
import { HttpError, allow } from '../http-util.js';
import { deploymentJson } from '../platform-routes.js';
import { jsonBody, segment } from './registry-routes.js';
import type { ModelPeriod } from './registry-store.js';
import type { RegistryServices } from './services.js';
import { requireWriter } from './write-access.js';

type Reply = { status: number; body: unknown };

const setBody = z.object({ model_version_id: z.string().min(1) });
const promoteBody = z.object({ shadow_model_version_id: z.string().min(1).nullish() });

/** The period each in-memory deployment shows: a re-read finishing late never replaces a newer period with an older one. */
const shownSeq = new WeakMap<DeploymentInfo, number>();

function show(d: DeploymentInfo, period: ModelPeriod | undefined): void {
  const seq = period?.seq ?? 0;
  if ((shownSeq.get(d) ?? -1) > seq) return;
  shownSeq.set(d, seq);
  d.championVersionId = period?.championVersionId ?? null;
  d.shadowVersionId = period?.shadowVersionId ?? null;
}

/**
 * Copies each deployment's persisted champion/shadow into its in-memory info: at start, and on PostgreSQL whenever a
 * replica announces a change (pg/model-assignment.ts). Predictions are stamped from the in-memory info.
 */
export async function loadDeploymentModels(registry: RegistryServices, deployments: Iterable<DeploymentInfo>): Promise<void> {
  await Promise.all([...deployments].map(async (d) => show(d, await registry.models.currentPeriod(d.id))));
}

async function apply(ctx: ServerContext, d: DeploymentInfo, champion: string | null, shadow: string | null, reason: string): Promise<void> {
  const { period, changed } = await ctx.registry.models.setModels(d.id, champion, shadow, reason);
  show(d, period);
  if (changed) ctx.logger.info({ deployment: d.name, championVersionId: champion, shadowVersionId: shadow, reason }, 'deployment models changed: a new comparison period starts');
}

async function versionFor(ctx: ServerContext, d: DeploymentInfo, id: string) {
  const v = await ctx.registry.models.getVersion(id);
  if (v === undefined) throw new HttpError(422, `Invalid model_version_id: model version ${id} does not exist.`, { field: 'model_version_id' });
  if (v.type !== d.type) throw new HttpError(422, `Invalid model_version_id: model version ${v.modelName} ${v.name} is a ${v.type} model; deployment ${d.name} is ${d.type}.`, { field: 'model_version_id' });
  return v;
}

/** Handles the champion/shadow routes, or returns null. */
export async function handleDeploymentModels(ctx: ServerContext, req: IncomingMessage, url: URL): Promise<Reply | null> {
  const m = /^\/api\/deployment\/([^/]+)\/(model|shadow|promote)$/.exec(url.pathname);
  if (!m) return null;
  allow(req, 'POST');
  requireWriter(ctx, req);
  const d = deploymentOr404(ctx, segment(m[1]));
  // The pair the database names now (another replica may have changed it a moment ago), not only this process's copy.
  await loadDeploymentModels(ctx.registry, [d]);
  if (m[2] === 'promote') {
    const body = await jsonBody(req, promoteBody, 'promotion');
    const shadow = d.shadowVersionId ?? null;
    if (shadow === null) throw new HttpError(409, `Deployment ${d.name} has no shadow to promote.`);
    if (body.shadow_model_version_id != null && body.shadow_model_version_id !== shadow) {
      throw new HttpError(409, `The shadow of deployment ${d.name} changed since the verdict was shown (now ${shadow}): look again before promoting.`, { field: 'shadow_model_version_id' });
    }
    await apply(ctx, d, shadow, null, 'promote');
    return { status: 200, body: deploymentJson(ctx, d, req) };
  }
  const body = await jsonBody(req, setBody, m[2] === 'model' ? 'champion' : 'shadow');
  const v = await versionFor(ctx, d, body.model_version_id);
  if (m[2] === 'model') {
    const shadow = d.shadowVersionId === v.id ? null : (d.shadowVersionId ?? null);
    await apply(ctx, d, v.id, shadow, d.shadowVersionId === v.id ? 'promote' : 'set champion');
  } else {
    if (d.championVersionId === v.id) throw new HttpError(422, `Invalid model_version_id: ${v.modelName} ${v.name} is already the champion of ${d.name}.`, { field: 'model_version_id' });
    await apply(ctx, d, d.championVersionId ?? null, v.id, 'set shadow');
  }
  return { status: 200, body: deploymentJson(ctx, d, req) };
}
