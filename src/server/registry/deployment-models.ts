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
import type { RegistryServices } from './services.js';
import { requireWriter } from './write-access.js';

type Reply = { status: number; body: unknown };

const setBody = z.object({ model_version_id: z.string().min(1) });
const promoteBody = z.object({ shadow_model_version_id: z.string().min(1).nullish() });

/** Copies each deployment's persisted champion/shadow into its in-memory info (at start). */
export function loadDeploymentModels(registry: RegistryServices, deployments: Iterable<DeploymentInfo>): void {
  for (const d of deployments) {
    const period = registry.models.currentPeriod(d.id);
    d.championVersionId = period?.championVersionId ?? null;
    d.shadowVersionId = period?.shadowVersionId ?? null;
  }
}

function apply(ctx: ServerContext, d: DeploymentInfo, champion: string | null, shadow: string | null, reason: string): void {
  const { changed } = ctx.registry.models.setModels(d.id, champion, shadow, reason);
  d.championVersionId = champion;
  d.shadowVersionId = shadow;
  if (changed) ctx.logger.info({ deployment: d.name, championVersionId: champion, shadowVersionId: shadow, reason }, 'deployment models changed: a new comparison period starts');
}

function versionFor(ctx: ServerContext, d: DeploymentInfo, id: string) {
  const v = ctx.registry.models.getVersion(id);
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
  if (m[2] === 'promote') {
    const body = await jsonBody(req, promoteBody, 'promotion');
    const shadow = d.shadowVersionId ?? null;
    if (shadow === null) throw new HttpError(409, `Deployment ${d.name} has no shadow to promote.`);
    if (body.shadow_model_version_id != null && body.shadow_model_version_id !== shadow) {
      throw new HttpError(409, `The shadow of deployment ${d.name} changed since the verdict was shown (now ${shadow}): look again before promoting.`, { field: 'shadow_model_version_id' });
    }
    apply(ctx, d, shadow, null, 'promote');
    return { status: 200, body: deploymentJson(ctx, d, req) };
  }
  const body = await jsonBody(req, setBody, m[2] === 'model' ? 'champion' : 'shadow');
  const v = versionFor(ctx, d, body.model_version_id);
  if (m[2] === 'model') {
    const shadow = d.shadowVersionId === v.id ? null : (d.shadowVersionId ?? null);
    apply(ctx, d, v.id, shadow, d.shadowVersionId === v.id ? 'promote' : 'set champion');
  } else {
    if (d.championVersionId === v.id) throw new HttpError(422, `Invalid model_version_id: ${v.modelName} ${v.name} is already the champion of ${d.name}.`, { field: 'model_version_id' });
    apply(ctx, d, d.championVersionId ?? null, v.id, 'set shadow');
  }
  return { status: 200, body: deploymentJson(ctx, d, req) };
}
