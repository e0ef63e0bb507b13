/**
 * Which handler answers a path. The platform and the monitoring ("oracle") service share the root,
 * the platform first where a path means both (`GET /api/deployment/{id}`); the monitoring service
 * also answers alone under `ORACLE_PREFIX`, which is what deployments advertise as `oracle_host`.
 * Clients that join paths like Python's urljoin (the Picsellia SDK, edgewatch's agent) drop that
 * prefix and reach the root, where every monitoring path but the colliding one still answers.
 */
import type { IncomingMessage } from 'node:http';
import { ORACLE_PREFIX, type ServerContext } from './context.js';
import { handleDashboard, type DashboardReply } from './dashboard-routes.js';
import { handleOracle } from './oracle-routes.js';
import { handlePlatform } from './platform-routes.js';
import { handleDeploymentModels } from './registry/deployment-models.js';
import { handleRegistry } from './registry/registry-routes.js';
import { handleStorage, type StreamReply } from './registry/storage-routes.js';
import { handleReviews } from './reviews/review-routes.js';
import type { StaticFile } from './static-files.js';

/** The reply of the route `url` names, or null when none does. */
export async function routeRequest(ctx: ServerContext, req: IncomingMessage, url: URL, files: ReadonlyMap<string, StaticFile>): Promise<DashboardReply | StreamReply | null> {
  if (url.pathname.startsWith(`${ORACLE_PREFIX}/api/`)) {
    const inner = new URL(url);
    inner.pathname = url.pathname.slice(ORACLE_PREFIX.length);
    // The monitoring API (login, predictions, late shadow, deployment info, stats); no platform route, no page.
    return (await handleOracle(ctx, req, inner)) ?? (await handleDashboard(ctx, req, inner, new Map()));
  }
  return (
    handlePlatform(ctx, req, url) ??
    (await handleRegistry(ctx, req, url)) ??
    (await handleStorage(ctx, req, url)) ??
    (await handleDeploymentModels(ctx, req, url)) ??
    (await handleReviews(ctx, req, url)) ??
    (await handleOracle(ctx, req, url)) ??
    (await handleDashboard(ctx, req, url, files))
  );
}
