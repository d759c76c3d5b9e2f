/**
 * Every metric Cascade exports, defined once: the code that registers a metric takes its name, help and labels
 * from here (`promConfig`), and the dashboard and alert rules in `deploy/` are checked against this list.
 *
 * `exportedBy`: `every` service (the shared platform registers it), or the one service that does.
 * `acrossReplicas`: how Prometheus must combine the series of several replicas. `sum` for a per-process
 * counter; `max` for a value every replica reads from the same database or broker (summing it would count it
 * once per replica).
 */
export interface MetricDefinition<L extends string = string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly type: 'counter' | 'gauge';
  readonly exportedBy: 'every' | 'poller';
  readonly acrossReplicas: 'sum' | 'max';
}

function metric<const L extends string>(definition: MetricDefinition<L>): MetricDefinition<L> {
  return definition;
}

export const METRICS = {
  consumerLag: metric({
    name: 'cascade_consumer_lag',
    help: 'Messages not yet consumed by this service group, per topic and partition.',
    labelNames: ['group', 'topic', 'partition'],
    type: 'gauge',
    exportedBy: 'every',
    acrossReplicas: 'max',
  }),
  eventsConsumed: metric({
    name: 'cascade_events_consumed_total',
    help: 'Events consumed, by topic and outcome (processed, duplicate, dead-lettered).',
    labelNames: ['topic', 'outcome'],
    type: 'counter',
    exportedBy: 'every',
    acrossReplicas: 'sum',
  }),
  deadLetters: metric({
    name: 'cascade_dead_letters_total',
    help: 'Messages sent to a dead-letter topic, by source topic and reason (invalid, refused, handler_failed).',
    labelNames: ['topic', 'reason'],
    type: 'counter',
    exportedBy: 'every',
    acrossReplicas: 'sum',
  }),
  deadLettersWaiting: metric({
    name: 'cascade_dead_letters_waiting',
    help: 'Dead letters not yet re-driven (dead_letters rows without redriven_at).',
    labelNames: [],
    type: 'gauge',
    exportedBy: 'every',
    acrossReplicas: 'max',
  }),
  tableRows: metric({
    name: 'cascade_table_rows',
    help: 'Estimated rows per table (pg_class.reltuples).',
    labelNames: ['table'],
    type: 'gauge',
    exportedBy: 'every',
    acrossReplicas: 'max',
  }),
  tableBytes: metric({
    name: 'cascade_table_bytes',
    help: 'Bytes per table, indexes and TOAST included (pg_total_relation_size).',
    labelNames: ['table'],
    type: 'gauge',
    exportedBy: 'every',
    acrossReplicas: 'max',
  }),
  outboxPending: metric({
    name: 'cascade_outbox_pending',
    help: 'Outbox rows committed but not yet published (parked rows excluded).',
    labelNames: [],
    type: 'gauge',
    exportedBy: 'every',
    acrossReplicas: 'max',
  }),
  outboxParked: metric({
    name: 'cascade_outbox_parked',
    help: 'Outbox rows the broker refused for good (e.g. larger than the topic accepts): never sent until an operator releases them.',
    labelNames: [],
    type: 'gauge',
    exportedBy: 'every',
    acrossReplicas: 'max',
  }),
  retentionDeleted: metric({
    name: 'cascade_retention_deleted_total',
    help: 'Rows deleted by the retention sweep, by table.',
    labelNames: ['table'],
    type: 'counter',
    exportedBy: 'every',
    acrossReplicas: 'sum',
  }),
  batchesInFlight: metric({
    name: 'cascade_batches_in_flight',
    help: 'Batches at the provider (state submitted) that the poller has not finished, by model and provider.',
    labelNames: ['model', 'provider'],
    type: 'gauge',
    exportedBy: 'poller',
    acrossReplicas: 'max',
  }),
  batchesInFlightOlderThan: metric({
    name: 'cascade_batches_in_flight_older_than',
    help: 'Batches at the provider submitted longer ago than `age` (1h, 6h, 24h), by model and provider.',
    labelNames: ['model', 'provider', 'age'],
    type: 'gauge',
    exportedBy: 'poller',
    acrossReplicas: 'max',
  }),
  batchOldestAge: metric({
    name: 'cascade_batch_oldest_age_seconds',
    help: 'Seconds since the oldest batch still at the provider was submitted, by model and provider.',
    labelNames: ['model', 'provider'],
    type: 'gauge',
    exportedBy: 'poller',
    acrossReplicas: 'max',
  }),
  batchCompletionWindow: metric({
    name: 'cascade_batch_completion_window_seconds',
    help: 'How long each provider has to finish a batch (GROQ_COMPLETION_WINDOW; 24h for OpenAI and Anthropic).',
    labelNames: ['provider'],
    type: 'gauge',
    exportedBy: 'poller',
    acrossReplicas: 'max',
  }),
  requestAttempts: metric({
    name: 'cascade_request_attempts_total',
    help: 'Request lines of finished batches, by model, pass and outcome (succeeded, failed).',
    labelNames: ['model', 'pass', 'outcome'],
    type: 'counter',
    exportedBy: 'poller',
    acrossReplicas: 'sum',
  }),
  requestFailures: metric({
    name: 'cascade_request_failures_total',
    help: 'Failed request lines of finished batches, by model, pass and error code.',
    labelNames: ['model', 'pass', 'code'],
    type: 'counter',
    exportedBy: 'poller',
    acrossReplicas: 'sum',
  }),
  requestsStranded: metric({
    name: 'cascade_requests_stranded',
    help: 'In-flight requests that can no longer move by themselves (the rules of cascade reconcile).',
    labelNames: [],
    type: 'gauge',
    exportedBy: 'poller',
    acrossReplicas: 'max',
  }),
  requestsStuck: metric({
    name: 'cascade_requests_stuck',
    help: 'Pending or in-flight requests past their stage deadline (the rules of cascade reconcile).',
    labelNames: [],
    type: 'gauge',
    exportedBy: 'poller',
    acrossReplicas: 'max',
  }),
  spend: metric({
    name: 'cascade_spend_usd',
    help: 'Spend of the current UTC day by model: billed for finished batches, reserved (the worst case) for open ones.',
    labelNames: ['model', 'basis'],
    type: 'gauge',
    exportedBy: 'poller',
    acrossReplicas: 'max',
  }),
  spendBudget: metric({
    name: 'cascade_spend_budget_usd',
    help: 'DAILY_SPEND_BUDGET_USD: USD per UTC day across models (absent when unset).',
    labelNames: [],
    type: 'gauge',
    exportedBy: 'poller',
    acrossReplicas: 'max',
  }),
} as const;

export type MetricKey = keyof typeof METRICS;

/** The part of a definition prom-client takes. */
export function promConfig<L extends string>(definition: MetricDefinition<L>): { name: string; help: string; labelNames: readonly L[] } {
  return { name: definition.name, help: definition.help, labelNames: definition.labelNames };
}

/** Every exported metric, by name. */
export function metricDefinitions(): MetricDefinition[] {
  return Object.values(METRICS);
}
