/** Between the models and the outbox: whether the prediction goes to monitoring (`--sample`), and the record every configured result sink receives (sent or not). */
import type { TimedPrediction } from '../infer/index.js';
import type { SampleDecision, Sampler } from '../sample/sampler.js';
import { encodeSinkRecord, sinkOutput } from '../sinks/record.js';
import type { Predictor } from './process-image.js';

/** The sinks' queues as the pipeline sees them: `add` runs inside the image's commit transaction. */
export interface ResultSinks {
  add(imageId: string, record: string): void;
  /** New records were committed. */
  wake(): void;
}

/** What the pipeline decides for one predicted image. */
export interface ResultsDecision {
  decision: SampleDecision;
  /** The sinks' JSON record; undefined when no sink is configured. */
  record: string | undefined;
}

/** One image's facts for the decision and the record. */
export interface PredictedImage {
  imageId: string;
  path: string;
  capturedAt: number;
  width: number;
  height: number;
  deployment: string;
  champion: { model: Predictor; result: TimedPrediction };
  /** Present when the shadow's prediction is there now (not when it is behind, shed or failed). */
  shadow: { model: Predictor; result: TimedPrediction } | undefined;
}

/** Draws the sampling decision (p = 1 without `--sample`) and builds the sinks' record. */
export function decideResults(sampler: Sampler | undefined, sinks: ResultSinks | undefined, image: PredictedImage): ResultsDecision {
  const { champion, shadow } = image;
  const decision: SampleDecision = sampler
    ? sampler.decide(champion.result.prediction, shadow?.result.prediction, champion.model.info.labels)
    : { send: true, probability: 1, policy: 'all' };
  const output = (m: { model: Predictor; result: TimedPrediction }) => sinkOutput(m.model.info, m.result.prediction, m.result.latencySeconds);
  const record = sinks
    ? encodeSinkRecord({
        imageId: image.imageId,
        path: image.path,
        capturedAt: image.capturedAt,
        predictedAt: Date.now() / 1000,
        deployment: image.deployment,
        width: image.width,
        height: image.height,
        champion: output(champion),
        ...(shadow ? { shadow: output(shadow) } : {}),
        monitoring: { sent: decision.send, probability: decision.probability, policy: decision.policy },
      })
    : undefined;
  return { decision, record };
}
