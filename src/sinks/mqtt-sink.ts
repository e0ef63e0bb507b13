/** The MQTT sink: each record published at QoS 1 to `edgewatch/<deployment>/predictions` (mqtt.js); delivered once the broker's PUBACK arrives. */
import type { MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Logger } from '../log.js';
import type { SinkRow } from '../state/sink-queue.js';
import { loggableUrl, type DeliveryOutcome, type SinkTarget } from './sink.js';

/** mqtt.js, loaded when an MQTT sink is configured: every other agent is spared its start-up and memory. */
const loadMqtt = (): typeof import('mqtt') => createRequire(import.meta.url)('mqtt') as typeof import('mqtt');

export interface MqttOptions {
  url: string;
  deployment: string;
  requestTimeoutMs: number;
  logger: Logger;
}

/** The topic of a deployment's predictions; MQTT's wildcards and separators in the name become `_`. */
export function predictionsTopic(deployment: string): string {
  return `edgewatch/${deployment.replace(/[+#/\u0000]/g, '_')}/predictions`;
}

export class MqttSink implements SinkTarget {
  readonly name = 'mqtt';
  readonly batchSize = 32;
  readonly topic: string;
  readonly #o: MqttOptions;
  readonly #client: MqttClient;
  #closing: Promise<void> | undefined;
  #lastError = '';

  constructor(options: MqttOptions) {
    this.#o = options;
    this.topic = predictionsTopic(options.deployment);
    this.#client = loadMqtt().connect(options.url, {
      clientId: `edgewatch-${randomBytes(6).toString('hex')}`,
      connectTimeout: options.requestTimeoutMs,
      reconnectPeriod: 2_000,
      // Publishes are made only while connected: nothing piles up in mqtt.js's own memory.
      queueQoSZero: false,
    });
    this.#client.on('error', (err) => {
      const message = `${(err as { code?: string }).code ?? ''} ${err.message}`.trim();
      if (message !== this.#lastError) options.logger.warn({ sink: this.name, code: 'EW_SINK_MQTT', broker: loggableUrl(options.url) }, `MQTT broker: ${message}`);
      this.#lastError = message;
    });
    this.#client.on('connect', () => {
      this.#lastError = '';
      options.logger.info({ sink: this.name, broker: loggableUrl(options.url), topic: this.topic }, 'MQTT sink connected');
    });
  }

  async deliver(rows: readonly SinkRow[]): Promise<DeliveryOutcome[]> {
    if (!this.#client.connected) {
      const first: DeliveryOutcome = {
        kind: 'retry',
        code: 'EW_SINK_MQTT',
        message: `the MQTT broker ${loggableUrl(this.#o.url)} is not connected${this.#lastError ? ` (${this.#lastError})` : ''}`,
        unreachable: true,
      };
      return [first, ...rows.slice(1).map((): DeliveryOutcome => ({ kind: 'untried' }))];
    }
    return Promise.all(rows.map((row) => this.#publish(row)));
  }

  async #publish(row: SinkRow): Promise<DeliveryOutcome> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no PUBACK within ${this.#o.requestTimeoutMs} ms`)), this.#o.requestTimeoutMs);
    });
    try {
      await Promise.race([this.#client.publishAsync(this.topic, row.record, { qos: 1 }), timeout]);
      return { kind: 'delivered' };
    } catch (err) {
      return { kind: 'retry', code: 'EW_SINK_MQTT', message: `publish to ${loggableUrl(this.#o.url)} failed: ${(err as Error).message}` };
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#client.endAsync(true).catch(() => undefined);
    return this.#closing;
  }
}
