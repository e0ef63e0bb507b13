/** Checks that the deployment's type matches the task of the models before anything is sent. */
import { EdgewatchError } from '../errors.js';
import type { TaskType } from '../types.js';
import type { MonitorTarget } from './picsellia-client.js';

/**
 * Throws EW_MONITOR_TYPE_MISMATCH when `target.type` is not `task`: the SDK refuses to monitor a
 * prediction whose format differs from the deployment type, and so does the service.
 */
export function checkDeploymentType(target: Pick<MonitorTarget, 'type' | 'deploymentName'>, task: TaskType): void {
  if (target.type === task) return;
  throw new EdgewatchError(
    'EW_MONITOR_TYPE_MISMATCH',
    `Deployment "${target.deploymentName}" is of type ${target.type} but the models' task is ${task}: ` +
      `monitor with a ${task} deployment, or use models whose manifest task is ${target.type}.`,
    { details: { deploymentType: target.type, task } },
  );
}
