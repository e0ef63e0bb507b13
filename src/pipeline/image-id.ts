/** Identity of an image for the whole pipeline (DESIGN.md §4): the idempotency key from the ledger to the outbox to the service. */
import { createHash } from 'node:crypto';
import type { AgentConfig } from '../config/schema.js';

/** Names the host, organization and deployment predictions go to: part of every image id, and the key of the cached deployment. */
export function deploymentKey(config: Pick<AgentConfig, 'host' | 'organization' | 'organizationId' | 'deployment'>): string {
  return `${config.host}\n${config.organizationId ?? config.organization ?? ''}\n${config.deployment}`;
}

/** Content hash + deployment (+ path and mtime when duplicates are monitored again, `duplicateKey`). */
export function imageIdOf(sha256: string, deployment: string, duplicateKey?: string): string {
  return createHash('sha256')
    .update(`${sha256}\n${deployment}${duplicateKey ? `\n${duplicateKey}` : ''}`)
    .digest('hex');
}
