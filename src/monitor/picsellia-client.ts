/** Client of the Picsellia protocol: resolves the deployment on the platform, logs in to its monitoring service and sends predictions. */
import { EdgewatchError } from '../errors.js';
import type { RawPrediction } from '../types.js';
import { ClockWatch, clockSkewWarning, skewBeyond, type ClockSkew } from './clock-skew.js';
import { absoluteUrl, HttpExchange, type MonitorLogger } from './http-exchange.js';
import { normalizePrediction, serializeMonitorBody, type MonitorBody } from './monitor-body.js';
import { OracleSession, type SendOutcome } from './oracle-session.js';
import { PlatformApi } from './platform-api.js';
import { Redactor } from './redactor.js';
import { lookUpTarget, type MonitorTarget } from './target-lookup.js';

export { absoluteUrl, type MonitorLogger } from './http-exchange.js';
export type { SendOutcome } from './oracle-session.js';
export type { MonitorTarget } from './target-lookup.js';

/** Options of `PicselliaClient`. Give `organizationId`, or `organization` (a name), or neither (the ping's default organization). */
export interface PicselliaClientOptions {
  /** Platform URL; any path in it is dropped (URLs are built like Python's urljoin with absolute paths). */
  host: string;
  apiToken: string;
  organization?: string;
  organizationId?: string;
  deployment: string;
  /** Timeout of every request, headers and body included. */
  requestTimeoutMs: number;
  userAgent: string;
  /** Aborts every request (the agent's root signal). */
  signal?: AbortSignal;
  logger?: MonitorLogger;
  /** Skew of the local clock (from the responses' Date headers) beyond which `resolve()` warns (EW_CLOCK_SKEW); default CLOCK_SKEW_WARN_S. */
  clockSkewWarnS?: number;
}

/** Body of the late-shadow call `POST /api/prediction/{id}/shadow`. */
export interface LateShadowBody {
  shadow_raw_predictions: RawPrediction;
  shadow_latency: number;
}

/** Client of the Picsellia platform and monitoring service. Owns one undici Agent, released by `close()`. */
export class PicselliaClient {
  #options: PicselliaClientOptions;
  #redactor: Redactor;
  #http: HttpExchange;
  #platform: PlatformApi;
  #session: OracleSession;
  #target: MonitorTarget | null = null;
  #clock = new ClockWatch();

  constructor(options: PicselliaClientOptions) {
    this.#options = { ...options };
    this.#redactor = new Redactor([options.apiToken]);
    try {
      absoluteUrl(options.host, '/');
    } catch (err) {
      throw new EdgewatchError('EW_CONFIG_INVALID', `The platform host "${this.#redactor.redact(String(options.host))}" is not a URL.`, {
        cause: this.#redactor.safeCause(err),
        details: { key: 'host' },
      });
    }
    const { apiToken, logger } = options;
    this.#http = new HttpExchange({ requestTimeoutMs: options.requestTimeoutMs, userAgent: options.userAgent, signal: options.signal, redactor: this.#redactor, logger, clock: this.#clock });
    this.#platform = new PlatformApi({ host: options.host, apiToken, http: this.#http, redactor: this.#redactor });
    this.#session = new OracleSession({ apiToken, http: this.#http, redactor: this.#redactor, logger, clock: this.#clock });
  }

  /** The target in use (from `resolve()` or `useTarget()`), or null. */
  get target(): MonitorTarget | null {
    return this.#target;
  }

  /** The skew of this box's clock shown by the last response with a Date header (null before any). */
  get clockSkew(): ClockSkew | null {
    return this.#clock.latest;
  }

  /**
   * Runs the SDK's start-up sequence: ping, organization (by id, else by name, else the ping's
   * default), organization details, deployment by name, then logs in to the monitoring service
   * and caches the JWT. Warns (EW_CLOCK_SKEW) when a response's Date header shows the local clock
   * off by more than `clockSkewWarnS`. Throws EdgewatchError (EW_MONITOR_CONNECT, _TIMEOUT, _AUTH,
   * _NOT_FOUND, _NOT_ENABLED, _PROTOCOL, _HTTP).
   */
  async resolve(): Promise<MonitorTarget> {
    const { organization, organizationId, deployment } = this.#options;
    this.#clock.reset();
    const target = await lookUpTarget(this.#platform, { organization, organizationId, deployment });
    this.useTarget(target);
    await this.#session.ensureJwt();
    this.#warnOnSkew();
    this.#options.logger?.info(
      { organization: target.organizationName, deployment: target.deploymentName, type: target.type, oracle: absoluteUrl(target.oracleHost, '/').origin },
      'monitoring target resolved',
    );
    return target;
  }

  /** Uses a target resolved earlier (e.g. cached on disk) without calling the platform; sends log in lazily. */
  useTarget(target: MonitorTarget): void {
    try {
      absoluteUrl(target.oracleHost, '/');
    } catch (err) {
      throw new EdgewatchError('EW_MONITOR_PROTOCOL', `The monitoring service URL of deployment "${target.deploymentName}" is not a URL.`, {
        cause: this.#redactor.safeCause(err),
      });
    }
    this.#session.useService(target.deploymentId, target.oracleHost);
    this.#target = { ...target };
  }

  /**
   * One attempt at `POST {oracle}/api/deployment/{id}/predictions`. `body` is a MonitorBody or the
   * exact bytes of one (as persisted by the outbox from `serializeMonitorBody`). On a 401, logs in
   * again once and replays. Never throws for a network or HTTP failure: see SendOutcome.
   */
  async sendPrediction(body: MonitorBody | Uint8Array): Promise<SendOutcome> {
    const target = this.#requireTarget();
    const bytes = body instanceof Uint8Array ? body : serializeMonitorBody(body);
    return this.#session.post('prediction', `/api/deployment/${encodeURIComponent(target.deploymentId)}/predictions`, bytes);
  }

  /**
   * One attempt at `POST {oracle}/api/prediction/{predictionId}/shadow` (a late shadow prediction
   * for an already-monitored one). Throws EW_MONITOR_PROTOCOL on a malformed prediction or latency.
   */
  async sendLateShadow(predictionId: string, body: LateShadowBody): Promise<SendOutcome> {
    this.#requireTarget();
    const prediction = normalizePrediction(body.shadow_raw_predictions, 'shadow_raw_predictions');
    if (typeof body.shadow_latency !== 'number' || !Number.isFinite(body.shadow_latency) || body.shadow_latency < 0) {
      throw new EdgewatchError('EW_MONITOR_PROTOCOL', 'Cannot send a late shadow: shadow_latency must be a finite number of seconds ≥ 0.');
    }
    if (typeof predictionId !== 'string' || predictionId === '') {
      throw new EdgewatchError('EW_MONITOR_PROTOCOL', 'Cannot send a late shadow: the prediction id is empty.');
    }
    const bytes = Buffer.from(JSON.stringify({ shadow_raw_predictions: prediction, shadow_latency: body.shadow_latency }), 'utf8');
    return this.#session.post('late shadow', `/api/prediction/${encodeURIComponent(predictionId)}/shadow`, bytes);
  }

  /** Aborts in-flight requests (they end as `retry`) and releases the connections. Idempotent: returns the same promise. */
  close(): Promise<void> {
    return this.#http.close();
  }

  /** Logs EW_CLOCK_SKEW once per resolve when the largest skew measured during it is beyond the threshold. */
  #warnOnSkew(): void {
    const skew = this.#clock.worst;
    if (skew === null || !skewBeyond(skew, this.#options.clockSkewWarnS)) return;
    const server = skew.phase === 'login' ? 'the monitoring service' : 'the platform';
    const warning = clockSkewWarning(skew, server);
    this.#options.logger?.warn({ code: warning.code, ...warning.details }, warning.message);
  }

  #requireTarget(): MonitorTarget {
    if (this.#target === null) {
      throw new EdgewatchError('EW_MONITOR_PROTOCOL', 'No monitoring target: call resolve() or useTarget() before sending.');
    }
    return this.#target;
  }
}
