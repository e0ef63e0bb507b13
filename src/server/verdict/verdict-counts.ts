/** From reviewed predictions to the verdict's counts (pure): which model's top-1 label the review confirms. */
import type { VerdictCounts } from './verdict.js';

/** A reviewed prediction with both models' top-1 label names (null: the model predicted nothing). */
export interface ReviewedLabels {
  champion: string | null;
  shadow: string | null;
  /** Label names of the review; empty when the reviewer answered "neither" / nothing of the labels. */
  truth: readonly string[];
}

/**
 * The label name of a class id: the deployment's labels (index = class id) first, then the model version's labels map
 * (class index as a string: may be 0- or 1-based, so it is looked up as given), null when unknown.
 */
export function labelName(classId: number | null, deploymentLabels: readonly string[], versionLabels: readonly (Record<string, string> | null | undefined)[]): string | null {
  if (classId === null) return null;
  const fromDeployment = deploymentLabels[classId];
  if (fromDeployment !== undefined) return fromDeployment;
  for (const map of versionLabels) {
    const name = map?.[String(classId)];
    if (name !== undefined) return name;
  }
  return `class ${classId}`;
}

/** A top-1 is right when the review names its label; predicting nothing is right when the review names nothing. */
export function isRight(label: string | null, truth: readonly string[]): boolean {
  return label === null ? truth.length === 0 : truth.includes(label);
}

/** The verdict's counts from the period's paired traffic and its reviewed predictions. Agreement is equal top-1 labels. */
export function countReviews(traffic: { agreements: number; disagreements: number }, reviewed: readonly ReviewedLabels[]): VerdictCounts {
  const c: VerdictCounts = { ...traffic, reviewedAgreements: 0, agreementsRight: 0, bothRight: 0, onlyChampionRight: 0, onlyShadowRight: 0, neitherRight: 0 };
  for (const r of reviewed) {
    const championRight = isRight(r.champion, r.truth);
    const shadowRight = isRight(r.shadow, r.truth);
    if (r.champion === r.shadow) {
      c.reviewedAgreements += 1;
      if (championRight) c.agreementsRight += 1;
    } else if (championRight && shadowRight) c.bothRight += 1;
    else if (championRight) c.onlyChampionRight += 1;
    else if (shadowRight) c.onlyShadowRight += 1;
    else c.neitherRight += 1;
  }
  return c;
}
