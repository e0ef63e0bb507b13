/** Session with a deployment's monitoring service: login, the cached JWT (one re-login on a 401), and each answer classified as a SendOutcome. */
import { EdgewatchError, type ErrorCode } from '../errors.js';
import { parseRetryAfter } from './backoff.js';
import { timestampRefusedMessage, type ClockWatch } from './clock-skew.js';
import { absoluteUrl, issuePaths, where, type HttpExchange, type HttpResponse, type MonitorLogger } from './http-exchange.js';
import { createdSchema, loginResponseSchema } from './protocol-schemas.js';
import { serverMessage, type Redactor } from './redactor.js';

/**
 * Result of ONE send attempt (the outbox owns retries and backoff):
 * - `delivered`: 201; `id` is the service's prediction id when it returned one.
 * - `duplicate`: 409, already processed: treat as delivered.
 * - `retry`: 501–599, 429, network error, timeout, client closing, or a failed (re-)login: the
 *   prediction itself is fine, try again later (`retryAfterMs` from Retry-After when given).
 * - `rejected`: permanent for this request (400, 422, 500, other 4xx, 2xx other than 201, 401
 *   after a fresh login): dead-letter it with `message` (the server's, redacted, ≤ 500 chars).
 */
export type SendOutcome =
  | { kind: 'delivered'; status: 201; id: string | null }
  | { kind: 'duplicate'; status: 409; message: string }
  | { kind: 'retry'; status: number | null; message: string; retryAfterMs: number | null; code: ErrorCode }
  | { kind: 'rejected'; status: number; message: string; code: ErrorCode };

/** Options of `OracleSession`. */
export interface OracleSessionOptions {
  /** Sent in the login body, never in a message: `redactor` must already know it. */
  apiToken: string;
  http: HttpExchange;
  /** Learns each JWT as it is received. */
  redactor: Redactor;
  logger?: MonitorLogger | undefined;
  /** The skew measured from the responses' Date headers (a 422 naming `timestamp` reports it). */
  clock?: ClockWatch | undefined;
}

/** True when a 422's body names the `timestamp` field (`field`, `errors[].field`, or the message). */
function refusesTimestamp(text: string): boolean {
  try {
    const body = JSON.parse(text) as { field?: unknown; errors?: unknown; message?: unknown; detail?: unknown };
    if (body.field === 'timestamp') return true;
    if (Array.isArray(body.errors) && body.errors.some((e) => (e as { field?: unknown } | null)?.field === 'timestamp')) return true;
  } catch {
    // Not JSON: the text itself is the message.
  }
  return /\btimestamp\b/i.test(text);
}

/** Logs in to one monitoring service at a time and POSTs to it; concurrent requests share one login. */
export class OracleSession {
  #options: OracleSessionOptions;
  #service: { deploymentId: string; oracleHost: string } | null = null;
  #jwt: string | null = null;
  #login: Promise<string> | null = null;

  constructor(options: OracleSessionOptions) {
    this.#options = { ...options };
  }

  /** Points the session at a deployment's monitoring service; another deployment or service drops the JWT. */
  useService(deploymentId: string, oracleHost: string): void {
    if (this.#service?.deploymentId !== deploymentId || this.#service.oracleHost !== oracleHost) {
      this.#jwt = null;
      this.#login = null;
    }
    this.#service = { deploymentId, oracleHost };
  }

  /** The cached JWT, or a new one (concurrent callers share one login). Throws the login's EdgewatchError. */
  ensureJwt(): Promise<string> {
    if (this.#jwt !== null) return Promise.resolve(this.#jwt);
    this.#login ??= this.#doLogin().finally(() => {
      this.#login = null;
    });
    return this.#login;
  }

  /**
   * One attempt at `POST {oracle}{path}` with `bytes` (JSON). On a 401, logs in again once and
   * replays. Never throws for a network or HTTP failure: see SendOutcome.
   */
  async post(phase: string, path: string, bytes: Uint8Array): Promise<SendOutcome> {
    if (this.#options.http.closing) {
      return { kind: 'retry', status: null, message: 'monitor client closed', retryAfterMs: null, code: 'EW_MONITOR_CONNECT' };
    }
    const url = absoluteUrl(this.#requireService().oracleHost, path);
    let jwt: string;
    try {
      jwt = await this.ensureJwt();
    } catch (err) {
      return this.#loginFailure(err);
    }
    let response = await this.#postOnce(phase, url, bytes, jwt);
    if ('kind' in response) return response;
    if (response.status === 401) {
      this.#options.logger?.warn({ phase, url: where(url) }, 'monitoring service answered 401: logging in again');
      try {
        jwt = await this.#refreshJwt(jwt);
      } catch (err) {
        return this.#loginFailure(err);
      }
      response = await this.#postOnce(phase, url, bytes, jwt);
      if ('kind' in response) return response;
      if (response.status === 401) {
        return {
          kind: 'rejected',
          status: 401,
          code: 'EW_MONITOR_AUTH',
          message: `401 twice (after a fresh login): ${serverMessage(response.text, this.#options.redactor)}`,
        };
      }
    }
    return this.#classify(response);
  }

  #requireService(): { deploymentId: string; oracleHost: string } {
    if (this.#service === null) {
      throw new EdgewatchError('EW_MONITOR_PROTOCOL', 'No monitoring target: call resolve() or useTarget() before sending.');
    }
    return this.#service;
  }

  /** POST to the oracle; a transport failure comes back as a `retry` outcome. */
  async #postOnce(phase: string, url: URL, bytes: Uint8Array, jwt: string): Promise<HttpResponse | SendOutcome> {
    try {
      return await this.#options.http.request(phase, 'POST', url, { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' }, bytes);
    } catch (err) {
      const e = err as EdgewatchError;
      return { kind: 'retry', status: null, message: e.message, retryAfterMs: null, code: e.code };
    }
  }

  #classify(response: HttpResponse): SendOutcome {
    const { status, text } = response;
    if (status === 201) {
      let id: string | null = null;
      try {
        const parsed = createdSchema.safeParse(JSON.parse(text));
        if (parsed.success) id = parsed.data.id;
      } catch {
        // 201 without a JSON body: delivered all the same (the SDK reads nothing from it).
      }
      return { kind: 'delivered', status: 201, id };
    }
    const message = serverMessage(text, this.#options.redactor);
    if (status === 409) return { kind: 'duplicate', status: 409, message };
    if (status === 429 || (status > 500 && status < 600)) {
      return { kind: 'retry', status, message: `HTTP ${status}: ${message}`, retryAfterMs: parseRetryAfter(response.headers['retry-after']), code: 'EW_MONITOR_HTTP' };
    }
    if (status === 422 && refusesTimestamp(text)) {
      const skew = this.#options.clock?.latest ?? null;
      const clockMessage = timestampRefusedMessage(message, skew);
      this.#options.logger?.warn(
        { code: 'EW_CLOCK_SKEW', status, ...(skew === null ? {} : { skewS: Math.round(skew.skewS * 10) / 10, uncertaintyS: Math.round(skew.uncertaintyS * 10) / 10 }) },
        clockMessage,
      );
      return { kind: 'rejected', status, message: clockMessage, code: 'EW_CLOCK_SKEW' };
    }
    const code: ErrorCode = status >= 400 && status <= 500 ? 'EW_MONITOR_REJECTED' : 'EW_MONITOR_HTTP';
    return { kind: 'rejected', status, message: `HTTP ${status}: ${message}`, code };
  }

  /** A login failure never condemns the prediction: it is retried later with the login's error code. */
  #loginFailure(err: unknown): SendOutcome {
    const e = err instanceof EdgewatchError ? err : new EdgewatchError('EW_MONITOR_CONNECT', this.#options.redactor.redact(String(err)));
    const status = typeof e.details.status === 'number' ? e.details.status : null;
    return { kind: 'retry', status, message: e.message, retryAfterMs: null, code: e.code };
  }

  /** After a 401 with `staleJwt`: log in again, unless another request already did. */
  #refreshJwt(staleJwt: string): Promise<string> {
    if (this.#jwt !== null && this.#jwt !== staleJwt) return Promise.resolve(this.#jwt);
    if (this.#jwt === staleJwt) this.#jwt = null;
    return this.ensureJwt();
  }

  async #doLogin(): Promise<string> {
    const service = this.#requireService();
    const { http, redactor, apiToken, logger } = this.#options;
    const url = absoluteUrl(service.oracleHost, '/api/auth/login');
    const body = Buffer.from(JSON.stringify({ api_token: apiToken, deployment_id: service.deploymentId }), 'utf8');
    const response = await http.request('login', 'POST', url, { 'content-type': 'application/json' }, body);
    if (response.status !== 200) {
      const code: ErrorCode = [400, 401, 403].includes(response.status) ? 'EW_MONITOR_AUTH' : 'EW_MONITOR_HTTP';
      throw new EdgewatchError(
        code,
        `Login to the monitoring service at ${where(url)} failed with HTTP ${response.status}: ${serverMessage(response.text, redactor)}`,
        { details: { phase: 'login', status: response.status, url: where(url) } },
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(response.text);
    } catch {
      parsed = undefined;
    }
    const result = loginResponseSchema.safeParse(parsed);
    if (!result.success) {
      throw new EdgewatchError('EW_MONITOR_PROTOCOL', `Login to the monitoring service at ${where(url)} returned 200 without {jwt, expires}.`, {
        details: { phase: 'login', status: 200, url: where(url), issues: issuePaths(result.error) },
      });
    }
    redactor.add(result.data.jwt);
    this.#jwt = result.data.jwt;
    logger?.debug({ url: where(url) }, 'logged in to the monitoring service');
    return result.data.jwt;
  }
}
