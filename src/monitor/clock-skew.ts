/** The agent's clock against the platform's and service's: skew measured from each response's `Date` header, and the EW_CLOCK_SKEW warnings. */
import { EdgewatchError } from '../errors.js';

/** Skew beyond which the start-up check warns, in seconds (an NTP-synchronised box is within a second). */
export const CLOCK_SKEW_WARN_S = 120;
/** The monitoring service refuses a `timestamp` before this (2000-01-01, epoch seconds). */
const EARLIEST_TIMESTAMP_S = 946_684_800;
/** ...or more than this ahead of its own clock. */
const FUTURE_SLACK_S = 86_400;

/** One measurement: how far this box's clock is ahead of the server's (negative: behind). */
export interface ClockSkew {
  /** Local clock minus the server's, in seconds (positive: this box is ahead). */
  skewS: number;
  /** Half the round trip plus the Date header's one-second resolution: the skew is known to ± this. */
  uncertaintyS: number;
  /** Which request the Date header answered (phase name). */
  phase: string;
}

/**
 * The skew shown by one response, or null without a usable `Date` header. The server stamped it at
 * some instant between `sentAtMs` and `receivedAtMs` (local epoch ms), truncated to the second.
 */
export function measureSkew(dateHeader: string | string[] | undefined, sentAtMs: number, receivedAtMs: number, phase: string): ClockSkew | null {
  if (typeof dateHeader !== 'string') return null;
  const serverMs = Date.parse(dateHeader);
  if (!Number.isFinite(serverMs)) return null;
  const localMs = (sentAtMs + receivedAtMs) / 2;
  return { skewS: (localMs - (serverMs + 500)) / 1000, uncertaintyS: (receivedAtMs - sentAtMs) / 2000 + 0.5, phase };
}

/** Keeps the latest measurement and the largest one since `reset()`. */
export class ClockWatch {
  #latest: ClockSkew | null = null;
  #worst: ClockSkew | null = null;

  /** Records the skew shown by one response (no-op without a usable Date header). */
  observe(dateHeader: string | string[] | undefined, sentAtMs: number, receivedAtMs: number, phase: string): void {
    const skew = measureSkew(dateHeader, sentAtMs, receivedAtMs, phase);
    if (skew === null) return;
    this.#latest = skew;
    if (this.#worst === null || Math.abs(skew.skewS) > Math.abs(this.#worst.skewS)) this.#worst = skew;
  }

  /** The last response's measurement, or null when none carried a Date header. */
  get latest(): ClockSkew | null {
    return this.#latest;
  }

  /** The largest skew seen since `reset()`. */
  get worst(): ClockSkew | null {
    return this.#worst;
  }

  /** Forgets the largest skew (the latest stays). */
  reset(): void {
    this.#worst = null;
  }
}

/** True when `skew` is beyond `thresholdS` even at the favourable end of its uncertainty. */
export function skewBeyond(skew: ClockSkew, thresholdS = CLOCK_SKEW_WARN_S): boolean {
  return Math.abs(skew.skewS) - skew.uncertaintyS > thresholdS;
}

/** `3 h 12 min`, `2 days 4 h`, `45 s`: a duration people read at a glance. */
export function humanDuration(seconds: number): string {
  const s = Math.round(Math.abs(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7_200) return `${Math.round(s / 60)} min`;
  if (s < 2 * 86_400) return `${Math.floor(s / 3_600)} h ${Math.round((s % 3_600) / 60)} min`;
  if (s < 2 * 365 * 86_400) return `${Math.floor(s / 86_400)} days ${Math.round((s % 86_400) / 3_600)} h`;
  return `${(s / (365.25 * 86_400)).toFixed(1)} years`;
}

function direction(skewS: number): string {
  return `${humanDuration(skewS)} ${skewS > 0 ? 'ahead of' : 'behind'}`;
}

const FIX = 'synchronise it (NTP: `timedatectl set-ntp true`, chrony or systemd-timesyncd; a box without a real-time clock needs network time before the agent starts)';

/** The start-up warning: this box's clock is off by more than the threshold; says whether the service will refuse every prediction. */
export function clockSkewWarning(skew: ClockSkew, server: string, nowMs = Date.now()): EdgewatchError {
  const nowS = nowMs / 1000;
  const refused = nowS < EARLIEST_TIMESTAMP_S || skew.skewS > FUTURE_SLACK_S;
  const effect = refused
    ? 'the monitoring service refuses every prediction stamped with it (HTTP 422: timestamp before 2000 or more than a day ahead), and refused predictions are dead-lettered'
    : 'predictions are stamped with the wrong time (charts, retention and drift windows are shifted)';
  return new EdgewatchError(
    'EW_CLOCK_SKEW',
    `This box's clock is ${direction(skew.skewS)} ${server}'s (its Date header, ± ${skew.uncertaintyS.toFixed(1)} s): ${effect}; ${FIX}.`,
    { details: { skewS: Math.round(skew.skewS * 10) / 10, uncertaintyS: Math.round(skew.uncertaintyS * 10) / 10, phase: skew.phase, server, refusesAll: refused } },
  );
}

/** The message of a prediction refused for its `timestamp` (HTTP 422 naming it), with the skew measured from that very answer. */
export function timestampRefusedMessage(serverMessage: string, skew: ClockSkew | null): string {
  const measured =
    skew === null
      ? 'the service sent no Date header to compare the clocks with'
      : skewBeyond(skew)
        ? `this box's clock is now ${direction(skew.skewS)} the service's`
        : `this box's clock now agrees with the service's (${skew.skewS.toFixed(1)} s ± ${skew.uncertaintyS.toFixed(1)} s): it was wrong when the prediction was made`;
  return `HTTP 422, the prediction's timestamp was refused (${measured}): ${serverMessage}. Its body keeps the timestamp it was made with, so sending it again cannot succeed: it is dead-lettered (kept, listed by \`edgewatch outbox list\`); ${FIX}.`;
}
