/** Client of the Picsellia protocol: resolves the deployment on the platform, logs in to its monitoring service and sends predictions. */
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request } from 'undici';
import type { z } from 'zod';
import { EdgewatchError, type ErrorCode } from '../errors.js';
import type { RawPrediction, TaskType } from '../types.js';
import { parseRetryAfter } from './backoff.js';
import { normalizePrediction, serializeMonitorBody, type MonitorBody } from './monitor-body.js';
import {
  createdSchema,
  deploymentSchema,
  loginResponseSchema,
  organizationFindSchema,
  organizationSchema,
  pingResponseSchema,
} from './protocol-schemas.js';
import { Redactor, serverMessage } from './redactor.js';

/** Logger subset the client uses (pino-compatible). Never receives a token or a JWT. */
export interface MonitorLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

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
}

/** Where predictions go: the result of `resolve()`, cacheable for an offline start (`useTarget`). */
export interface MonitorTarget {
  organizationId: string;
  organizationName: string;
  deploymentId: string;
  deploymentName: string;
  /** Deployment type as the platform spells it: a TaskType, or another InferenceType value. */
  type: TaskType | string;
  /** Monitoring service base URL (its path is dropped when building request URLs). */
  oracleHost: string;
  /** When it was resolved, epoch milliseconds. */
  resolvedAt: number;
}

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

/** Body of the late-shadow call `POST /api/prediction/{id}/shadow`. */
export interface LateShadowBody {
  shadow_raw_predictions: RawPrediction;
  shadow_latency: number;
}

interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** `path` (absolute) resolved against `base`: the base's own path is dropped, as urljoin does. */
export function absoluteUrl(base: string, path: string, query?: Record<string, string>): URL {
  const url = new URL(path, base);
  url.username = '';
  url.password = '';
  for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
  return url;
}

/** Where a URL points, for messages: origin and path only (no credentials, no query). */
function where(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** Client of the Picsellia platform and monitoring service. Owns one undici Agent, released by `close()`. */
export class PicselliaClient {
  #options: PicselliaClientOptions;
  #agent: Agent;
  #closing = new AbortController();
  #signal: AbortSignal;
  #redactor: Redactor;
  #logger: MonitorLogger | undefined;
  #target: MonitorTarget | null = null;
  #jwt: string | null = null;
  #login: Promise<string> | null = null;
  /** Value of X-Picsellia-Organization once known (only when the organization has a default connector). */
  #organizationHeader: string | null = null;
  #closed: Promise<void> | null = null;

  constructor(options: PicselliaClientOptions) {
    this.#options = { ...options };
    this.#redactor = new Redactor([options.apiToken]);
    this.#logger = options.logger;
    this.#signal = options.signal ? AbortSignal.any([this.#closing.signal, options.signal]) : this.#closing.signal;
    try {
      absoluteUrl(options.host, '/');
    } catch (err) {
      throw new EdgewatchError('EW_CONFIG_INVALID', `The platform host "${this.#redactor.redact(String(options.host))}" is not a URL.`, {
        cause: this.#redactor.safeCause(err),
        details: { key: 'host' },
      });
    }
    this.#agent = new Agent({ keepAliveTimeout: 4_000, connect: { timeout: options.requestTimeoutMs } });
  }

  /** The target in use (from `resolve()` or `useTarget()`), or null. */
  get target(): MonitorTarget | null {
    return this.#target;
  }

  /**
   * Runs the SDK's start-up sequence: ping, organization (by id, else by name, else the ping's
   * default), organization details, deployment by name, then logs in to the monitoring service
   * and caches the JWT. Throws EdgewatchError (EW_MONITOR_CONNECT, _TIMEOUT, _AUTH, _NOT_FOUND,
   * _NOT_ENABLED, _PROTOCOL, _HTTP).
   */
  async resolve(): Promise<MonitorTarget> {
    const o = this.#options;
    const ping = await this.#platformGet('ping', '/api/home/ping', undefined, pingResponseSchema);
    let organizationId = o.organizationId;
    if (organizationId === undefined && o.organization !== undefined) {
      const found = await this.#platformGet('organization look-up', '/api/organizations/find', { name: o.organization }, organizationFindSchema, true);
      organizationId = found.id;
    }
    if (organizationId === undefined) {
      if (ping.default_organization === null) {
        throw new EdgewatchError('EW_MONITOR_NOT_FOUND', 'No organization given and the platform user has no default organization: set organization or organizationId.', {
          details: { phase: 'ping' },
        });
      }
      organizationId = ping.default_organization;
    }
    const organization = await this.#platformGet('organization', `/api/organization/${encodeURIComponent(organizationId)}`, undefined, organizationSchema);
    this.#organizationHeader = organization.default_connector_id ? organizationId : null;
    const deployment = await this.#platformGet(
      'deployment look-up',
      `/api/organization/${encodeURIComponent(organizationId)}/deployments/find`,
      { name: o.deployment },
      deploymentSchema,
      true,
    );
    if (deployment.oracle_host === null) {
      throw new EdgewatchError(
        'EW_MONITOR_NOT_ENABLED',
        `Deployment "${deployment.name}" has no monitoring service (oracle_host is null): enable monitoring for it on the platform.`,
        { details: { deploymentId: deployment.id } },
      );
    }
    const target: MonitorTarget = {
      organizationId,
      organizationName: organization.name,
      deploymentId: deployment.id,
      deploymentName: deployment.name,
      type: deployment.type,
      oracleHost: deployment.oracle_host,
      resolvedAt: Date.now(),
    };
    this.useTarget(target);
    await this.#ensureJwt();
    this.#logger?.info(
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
    if (this.#target?.deploymentId !== target.deploymentId || this.#target.oracleHost !== target.oracleHost) {
      this.#jwt = null;
      this.#login = null;
    }
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
    return this.#sendToOracle('prediction', `/api/deployment/${encodeURIComponent(target.deploymentId)}/predictions`, bytes);
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
    return this.#sendToOracle('late shadow', `/api/prediction/${encodeURIComponent(predictionId)}/shadow`, bytes);
  }

  /** Aborts in-flight requests (they end as `retry`) and releases the connections. Idempotent: returns the same promise. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort(new Error('monitor client closed'));
      await this.#agent.destroy();
    })();
    return this.#closed;
  }

  #requireTarget(): MonitorTarget {
    if (this.#target === null) {
      throw new EdgewatchError('EW_MONITOR_PROTOCOL', 'No monitoring target: call resolve() or useTarget() before sending.');
    }
    return this.#target;
  }

  async #sendToOracle(phase: string, path: string, bytes: Uint8Array): Promise<SendOutcome> {
    if (this.#closed !== null || this.#signal.aborted) {
      return { kind: 'retry', status: null, message: 'monitor client closed', retryAfterMs: null, code: 'EW_MONITOR_CONNECT' };
    }
    const url = absoluteUrl(this.#requireTarget().oracleHost, path);
    let jwt: string;
    try {
      jwt = await this.#ensureJwt();
    } catch (err) {
      return this.#loginFailure(err);
    }
    let response = await this.#oraclePost(phase, url, bytes, jwt);
    if ('kind' in response) return response;
    if (response.status === 401) {
      this.#logger?.warn({ phase, url: where(url) }, 'monitoring service answered 401: logging in again');
      try {
        jwt = await this.#refreshJwt(jwt);
      } catch (err) {
        return this.#loginFailure(err);
      }
      response = await this.#oraclePost(phase, url, bytes, jwt);
      if ('kind' in response) return response;
      if (response.status === 401) {
        return {
          kind: 'rejected',
          status: 401,
          code: 'EW_MONITOR_AUTH',
          message: `401 twice (after a fresh login): ${serverMessage(response.text, this.#redactor)}`,
        };
      }
    }
    return this.#classify(response);
  }

  /** POST to the oracle; a transport failure comes back as a `retry` outcome. */
  async #oraclePost(phase: string, url: URL, bytes: Uint8Array, jwt: string): Promise<HttpResponse | SendOutcome> {
    try {
      return await this.#http(phase, 'POST', url, { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' }, bytes);
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
    const message = serverMessage(text, this.#redactor);
    if (status === 409) return { kind: 'duplicate', status: 409, message };
    if (status === 429 || (status > 500 && status < 600)) {
      return { kind: 'retry', status, message: `HTTP ${status}: ${message}`, retryAfterMs: parseRetryAfter(response.headers['retry-after']), code: 'EW_MONITOR_HTTP' };
    }
    const code: ErrorCode = status >= 400 && status <= 500 ? 'EW_MONITOR_REJECTED' : 'EW_MONITOR_HTTP';
    return { kind: 'rejected', status, message: `HTTP ${status}: ${message}`, code };
  }

  /** A login failure never condemns the prediction: it is retried later with the login's error code. */
  #loginFailure(err: unknown): SendOutcome {
    const e = err instanceof EdgewatchError ? err : new EdgewatchError('EW_MONITOR_CONNECT', this.#redactor.redact(String(err)));
    const status = typeof e.details.status === 'number' ? e.details.status : null;
    return { kind: 'retry', status, message: e.message, retryAfterMs: null, code: e.code };
  }

  /** The cached JWT, or a new one (concurrent callers share one login). */
  #ensureJwt(): Promise<string> {
    if (this.#jwt !== null) return Promise.resolve(this.#jwt);
    this.#login ??= this.#doLogin().finally(() => {
      this.#login = null;
    });
    return this.#login;
  }

  /** After a 401 with `staleJwt`: log in again, unless another request already did. */
  #refreshJwt(staleJwt: string): Promise<string> {
    if (this.#jwt !== null && this.#jwt !== staleJwt) return Promise.resolve(this.#jwt);
    if (this.#jwt === staleJwt) this.#jwt = null;
    return this.#ensureJwt();
  }

  async #doLogin(): Promise<string> {
    const target = this.#requireTarget();
    const url = absoluteUrl(target.oracleHost, '/api/auth/login');
    const body = Buffer.from(JSON.stringify({ api_token: this.#options.apiToken, deployment_id: target.deploymentId }), 'utf8');
    const response = await this.#http('login', 'POST', url, { 'content-type': 'application/json' }, body);
    if (response.status !== 200) {
      const code: ErrorCode = [400, 401, 403].includes(response.status) ? 'EW_MONITOR_AUTH' : 'EW_MONITOR_HTTP';
      throw new EdgewatchError(
        code,
        `Login to the monitoring service at ${where(url)} failed with HTTP ${response.status}: ${serverMessage(response.text, this.#redactor)}`,
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
    this.#redactor.add(result.data.jwt);
    this.#jwt = result.data.jwt;
    this.#logger?.debug({ url: where(url) }, 'logged in to the monitoring service');
    return result.data.jwt;
  }

  /** GET on the platform, status mapped per PROTOCOL §2.6 and body validated with `schema`. */
  async #platformGet<S extends z.ZodType>(
    phase: string,
    path: string,
    query: Record<string, string> | undefined,
    schema: S,
    missingIdIsNotFound = false,
  ): Promise<z.output<S>> {
    const url = absoluteUrl(this.#options.host, path, query);
    const headers: Record<string, string> = { authorization: `Bearer ${this.#options.apiToken}` };
    if (this.#organizationHeader !== null) headers['x-picsellia-organization'] = this.#organizationHeader;
    const response = await this.#http(phase, 'GET', url, headers);
    const details = { phase, status: response.status, url: where(url), ...(query ?? {}) };
    const ok = response.status >= 200 && response.status < 300 && response.status !== 208;
    if (!ok) {
      const message = serverMessage(response.text, this.#redactor);
      const what = query?.name !== undefined ? ` "${query.name}"` : '';
      if (response.status === 401 || response.status === 403) {
        throw new EdgewatchError('EW_MONITOR_AUTH', `The platform refused the API token (${phase}, HTTP ${response.status}): ${message}. Check apiToken.`, { details });
      }
      if (response.status === 404) {
        throw new EdgewatchError('EW_MONITOR_NOT_FOUND', `The platform found no ${phase.replace(' look-up', '')}${what} (HTTP 404): ${message}`, { details });
      }
      throw new EdgewatchError('EW_MONITOR_HTTP', `The platform answered HTTP ${response.status} to the ${phase} request at ${where(url)}: ${message}`, { details });
    }
    let json: unknown;
    try {
      json = JSON.parse(response.text);
    } catch {
      throw new EdgewatchError('EW_MONITOR_PROTOCOL', `The platform's answer to the ${phase} request at ${where(url)} is not JSON.`, { details });
    }
    if (missingIdIsNotFound && (json === null || typeof json !== 'object' || typeof (json as { id?: unknown }).id !== 'string')) {
      const what = query?.name !== undefined ? ` "${query.name}"` : '';
      throw new EdgewatchError('EW_MONITOR_NOT_FOUND', `The platform found no ${phase.replace(' look-up', '')}${what} (answer without id).`, { details });
    }
    const result = schema.safeParse(json);
    if (!result.success) {
      throw new EdgewatchError('EW_MONITOR_PROTOCOL', `The platform's answer to the ${phase} request at ${where(url)} does not have the expected shape.`, {
        details: { ...details, issues: issuePaths(result.error) },
      });
    }
    return result.data;
  }

  /**
   * One HTTP exchange with a timeout covering headers and body. Transport failures throw
   * EW_MONITOR_TIMEOUT (the request timed out) or EW_MONITOR_CONNECT (anything else, including
   * the client closing); the undici error travels redacted as `cause`.
   */
  async #http(phase: string, method: 'GET' | 'POST', url: URL, headers: Record<string, string>, body?: Uint8Array): Promise<HttpResponse> {
    const timeout = AbortSignal.timeout(this.#options.requestTimeoutMs);
    const signal = AbortSignal.any([this.#signal, timeout]);
    const startedMs = performance.now();
    try {
      const res = await request(url, {
        method,
        dispatcher: this.#agent,
        signal,
        headers: { 'user-agent': this.#options.userAgent, ...headers },
        ...(body === undefined ? {} : { body }),
      });
      const text = await res.body.text();
      this.#logger?.debug({ phase, method, url: where(url), status: res.statusCode, ms: Math.round(performance.now() - startedMs) }, 'monitor request');
      return { status: res.statusCode, headers: res.headers, text };
    } catch (err) {
      const details = { phase, url: where(url) };
      if (timeout.aborted && !this.#signal.aborted) {
        throw new EdgewatchError('EW_MONITOR_TIMEOUT', `The ${phase} request to ${where(url)} timed out after ${this.#options.requestTimeoutMs} ms.`, {
          cause: this.#redactor.safeCause(err),
          details,
        });
      }
      const reason = this.#signal.aborted ? 'the client is closing' : this.#redactor.redact(err instanceof Error ? err.message : String(err));
      const errCode = (err as { code?: unknown }).code;
      throw new EdgewatchError('EW_MONITOR_CONNECT', `The ${phase} request to ${where(url)} failed: ${reason}.`, {
        cause: this.#redactor.safeCause(err),
        details: { ...details, ...(typeof errCode === 'string' ? { errorCode: errCode } : {}) },
      });
    }
  }
}

/** Paths of the failing fields of a zod error (never the values: they may be secrets). */
function issuePaths(error: z.ZodError): string[] {
  return error.issues.map((i) => (i.path.length > 0 ? i.path.join('.') : '(root)'));
}
