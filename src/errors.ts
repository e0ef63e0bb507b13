/** The error catalogue: every failure edgewatch reports has a stable `EW_*` code listed here. */

/** Stable error codes with a one-line meaning each (the README table is checked against this). */
export const ERROR_CODES = {
  // configuration and start-up
  EW_CONFIG_INVALID: 'A configuration value (flag, EDGEWATCH_* variable or config file key) is invalid.',
  EW_CONFIG_FILE: 'The --config file cannot be read or is not valid JSON.',
  EW_USAGE: 'The command line cannot be understood (unknown command or flag).',
  // watch stage
  EW_WATCH_FOLDER: 'A watched folder does not exist or cannot be read (at start: exit 2; while running: logged, and watched again once it is back).',
  EW_WATCH_VANISHED: 'A file disappeared between being seen and being read.',
  // read stage (bad images)
  EW_IMAGE_EMPTY: 'The file is zero bytes long.',
  EW_IMAGE_UNSUPPORTED: 'The file is not an image format sharp can read.',
  EW_IMAGE_CORRUPT: 'The image data is corrupt and cannot be decoded.',
  EW_IMAGE_TRUNCATED: 'The image file ends early (incomplete or truncated).',
  EW_IMAGE_TOO_LARGE: 'The image exceeds the pixel or byte limit (possible decompression bomb).',
  EW_IMAGE_UNREADABLE: 'The file exists but cannot be read (permissions or I/O error).',
  EW_IMAGE_SYMLINK: 'The file was replaced by a symbolic link between being seen and being read, and --follow-symlinks is off: the link is not followed (set aside as a bad file).',
  EW_REJECT_MOVE: 'A rejected file could not be moved to the rejected folder.',
  // models and inference
  EW_MODEL_LOAD: 'A model folder is missing, incomplete or not a TF.js model.',
  EW_MODEL_MANIFEST: 'A model manifest (edgewatch.json or metadata.json) is missing or invalid.',
  EW_MODEL_INPUT: 'The model input shape is not an image input this manifest can feed.',
  EW_MODEL_OUTPUT: 'The model output cannot be decoded as the manifest says.',
  EW_BACKEND: 'No TF.js backend could be initialised.',
  EW_INFER_FAILED: 'Inference failed for one image.',
  EW_INFER_CANCELLED: 'A queued prediction was cancelled before a model host started it (e.g. shadow work shed); it never ran.',
  EW_WORKER_CRASHED: 'A model worker thread exited unexpectedly.',
  EW_MODEL_DOWNLOAD: 'A model file of the deployment could not be downloaded, or its size does not match (logged; the running models stay in place).',
  EW_MODEL_ZIP_UNSAFE: 'A model zip was refused: an entry escapes the folder, is a symlink, or the zip has too many entries or unpacks too large.',
  EW_MODEL_NOT_TFJS: 'The model file is not a TF.js model (e.g. a SavedModel, .h5, ONNX): convert it with tensorflowjs_converter and push the model.json folder.',
  EW_MODEL_FILE_MISSING: 'The deployment\'s model version has no model file of the name --model-file-name asks for.',
  EW_MODEL_SWAP_FAILED: 'A new champion or shadow could not be loaded or warmed up: the running models stay in place; it is tried again on the next change.',
  EW_RELOAD_NO_AGENT: '`edgewatch reload` found no running agent for this state folder (no pid file, or its process is gone).',
  EW_SHADOW_LAG: 'Shadow work was shed: the shadow fell further behind the champion than --shadow-max-lag allows (the champion is never affected).',
  // monitoring client
  EW_MONITOR_CONNECT: 'The platform or monitoring service cannot be reached.',
  EW_MONITOR_AUTH: 'The API token was refused by the platform or the monitoring service.',
  EW_MONITOR_NOT_FOUND: 'The organization or deployment does not exist on the platform.',
  EW_MONITOR_NOT_ENABLED: 'The deployment has no monitoring service (oracle_host is null).',
  EW_MONITOR_TYPE_MISMATCH: 'The deployment type does not match the models\' task.',
  EW_MONITOR_HTTP: 'The monitoring service answered with an unexpected HTTP status.',
  EW_MONITOR_REJECTED: 'The monitoring service rejected a prediction permanently (400, 422, 500...).',
  EW_MONITOR_TIMEOUT: 'A request to the platform or monitoring service timed out.',
  EW_MONITOR_PROTOCOL: 'A response did not have the shape the Picsellia protocol requires.',
  EW_CLOCK_SKEW: 'This box\'s clock differs from the platform\'s or service\'s (its Date header) by more than allowed, or the service refused a prediction\'s timestamp: fix the clock (NTP); see README "The agent\'s clock" for what happens to the predictions it refused.',
  EW_MONITOR_REDIRECT: 'The platform or monitoring service answered a redirect (3xx): its URL, path prefix or a proxy is misconfigured. Sending pauses; nothing is dead-lettered.',
  // ledger / outbox
  EW_STORE_OPEN: 'The state database cannot be opened or created.',
  EW_STORE_FULL: 'The outbox is full (entry or byte cap reached); new files wait in the folder.',
  EW_DISK_FULL: 'The disk is full: state cannot be persisted.',
  EW_STORE_CORRUPT: 'A record in the state database cannot be read back (e.g. the cached deployment); the message says which and how to clear it.',
  // result sinks
  EW_SINK_BACKLOG: 'A sink\'s backlog reached --sink-max-pending: its oldest records were dropped and counted (monitoring is not affected).',
  EW_SINK_WRITE: 'A local sink (sidecar or JSONL) could not write a record (disk full, permissions): it is retried with backoff.',
  EW_SINK_HTTP: 'The webhook sink could not be reached or answered an error status: retried with backoff (5xx, 408, 429, network), or dead-lettered at once (other 4xx).',
  EW_SINK_MQTT: 'The MQTT sink\'s broker is unreachable or did not acknowledge a publish: retried with backoff.',
  EW_SINK_DEAD: 'A sink record failed --sink-max-attempts times or was refused for good: it is in that sink\'s dead letters (edgewatch outbox does not resend it).',
  // embedded service
  EW_SERVER_LISTEN: 'The embedded monitoring service cannot listen on the requested host/port.',
  EW_SERVER_CONFIG: 'The embedded service configuration is invalid.',
  EW_SERVER_DISK_LOW: 'The disk of the embedded service\'s data folder has less free space than minFreeGb (or is full): monitor calls are answered 503 with Retry-After until space is freed.',
  EW_SERVER_RETENTION: 'A retention pass of the embedded service could not delete a datalake file or finish (logged; the next pass, within the hour, tries again).',
  EW_STORE_CHECKPOINT: 'A background WAL checkpoint of the embedded service\'s SQLite database failed (logged as a warning, not fatal): the writer then checkpoints on commits once the WAL passes 16 MiB; check the data folder\'s disk.',
  EW_SERVER_DATABASE: 'The service\'s PostgreSQL database (--database postgres://...) cannot be reached or refused a query: at start the service exits 2; while running, calls are answered 503 with Retry-After (agents keep the prediction and retry).',
  // metrics and health
  EW_METRICS_LISTEN: 'The metrics port (--metrics-port, --metrics-host) cannot be bound: choose another port or host, or leave --metrics-port unset.',
  // models pull
  EW_PULL_FAILED: 'Fetching or extracting a pretrained model package failed.',
  EW_PULL_VERIFY: 'A pulled model failed its size or hash verification.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error class of edgewatch: branch on `code`, never on `message`. */
export class EdgewatchError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable facts (file path, HTTP status, config key...). Never holds secrets. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EdgewatchError';
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}

/** True when `err` is an EdgewatchError, optionally with the given code. */
export function isEdgewatchError(err: unknown, code?: ErrorCode): err is EdgewatchError {
  return err instanceof EdgewatchError && (code === undefined || err.code === code);
}

/** Exit codes of the CLI. The comment of each is its row in the README's "Exit codes" table (generated from here). */
export const EXIT = {
  /** Success (with `--once`: everything delivered; rejected bad files do not count as failures). */
  OK: 0,
  /**
   * With `--once`: something failed (inference error, dead letter), stayed undelivered, or a stop was
   * requested before the end; rejected bad files do not count. `models pull`: a pull failed. Also an unexpected error.
   */
  FAILURES: 1,
  /** Configuration, command line, model, folder or port problem, or a deployment that cannot be used: fix and re-run. */
  CONFIG: 2,
  /** Forced stop (a second Ctrl+C or SIGTERM); the outbox keeps everything not yet sent. */
  FORCED: 130,
} as const;
