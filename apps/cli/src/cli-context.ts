import { createKafka, openDatabase, parseEnv, baseServiceEnv } from '#platform';
import type { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { z } from 'zod';

/** What the CLI reads from the environment: the same variables as the services. */
export const cliEnv = baseServiceEnv
  .pick({ KAFKA_BROKERS: true, KAFKA_TOPIC_PREFIX: true, DATABASE_URL: true })
  .extend({
    STAGE_DEADLINE_MS: z.coerce.number().int().positive().default(26 * 60 * 60 * 1000),
  });
export type CliEnv = z.infer<typeof cliEnv>;

export function cliConfig(): CliEnv {
  return parseEnv(cliEnv);
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
