/** `--sample`: the policy text (`rate=0.25,disagreement,class:cat=1,cap=600`) parsed into rules. */
import { EdgewatchError } from '../errors.js';

/** What decides whether a prediction is sent to the monitoring service. */
export interface SamplePolicy {
  /** Probability for an image no other rule covers (1 without `--sample`; 0 when `--sample` names no rate). */
  rate: number;
  /** Champion and shadow top classes differ → always selected (before the cap). */
  disagreement: boolean;
  /** Probability by the champion's top class, by label name or class id (as text). */
  classes: ReadonlyMap<string, number>;
  /** Largest number of predictions sent per minute (undefined: no cap). */
  capPerMinute: number | undefined;
}

/** The policy when `--sample` is not given: everything is sent, p = 1. */
export const SEND_ALL: SamplePolicy = Object.freeze({ rate: 1, disagreement: false, classes: new Map<string, number>(), capPerMinute: undefined });

const probability = (text: string): number | undefined => {
  if (!/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(text)) return undefined;
  return Number(text);
};

/**
 * Parses a policy text; returns the problem (for the configuration error) instead of throwing.
 * Terms, comma-separated, any order: `rate=R`, `disagreement`, `class:NAME=R` (NAME a label or a
 * class id; repeatable), `cap=N` (per minute). R is a probability in [0, 1].
 */
export function parseSamplePolicy(text: string): { policy: SamplePolicy } | { problem: string } {
  let rate: number | undefined;
  let disagreement = false;
  let capPerMinute: number | undefined;
  const classes = new Map<string, number>();
  const terms = text.split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (terms.length === 0) return { problem: 'is empty: give e.g. rate=0.25,disagreement,class:cat=1,cap=600' };
  for (const term of terms) {
    let m: RegExpExecArray | null;
    if (term === 'disagreement') disagreement = true;
    else if ((m = /^rate=(.+)$/.exec(term))) {
      rate = probability(m[1] as string);
      if (rate === undefined) return { problem: `${term}: the rate must be a probability between 0 and 1` };
    } else if ((m = /^class:(.+)=(.+)$/.exec(term))) {
      const p = probability(m[2] as string);
      if (p === undefined) return { problem: `${term}: a class rate must be a probability between 0 and 1` };
      classes.set(m[1] as string, p);
    } else if ((m = /^cap=(\d+)$/.exec(term))) {
      capPerMinute = Number(m[1]);
      if (capPerMinute < 1) return { problem: `${term}: the cap must be at least 1 per minute` };
    } else return { problem: `unknown term "${term}": use rate=R, disagreement, class:NAME=R or cap=N` };
  }
  return { policy: { rate: rate ?? 0, disagreement, classes, capPerMinute } };
}

/** The policy of a `--sample` value the configuration schema accepted; throws EW_CONFIG_INVALID otherwise. */
export function samplePolicy(text: string): SamplePolicy {
  const parsed = parseSamplePolicy(text);
  if ('problem' in parsed) throw new EdgewatchError('EW_CONFIG_INVALID', `sample (--sample, EDGEWATCH_SAMPLE): ${parsed.problem}`);
  return parsed.policy;
}
