/** What every throughput measurement of the bench takes: the two model folders and the rounds to run. */
export interface RoundsOptions {
  championDir: string;
  shadowDir: string;
  rounds: number;
  perRound: number;
  warmup: number;
}
