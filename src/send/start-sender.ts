/** Builds the sender from the configuration: the outbox drained to the monitoring client, each outcome recorded in the ledger in the same transaction. */
import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { backoffDelayMs, type PicselliaClient } from '../monitor/index.js';
import type { Ledger } from '../state/ledger.js';
import type { Outbox, OutboxEntry } from '../state/outbox.js';
import { afterDelivery } from '../pipeline/file-destinations.js';
import { Sender } from './sender.js';

export interface StartSenderOptions {
  outbox: Outbox;
  ledger: Ledger;
  client: Pick<PicselliaClient, 'sendPrediction'>;
  /** Sending waits while this is false (deployment not resolved yet). */
  isReady: () => boolean;
  /** Wall time of each send attempt, in milliseconds. */
  onSendMs: (ms: number) => void;
  /** The service acknowledged an entry: stored now (201) or already (409). Its file was kept, deleted or moved as `afterDelivery` says. */
  onAcknowledged: (entry: OutboxEntry, kind: 'delivered' | 'duplicate') => void;
  /** The service refused an entry for good: it is a dead letter. */
  onDead: (entry: OutboxEntry) => void;
  logger: Logger;
}

/** A started sender. */
export function startSender(config: AgentConfig, o: StartSenderOptions): Sender {
  const { ledger, outbox, logger } = o;
  const sender = new Sender({
    outbox,
    concurrency: config.sendConcurrency,
    send: async (entry) => {
      const started = performance.now();
      const result = await o.client.sendPrediction(entry.body);
      o.onSendMs(performance.now() - started);
      return result;
    },
    backoffMs: (attempt) => backoffDelayMs(attempt, config.retryBaseMs, config.retryMaxMs),
    isReady: o.isReady,
    inTransaction: {
      delivered: (entry) => ledger.mark(entry.fileId, 'delivered'),
      dead: (entry) => ledger.mark(entry.fileId, 'dead'),
    },
    onDelivered: (entry, result) => {
      const file = config.afterDelivery === 'keep' ? undefined : ledger.get(entry.fileId);
      if (file) void afterDelivery(config, file, logger);
      o.onAcknowledged(entry, result.kind);
    },
    onDead: (entry) => o.onDead(entry),
    logger,
  });
  sender.start();
  if (outbox.size.entries > 0) logger.info({ queued: outbox.size.entries }, 'outbox holds predictions from an earlier run; sending them');
  return sender;
}
