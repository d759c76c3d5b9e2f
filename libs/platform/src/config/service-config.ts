import { ALL_TOPICS, type Topic } from '#contracts';
import { z } from 'zod';
import { tracingEnv } from '../tracing/tracing-env.js';

/** A bad or missing environment variable: the message names it and says what was expected. */
export class ConfigError extends Error {
  constructor(readonly variable: string, detail: string) {
    super(`Invalid configuration: ${variable} ${detail}`);
    this.name = 'ConfigError';
  }
}

const csv = z
  .string()
  .transform((value) => value.split(',').map((part) => part.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port')).min(1));

const port = z.coerce.number().int().min(0).max(65_535);
const flag = z.enum(['true', 'false']).transform((value) => value === 'true');

/** Host names a browser may send to a loopback-bound server; anything else is a rebound DNS name. */
const hostNames = z
  .string()
  .transform((value) => value.split(',').map((part) => part.trim().toLowerCase()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/, 'must be host names (no ports), comma-separated')));

/** Addresses only this machine can reach: the ops HTTP server may run without tokens there. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);
export const isLoopbackHost = (host: string): boolean => LOOPBACK_HOSTS.has(host.toLowerCase());
const positiveInt = z.coerce.number().int().positive();
/** Decimals allowed: a retention may be shorter than its unit (the soak bench prunes within a minute). */
const positiveNumber = z.coerce.number().positive();

/** `pr.ingested.v1=12,batch.completed.v1=3`: partitions per contract topic, over KAFKA_PARTITIONS. */
const topicPartitions = z
  .string()
  .optional()
  .transform((text, ctx) => {
    const counts: Partial<Record<Topic, number>> = {};
    for (const entry of (text ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
      const [name, value] = entry.split('=').map((part) => part.trim());
      if (!ALL_TOPICS.includes(name as Topic)) {
        ctx.addIssue({ code: 'custom', message: `unknown topic "${name}" (known: ${ALL_TOPICS.join(', ')})` });
        continue;
      }
      const count = Number(value);
      if (!Number.isInteger(count) || count < 1) {
        ctx.addIssue({ code: 'custom', message: `partitions of ${name} must be a positive integer, got "${value ?? ''}"` });
        continue;
      }
      counts[name as Topic] = count;
    }
    return counts;
  });

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/cascade';

/** What every service reads; each app extends it with its own variables. */
export const baseServiceEnv = z.object({
  KAFKA_BROKERS: csv.default(['127.0.0.1:9092']),
  KAFKA_TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9._-]*$/, 'may only contain letters, digits, ".", "_" and "-"').default(''),
  KAFKA_PARTITIONS: positiveInt.default(6),
  KAFKA_TOPIC_PARTITIONS: topicPartitions,
  KAFKA_REPLICATION_FACTOR: positiveInt.default(1),
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
  KAFKA_GROUP_ID: z.string().min(1).optional(),
  KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY: positiveInt.default(1),
  /** How long the broker waits for a silent member (a crashed replica) before moving its partitions. */
  KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).max(300_000).default(30_000),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default(DEFAULT_DATABASE_URL),
  DATABASE_POOL_SIZE: positiveInt.default(10),
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  HTTP_PORT: port.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** The one retry budget of a failing effect (integrity violations included) before its event is dead-lettered. */
  CONSUMER_MAX_HANDLER_ATTEMPTS: positiveInt.default(3),
  OUTBOX_POLL_MS: positiveInt.default(200),
  /** Sent outbox rows are kept this long (for an operator's look), then deleted by the retention sweep. */
  OUTBOX_RETENTION_HOURS: positiveNumber.default(24),
  /** Inbox ids are kept this long: longer than any topic keeps a message (see README, Retention). */
  INBOX_RETENTION_DAYS: positiveNumber.default(14),
  /** At most one retention sweep per service this often. */
  RETENTION_SWEEP_MS: z.coerce.number().int().min(1_000).default(600_000),
  /** Write scope (pause, retry, cancel, clear); also grants read. */
  OPS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Read scope: the data routes when the server is bound off loopback. */
  OPS_READ_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Explicit opt-out of the off-loopback token requirement (a trusted network in front). */
  OPS_ALLOW_UNAUTHENTICATED: flag.default(false),
  /** Extra `Host` names accepted on a loopback-bound server (a local proxy's name), besides 127.0.0.1, localhost and [::1]. */
  OPS_ALLOWED_HOSTS: hostNames.default([]),
  /** The standard OpenTelemetry variables (tracing is off unless they name an exporter or endpoint). */
  ...tracingEnv.shape,
});
export type BaseServiceEnv = z.infer<typeof baseServiceEnv>;

/** The schema a service parses its environment with: the shared variables and its own (`schema`). */
export function serviceEnvSchema<S extends z.ZodObject>(schema: S) {
  return baseServiceEnv.extend(schema.shape);
}

/** Every variable a service reads: what a deployment of it may set (`test/deploy` checks the manifests against it). */
export function serviceEnvVariables(schema: z.ZodObject): string[] {
  return Object.keys(serviceEnvSchema(schema).shape);
}

export interface ServiceIdentity {
  /** e.g. `batch-submitter`: names the consumer group, the client id and the logs. */
  name: string;
  defaultHttpPort: number;
}

export interface ServiceConfig<E extends BaseServiceEnv = BaseServiceEnv> {
  service: string;
  env: E;
  kafka: {
    brokers: string[];
    clientId: string;
    groupId: string;
    topicPrefix: string;
    partitions: number;
    /** Per-topic overrides of `partitions`. */
    topicPartitions: Partial<Record<Topic, number>>;
    replicationFactor: number;
    partitionsConsumedConcurrently: number;
    sessionTimeoutMs: number;
  };
  http: {
    host: string;
    port: number;
    /** Bound to loopback: reads are open and the `Host` header is checked; otherwise reads need a token. */
    loopback: boolean;
  };
}

/** The default consumer group of a service: one per topic prefix, so environments never share offsets. */
export function consumerGroupOf(service: string, topicPrefix: string): string {
  return `${topicPrefix}cascade-${service}`;
}

/** Parses `source` with `schema`; the first problem stops the service with the variable's name. */
export function parseEnv<S extends z.ZodType>(schema: S, source: NodeJS.ProcessEnv = process.env): z.infer<S> {
  // Empty strings count as unset, so `FOO=` in a .env file means "use the default".
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = issue.path.map(String).join('.') || '(environment)';
    // Never echo the received value: it may be a secret.
    throw new ConfigError(variable, issue.message.replace(/, received .*$/, ''));
  }
  return parsed.data;
}

export function loadServiceConfig<S extends z.ZodObject>(
  identity: ServiceIdentity,
  schema: S,
  source: NodeJS.ProcessEnv = process.env,
): ServiceConfig<z.infer<S> & BaseServiceEnv> {
  const env = parseEnv(serviceEnvSchema(schema), source) as z.infer<S> & BaseServiceEnv;
  const loopback = isLoopbackHost(env.HTTP_HOST);
  // Fail closed: a server others can reach never runs its ops routes without a token by accident.
  if (!loopback && !env.OPS_TOKEN && !env.OPS_ALLOW_UNAUTHENTICATED) {
    throw new ConfigError(
      'OPS_TOKEN',
      'is required when HTTP_HOST is not a loopback address (127.0.0.1, ::1, localhost); set OPS_TOKEN (16+ characters), bind to loopback, or set OPS_ALLOW_UNAUTHENTICATED=true explicitly',
    );
  }
  return {
    service: identity.name,
    env,
    kafka: {
      brokers: env.KAFKA_BROKERS,
      clientId: env.KAFKA_CLIENT_ID ?? `cascade-${identity.name}`,
      groupId: env.KAFKA_GROUP_ID ?? consumerGroupOf(identity.name, env.KAFKA_TOPIC_PREFIX),
      topicPrefix: env.KAFKA_TOPIC_PREFIX,
      partitions: env.KAFKA_PARTITIONS,
      topicPartitions: env.KAFKA_TOPIC_PARTITIONS,
      replicationFactor: env.KAFKA_REPLICATION_FACTOR,
      partitionsConsumedConcurrently: env.KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY,
      sessionTimeoutMs: env.KAFKA_SESSION_TIMEOUT_MS,
    },
    http: { host: env.HTTP_HOST, port: env.HTTP_PORT ?? identity.defaultHttpPort, loopback },
  };
}
