import { promptRegistryFrom, submissionEnv } from '#batching';
import { allTopicSpecs, baseServiceEnv, createKafka, ensureTopics, openDatabase, parseEnv } from '#platform';
import type { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { z } from 'zod';

/** What the CLI reads from the environment: the same variables as the services. */
export const cliEnv = baseServiceEnv
  .pick({ KAFKA_BROKERS: true, KAFKA_TOPIC_PREFIX: true, KAFKA_PARTITIONS: true, KAFKA_TOPIC_PARTITIONS: true, KAFKA_REPLICATION_FACTOR: true, DATABASE_URL: true })
  .extend({
    // The ledger's settings, as the services read them.
    STAGE_DEADLINE_MS: submissionEnv.shape.STAGE_DEADLINE_MS,
    STRANDED_AFTER_MS: submissionEnv.shape.STRANDED_AFTER_MS,
    PROMPT_VERSION: submissionEnv.shape.PROMPT_VERSION,
    PROMPTS_DIR: submissionEnv.shape.PROMPTS_DIR,
    // For each provider the chain names, set: `run` and `demo` use its Batch API; unset: its local simulator
    // (the services get a placeholder key). See `providerRoutes`.
    GROQ_API_KEY: submissionEnv.shape.GROQ_API_KEY.optional(),
    OPENAI_API_KEY: submissionEnv.shape.OPENAI_API_KEY.optional(),
    ANTHROPIC_API_KEY: submissionEnv.shape.ANTHROPIC_API_KEY.optional(),
    // The report's strong model (the last of the chain) and its price, as the dashboard reads them.
    MODEL_CHAIN: submissionEnv.shape.MODEL_CHAIN,
    MODEL_PRICES_JSON: submissionEnv.shape.MODEL_PRICES_JSON,
    // `status` shows today's spend against it.
    DAILY_SPEND_BUDGET_USD: submissionEnv.shape.DAILY_SPEND_BUDGET_USD,
  });
export type CliEnv = z.infer<typeof cliEnv>;

export function cliConfig(): CliEnv {
  const env = parseEnv(cliEnv);
  // As at a service's boot: PROMPT_VERSION must name a version of PROMPTS_DIR.
  promptRegistryFrom(env);
  return env;
}

export async function withDatabase<T>(work: (dataSource: DataSource, env: CliEnv) => Promise<T>): Promise<T> {
  const env = cliConfig();
  const dataSource = await openDatabase(env.DATABASE_URL, 2);
  try {
    return await work(dataSource, env);
  } finally {
    await dataSource.destroy();
  }
}

export function cliKafka(env: CliEnv): Kafka {
  return createKafka('cascade-cli', env.KAFKA_BROKERS);
}

/** Exit codes: 0 fine, 1 the check found a problem, 2 bad usage or input. */
export function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

/** Publishing before any service ran: create the topics the services would create (never broker auto-create). */
export async function ensureCliTopics(kafka: Kafka, env: CliEnv): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, allTopicSpecs(env.KAFKA_TOPIC_PREFIX, env.KAFKA_PARTITIONS, env.KAFKA_TOPIC_PARTITIONS), env.KAFKA_REPLICATION_FACTOR);
  } finally {
    await admin.disconnect();
  }
}
