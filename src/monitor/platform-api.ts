/** Requests to the Picsellia platform: the API token and organization headers, HTTP statuses mapped to codes, answers validated with zod. */
import type { z } from 'zod';
import { EdgewatchError } from '../errors.js';
import { absoluteUrl, issuePaths, where, type HttpExchange, type HttpResponse } from './http-exchange.js';
import { serverMessage, type Redactor } from './redactor.js';

/** Options of `PlatformApi`. */
export interface PlatformApiOptions {
  /** Platform URL; any path in it is dropped. */
  host: string;
  apiToken: string;
  http: HttpExchange;
  redactor: Redactor;
}

/** How to read one platform answer. */
export interface PlatformReadOptions {
  /** Query parameters; a `name` among them is quoted in not-found messages. */
  query?: Record<string, string> | undefined;
  /** For the `.../find` calls: an answer without a string `id` means "not found" (EW_MONITOR_NOT_FOUND), not a protocol error. */
  missingIdIsNotFound?: boolean | undefined;
  /** Only this status is a success (e.g. exactly 200 for `retrieve_presigned_url`, as the SDK requires); any other is EW_MONITOR_HTTP. */
  exactStatus?: number | undefined;
}

/** Platform calls with `Authorization: Bearer <api_token>`; each answer is checked the same way, whatever the call. */
export class PlatformApi {
  #options: PlatformApiOptions;
  /** Value of X-Picsellia-Organization once known (only when the organization has a default connector). */
  #organizationHeader: string | null = null;

  constructor(options: PlatformApiOptions) {
    this.#options = { ...options };
  }

  /** Sends `X-Picsellia-Organization: <organizationId>` with every later request; null stops sending it. */
  useOrganization(organizationId: string | null): void {
    this.#organizationHeader = organizationId;
  }

  /**
   * GET `path` on the platform; the answer is validated with `schema`. Throws EdgewatchError:
   * EW_MONITOR_AUTH (401, 403), _NOT_FOUND (404, or no id with `missingIdIsNotFound`), _HTTP (any
   * other non-2xx, and 208), _PROTOCOL (not JSON, wrong shape), _CONNECT and _TIMEOUT (transport).
   */
  async get<S extends z.ZodType>(phase: string, path: string, schema: S, options: PlatformReadOptions = {}): Promise<z.output<S>> {
    const url = absoluteUrl(this.#options.host, path, options.query);
    const response = await this.#options.http.request(phase, 'GET', url, this.#headers());
    return this.#read(phase, url, response, schema, options);
  }

  /** POST a JSON body to `path` on the platform; the answer is read like `get`'s. */
  async post<S extends z.ZodType>(phase: string, path: string, body: unknown, schema: S, options: PlatformReadOptions = {}): Promise<z.output<S>> {
    const url = absoluteUrl(this.#options.host, path, options.query);
    const bytes = Buffer.from(JSON.stringify(body), 'utf8');
    const response = await this.#options.http.request(phase, 'POST', url, { ...this.#headers(), 'content-type': 'application/json' }, bytes);
    return this.#read(phase, url, response, schema, options);
  }

  #headers(): Record<string, string> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#options.apiToken}` };
    if (this.#organizationHeader !== null) headers['x-picsellia-organization'] = this.#organizationHeader;
    return headers;
  }

  /** Maps the status to a code (PROTOCOL §2.6), then parses and validates the body. */
  #read<S extends z.ZodType>(phase: string, url: URL, response: HttpResponse, schema: S, options: PlatformReadOptions): z.output<S> {
    const { query, missingIdIsNotFound = false } = options;
    const details = { phase, status: response.status, url: where(url), ...(query ?? {}) };
    const what = query?.name !== undefined ? ` "${query.name}"` : '';
    const ok = options.exactStatus !== undefined ? response.status === options.exactStatus : response.status >= 200 && response.status < 300 && response.status !== 208;
    if (!ok) {
      const message = serverMessage(response.text, this.#options.redactor);
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
}
