/** Builds the sender from the configuration: the outbox drained to the monitoring client, each outcome recorded in the ledger in the same transaction. */
import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { backoffDelayMs, type LateShadowBody, type PicselliaClient, type SendOutcome } from '../monitor/index.js';
import { afterDelivery } from '../pipeline/file-destinations.js';
import type { Ledger } from '../state/ledger.js';
import type { Outbox, OutboxEntry } from '../state/outbox.js';
import { Sender } from './sender.js';

export interface StartSenderOptions {
  outbox: Outbox;
  ledger: Ledger;
  client: Pick<PicselliaClient, 'sendPrediction' | 'sendLateShadow'>;
  /** Sending waits while this is false (deployment not resolved yet). */
  isReady: () => boolean;
  /** Wall time of each send attempt, in milliseconds. */
  onSendMs: (ms: number) => void;
  /**
   * The service acknowledged an entry: stored now (201) or already (409). For a champion's
   * prediction its file is kept, deleted or moved as `afterDelivery` says, unless `fileNeeded`.
   */
  onAcknowledged: (entry: OutboxEntry, kind: 'delivered' | 'duplicate') => void;
  /** The service refused an entry for good: it is a dead letter. */
  onDead: (entry: OutboxEntry) => void;
  /** Late shadows that can no longer be sent (their champion's prediction was refused, or answered 409 without its id). */
  onOrphans: (entry: OutboxEntry, count: number) => void;
  /** True while deferred shadow work still needs the image's file (`afterDelivery` then waits for `releaseFile`). */
  fileNeeded: (imageId: string) => boolean;
  logger: Logger;
}

/** A started sender, and `releaseFile` for an image whose file the shadow no longer needs. */
export function startSender(config: AgentConfig, o: StartSenderOptions): { sender: Sender; releaseFile: (imageId: string, fileId: number) => void } {
  const { ledger, outbox, logger } = o;
  const fileDone = (fileId: number) => {
    const file = config.afterDelivery === 'keep' ? undefined : ledger.get(fileId);
    if (file) void afterDelivery(config, file, logger);
  };
  const sender = new Sender({
    outbox,
    concurrency: config.sendConcurrency,
    send: async (entry) => {
      const started = performance.now();
      const result = await sendEntry(o, entry);
      o.onSendMs(performance.now() - started);
      return result;
    },
    backoffMs: (attempt) => backoffDelayMs(attempt, config.retryBaseMs, config.retryMaxMs),
    isReady: o.isReady,
    inTransaction: {
      // A late shadow does not change its file's state: the champion's prediction did.
      delivered: (entry) => entry.parentId === null && ledger.mark(entry.fileId, 'delivered'),
      dead: (entry) => entry.parentId === null && ledger.mark(entry.fileId, 'dead'),
    },
    onDelivered: (entry, result) => {
      if (entry.parentId === null && !o.fileNeeded(entry.imageId)) fileDone(entry.fileId);
      o.onAcknowledged(entry, result.kind);
    },
    onDead: (entry) => o.onDead(entry),
    onOrphans: (entry, count) => o.onOrphans(entry, count),
    logger,
  });
  sender.start();
  if (outbox.size.entries > 0) logger.info({ queued: outbox.size.entries }, 'outbox holds predictions from an earlier run; sending them');
  return {
    sender,
    releaseFile: (imageId, fileId) => {
      if (outbox.delivery(imageId)) fileDone(fileId);
    },
  };
}

/** One attempt: a champion's prediction (with its shadow's when it kept up), or a late shadow for a delivered prediction. */
async function sendEntry(o: StartSenderOptions, entry: OutboxEntry): Promise<SendOutcome> {
  if (entry.parentId === null) return o.client.sendPrediction(entry.body);
  const predictionId = o.outbox.delivery(entry.parentId)?.predictionId ?? null;
  if (predictionId === null) {
    return { kind: 'rejected', status: 0, code: 'EW_MONITOR_PROTOCOL', message: 'the prediction this late shadow completes has no id from the service' };
  }
  return o.client.sendLateShadow(predictionId, JSON.parse(entry.body.toString('utf8')) as LateShadowBody);
}
