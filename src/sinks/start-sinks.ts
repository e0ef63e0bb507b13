/** Builds the configured result sinks (sidecar, JSONL, webhook, MQTT): one queue per sink in the state database, one delivery loop each. */
import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { backoffDelayMs } from '../monitor/backoff.js';
import type { ResultSinks } from '../pipeline/sampling.js';
import { SinkQueue, type SinkCounts } from '../state/sink-queue.js';
import type { StateDb } from '../state/state-db.js';
import { JsonlSink } from './jsonl-sink.js';
import { MqttSink } from './mqtt-sink.js';
import { SidecarSink } from './sidecar-sink.js';
import type { SinkTarget } from './sink.js';
import { SinkLoop } from './sink-loop.js';
import { WebhookSink } from './webhook-sink.js';

/** Per sink: queued and dead records in the state database, and since start: delivered, dropped (backlog bound). */
export type SinkStatus = SinkCounts & { delivered: number; dropped: number };

/** The running sinks. `close()` is idempotent. */
export interface StartedSinks extends ResultSinks {
  readonly loops: readonly SinkLoop[];
  /** Resolves once every sink has delivered what it can now (records waiting for a retry stay queued). */
  settled(): Promise<void>;
  status(): Record<string, SinkStatus>;
  close(deadlineMs: number): Promise<void>;
}

/** Log lines about dropped records: at most one per sink per this many ms. */
const DROP_LOG_EVERY_MS = 10_000;

/** The targets the configuration asks for. */
function targets(config: AgentConfig, logger: Logger, signal: AbortSignal): SinkTarget[] {
  const out: SinkTarget[] = [];
  if (config.sinkSidecar !== undefined) out.push(new SidecarSink(config.sinkSidecar));
  if (config.sinkJsonl !== undefined) out.push(new JsonlSink({ path: config.sinkJsonl, maxBytes: config.sinkJsonlMaxBytes, maxFiles: config.sinkJsonlMaxFiles }));
  if (config.sinkWebhook !== undefined) out.push(new WebhookSink({ url: config.sinkWebhook, requestTimeoutMs: config.requestTimeoutMs, signal }));
  if (config.sinkMqtt !== undefined) out.push(new MqttSink({ url: config.sinkMqtt, deployment: config.deployment, requestTimeoutMs: config.requestTimeoutMs, logger }));
  return out;
}

/** Starts the configured sinks; undefined when there is none. */
export function startSinks(config: AgentConfig, db: StateDb, o: { logger: Logger; signal: AbortSignal }): StartedSinks | undefined {
  const { logger } = o;
  const made = targets(config, logger, o.signal);
  if (made.length === 0) return undefined;
  const queue = new SinkQueue(db, made.map((t) => t.name), config.sinkMaxPending);
  const loops = made.map(
    (target) =>
      new SinkLoop({ queue, target, maxAttempts: config.sinkMaxAttempts, logger, backoffMs: (attempt) => backoffDelayMs(attempt, config.retryBaseMs, config.retryMaxMs) }),
  );
  const dropped = new Map<string, number>();
  const droppedLogged = new Map<string, { at: number; count: number }>();
  for (const loop of loops) {
    loop.start();
    const { pending } = queue.counts(loop.name);
    if (pending > 0) logger.info({ sink: loop.name, pending }, 'sink queue holds records from an earlier run; delivering them');
  }
  logger.info({ sinks: loops.map((l) => l.name) }, 'result sinks started');
  let closing: Promise<void> | undefined;
  return {
    loops,
    add(imageId, record) {
      for (const [sink, n] of queue.add(imageId, record)) {
        const total = (dropped.get(sink) ?? 0) + n;
        dropped.set(sink, total);
        const last = droppedLogged.get(sink);
        if (!last || Date.now() - last.at >= DROP_LOG_EVERY_MS) {
          logger.warn(
            { sink, code: 'EW_SINK_BACKLOG', droppedSinceStart: total, droppedSinceLastLine: total - (last?.count ?? 0), maxPending: config.sinkMaxPending },
            `the ${sink} sink is behind by --sink-max-pending records: its oldest records are dropped (monitoring is not affected)`,
          );
          droppedLogged.set(sink, { at: Date.now(), count: total });
        }
      }
    },
    wake() {
      for (const loop of loops) loop.wake();
    },
    async settled() {
      await Promise.all(loops.map((l) => l.settled()));
    },
    status() {
      return Object.fromEntries(loops.map((l) => [l.name, { ...queue.counts(l.name), delivered: l.stats.delivered, dropped: dropped.get(l.name) ?? 0 }]));
    },
    close(deadlineMs) {
      closing ??= Promise.all(loops.map((l) => l.close(deadlineMs))).then(() => undefined);
      return closing;
    },
  };
}
