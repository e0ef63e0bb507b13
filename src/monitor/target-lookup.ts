/** Finds where predictions go, as the SDK does at start-up: ping, organization, organization details, deployment by name. */
import type { z } from 'zod';
import { EdgewatchError } from '../errors.js';
import type { TaskType } from '../types.js';
import type { PlatformApi } from './platform-api.js';
import { deploymentSchema, organizationFindSchema, organizationSchema, pingResponseSchema } from './protocol-schemas.js';

/** Where predictions go: the result of `resolve()`, cacheable for an offline start (`useTarget`). */
export interface MonitorTarget {
  organizationId: string;
  organizationName: string;
  deploymentId: string;
  deploymentName: string;
  /** Deployment type as the platform spells it: a TaskType, or another InferenceType value. */
  type: TaskType | string;
  /** Monitoring service base URL (its path is dropped when building request URLs). */
  oracleHost: string;
  /** When it was resolved, epoch milliseconds. */
  resolvedAt: number;
}

/** Which deployment to look up. Give `organizationId`, or `organization` (a name), or neither (the ping's default organization). */
export interface TargetQuery {
  organization?: string | undefined;
  organizationId?: string | undefined;
  deployment: string;
}

/**
 * Looks the deployment up on the platform: ping, organization (by id, else by name, else the
 * ping's default), organization details (which decide the organization header of the later
 * calls), deployment by name. Throws EdgewatchError (EW_MONITOR_CONNECT, _TIMEOUT, _AUTH,
 * _NOT_FOUND, _NOT_ENABLED, _PROTOCOL, _HTTP).
 */
export async function lookUpTarget(platform: PlatformApi, query: TargetQuery): Promise<MonitorTarget> {
  const { organizationId, organization } = await lookUpOrganization(platform, query);
  const deployment = await platform.get('deployment look-up', `/api/organization/${encodeURIComponent(organizationId)}/deployments/find`, deploymentSchema, {
    query: { name: query.deployment },
    missingIdIsNotFound: true,
  });
  if (deployment.oracle_host === null) {
    throw new EdgewatchError(
      'EW_MONITOR_NOT_ENABLED',
      `Deployment "${deployment.name}" has no monitoring service (oracle_host is null): enable monitoring for it on the platform.`,
      { details: { deploymentId: deployment.id } },
    );
  }
  return {
    organizationId,
    organizationName: organization.name,
    deploymentId: deployment.id,
    deploymentName: deployment.name,
    type: deployment.type,
    oracleHost: deployment.oracle_host,
    resolvedAt: Date.now(),
  };
}

/**
 * The organization as the SDK finds it: ping, organization by id, else by name, else the ping's
 * default, then its details (which decide the organization header of the later calls).
 */
export async function lookUpOrganization(platform: PlatformApi, query: Omit<TargetQuery, 'deployment'>): Promise<{ organizationId: string; organization: z.infer<typeof organizationSchema> }> {
  const ping = await platform.get('ping', '/api/home/ping', pingResponseSchema);
  let organizationId = query.organizationId;
  if (organizationId === undefined && query.organization !== undefined) {
    const found = await platform.get('organization look-up', '/api/organizations/find', organizationFindSchema, {
      query: { name: query.organization },
      missingIdIsNotFound: true,
    });
    organizationId = found.id;
  }
  if (organizationId === undefined) {
    if (ping.default_organization === null) {
      throw new EdgewatchError('EW_MONITOR_NOT_FOUND', 'No organization given and the platform user has no default organization: set organization or organizationId.', {
        details: { phase: 'ping' },
      });
    }
    organizationId = ping.default_organization;
  }
  const organization = await platform.get('organization', `/api/organization/${encodeURIComponent(organizationId)}`, organizationSchema);
  platform.useOrganization(organization.default_connector_id ? organizationId : null);
  return { organizationId, organization };
}
