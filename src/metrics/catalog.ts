/**
 * Every Prometheus metric edgewatch exposes, declared once: name, type, labels and help. The agent's
 * and the service's registries are built from these lists and the README's metrics tables are
 * generated from them. To add a metric: add an entry here, then feed it where the number is known.
 */

/** One metric's declaration. Names follow Prometheus conventions: `_total` counters, base units (`_seconds`, `_bytes`). */
export interface MetricSpec {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly labels: readonly string[];
  readonly help: string;
  /** Histogram buckets (upper bounds); prom-client's defaults otherwise. */
  readonly buckets?: readonly number[];
}

/** Buckets of a model's latency or a stage of the pipeline, in seconds: 1 ms to 10 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** The agent's metrics (`edgewatch run --metrics-port N`). */
export const AGENT_METRICS = {
  imagesSeen: {
    name: 'edgewatch_images_seen_total',
    type: 'counter',
    labels: [],
    help: 'Image files taken by the pipeline, whatever their outcome (a file handed back because it is still being written is counted when it is taken again).',
  },
  imagesMonitored: {
    name: 'edgewatch_images_monitored_total',
    type: 'counter',
    labels: ['result'],
    help: 'Champion predictions acknowledged by the monitoring service: result="stored" (201) or "already_stored" (409, a re-send).',
  },
  imagesRejected: {
    name: 'edgewatch_images_rejected_total',
    type: 'counter',
    labels: ['code'],
    help: 'Bad files set aside in rejected/, by error code (EW_IMAGE_TRUNCATED, EW_IMAGE_CORRUPT, ...).',
  },
  imagesFailed: {
    name: 'edgewatch_images_failed_total',
    type: 'counter',
    labels: ['code'],
    help: 'Images whose inference failed (e.g. EW_INFER_FAILED) or whose prediction was dead-lettered (EW_MONITOR_REJECTED), by error code.',
  },
  imagesSkipped: {
    name: 'edgewatch_images_skipped_total',
    type: 'counter',
    labels: ['reason'],
    help: 'Files not sent: reason="duplicate" (same bytes as a monitored file) or "vanished" (gone before they could be read).',
  },
  deadLetters: {
    name: 'edgewatch_dead_letters_total',
    type: 'counter',
    labels: [],
    help: 'Champion predictions the monitoring service refused for good since start (each is also in edgewatch_images_failed_total).',
  },
  outboxDeadLetters: {
    name: 'edgewatch_outbox_dead_letters',
    type: 'gauge',
    labels: [],
    help: 'Dead letters kept in the state database, this run and earlier ones (`edgewatch outbox retry` replays them).',
  },
  inferenceSeconds: {
    name: 'edgewatch_inference_seconds',
    type: 'histogram',
    labels: ['role', 'model', 'version'],
    help: 'Inference time of one image by one model (input tensor ready to output on the host); role="champion" or "shadow", version = the first 12 hex digits of the model\'s content hash.',
    buckets: LATENCY_BUCKETS,
  },
  readSeconds: {
    name: 'edgewatch_read_seconds',
    type: 'histogram',
    labels: [],
    help: 'Reading and hashing one image file.',
    buckets: LATENCY_BUCKETS,
  },
  decodeSeconds: {
    name: 'edgewatch_decode_seconds',
    type: 'histogram',
    labels: [],
    help: 'Decoding one image and resizing it to the models\' inputs.',
    buckets: LATENCY_BUCKETS,
  },
  sendSeconds: {
    name: 'edgewatch_send_seconds',
    type: 'histogram',
    labels: [],
    help: 'One monitor request, from sending it to the service\'s answer.',
    buckets: LATENCY_BUCKETS,
  },
  addedSeconds: {
    name: 'edgewatch_added_latency_seconds',
    type: 'histogram',
    labels: [],
    help: 'From a file complete to its prediction acknowledged, minus the models\' own time: what edgewatch adds.',
    buckets: LATENCY_BUCKETS,
  },
  outboxEntries: {
    name: 'edgewatch_outbox_entries',
    type: 'gauge',
    labels: [],
    help: 'Requests waiting in the outbox (champion predictions and late shadows).',
  },
  outboxBytes: {
    name: 'edgewatch_outbox_bytes',
    type: 'gauge',
    labels: [],
    help: 'Bytes of the requests waiting in the outbox.',
  },
  outboxOldestAge: {
    name: 'edgewatch_outbox_oldest_age_seconds',
    type: 'gauge',
    labels: [],
    help: 'Age of the oldest capture still in the outbox (0 when it is empty): how far behind delivery is.',
  },
  outboxFull: {
    name: 'edgewatch_outbox_full',
    type: 'gauge',
    labels: [],
    help: '1 while the outbox is at its entry or byte cap (new files wait in their folder; /readyz answers 503).',
  },
  imagesSampledOut: {
    name: 'edgewatch_images_sampled_out_total',
    type: 'counter',
    labels: ['reason'],
    help: 'Images predicted (and written to the sinks) but not sent to monitoring by --sample: reason="sampled" (the draw) or "cap" (the per-minute guard).',
  },
  sinkRecords: {
    name: 'edgewatch_sink_records_total',
    type: 'counter',
    labels: ['sink', 'result'],
    help: 'Records of each result sink since start: result="delivered", "dead" (moved to the sink\'s dead letters) or "dropped" (backlog over --sink-max-pending, EW_SINK_BACKLOG).',
  },
  sinkPending: {
    name: 'edgewatch_sink_pending',
    type: 'gauge',
    labels: ['sink'],
    help: 'Records waiting in each result sink\'s queue in the state database (sidecar, jsonl, webhook, mqtt).',
  },
  shadowDeferred: {
    name: 'edgewatch_shadow_deferred_total',
    type: 'counter',
    labels: [],
    help: 'Champion predictions sent alone because the shadow was behind (the shadow\'s follows as a late shadow).',
  },
  shadowLate: {
    name: 'edgewatch_shadow_late_total',
    type: 'counter',
    labels: [],
    help: 'Late shadow predictions acknowledged by the monitoring service.',
  },
  shadowShed: {
    name: 'edgewatch_shadow_shed_total',
    type: 'counter',
    labels: [],
    help: 'Shadow predictions given up (lag bound, shadow inference failed, file gone, champion refused); never the champion\'s.',
  },
  watchedFolders: {
    name: 'edgewatch_watched_folders',
    type: 'gauge',
    labels: [],
    help: 'Folders the agent is configured to watch.',
  },
  watchedFoldersUp: {
    name: 'edgewatch_watched_folders_up',
    type: 'gauge',
    labels: [],
    help: 'Watched folders that exist and are watched now (a folder that vanished is watched again once it is back).',
  },
  deploymentResolved: {
    name: 'edgewatch_deployment_resolved',
    type: 'gauge',
    labels: [],
    help: '1 once the deployment is known (from the platform or its cached copy); 0 while the agent predicts and queues offline.',
  },
  backend: {
    name: 'edgewatch_backend_info',
    type: 'gauge',
    labels: ['backend'],
    help: 'Always 1; the TF.js backend running the models (tensorflow, wasm or cpu).',
  },
  modelInfo: {
    name: 'edgewatch_model_info',
    type: 'gauge',
    labels: ['role', 'model', 'version', 'execution'],
    help: 'Always 1, one series per loaded model: its role, name, version (content hash prefix) and execution (fused, layers or graph).',
  },
  modelWorkers: {
    name: 'edgewatch_model_workers',
    type: 'gauge',
    labels: ['role'],
    help: 'Model worker threads by what they hold: role="all" (the champion and the shadow) or "champion" (the champion only).',
  },
  championInterruptions: {
    name: 'edgewatch_champion_interruptions_total',
    type: 'counter',
    labels: [],
    help: 'Champion predictions that started inside a running shadow prediction, between two of its kernels (the shadow paused meanwhile), since the models were loaded.',
  },
  modelLoadSeconds: {
    name: 'edgewatch_model_load_seconds',
    type: 'gauge',
    labels: [],
    help: 'Time the models took to load and warm up at start (worker calibration included).',
  },
} as const satisfies Record<string, MetricSpec>;

/** The embedded service's metrics (`edgewatch serve --metrics-port N`, or `/metrics` on its own port with the API token). */
export const SERVICE_METRICS = {
  requests: {
    name: 'edgewatch_server_requests_total',
    type: 'counter',
    labels: ['method', 'route', 'status'],
    help: 'Requests answered, by method, route (the path template, e.g. /api/deployment/{id}/predictions, never a raw id) and status code.',
  },
  requestSeconds: {
    name: 'edgewatch_server_request_duration_seconds',
    type: 'histogram',
    labels: ['method', 'route'],
    help: 'Time to answer a request, by method and route template.',
    buckets: LATENCY_BUCKETS,
  },
  ingestSeconds: {
    name: 'edgewatch_server_ingest_seconds',
    type: 'histogram',
    labels: ['call'],
    help: 'Time to answer a monitor call (call="monitor": POST .../predictions; "late_shadow": POST /api/prediction/{id}/shadow): checks, image write, insert.',
    buckets: LATENCY_BUCKETS,
  },
  predictionsReceived: {
    name: 'edgewatch_server_predictions_received_total',
    type: 'counter',
    labels: ['deployment', 'result'],
    help: 'Monitor calls by deployment name and result: "stored" (201), "duplicate" (409), "refused" (4xx), "unavailable" (503: disk low or shutting down), "error" (other 5xx).',
  },
  predictionsStored: {
    name: 'edgewatch_server_predictions',
    type: 'gauge',
    labels: ['deployment'],
    help: 'Predictions stored per deployment name (counted from the database at most once a minute).',
  },
  datalakeBytes: {
    name: 'edgewatch_server_datalake_bytes',
    type: 'gauge',
    labels: [],
    help: 'Bytes of the images stored in the datalake (kept by the database, not by walking the folder).',
  },
  diskFreeBytes: {
    name: 'edgewatch_server_disk_free_bytes',
    type: 'gauge',
    labels: [],
    help: 'Free bytes of the data folder\'s disk (statfs, measured at most once a second).',
  },
  diskMinFreeBytes: {
    name: 'edgewatch_server_disk_min_free_bytes',
    type: 'gauge',
    labels: [],
    help: 'The floor (--min-free-gb) below which monitor calls are answered 503; 0 when the check is off.',
  },
  inFlight: {
    name: 'edgewatch_server_requests_in_flight',
    type: 'gauge',
    labels: [],
    help: 'Requests being handled now.',
  },
} as const satisfies Record<string, MetricSpec>;

/** Both lists, for the README and the tests. */
export const METRIC_CATALOGUE = { agent: AGENT_METRICS, service: SERVICE_METRICS } as const;
