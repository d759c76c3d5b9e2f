import { randomBytes } from 'node:crypto';
import { createDataSource, dropDatabase, ensureDatabaseExists, runMigrations } from '#platform';
import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';

export { freePort } from './ports.js';
export { eventually, type EventuallyOptions, GiveUp, isFailedAssertion, isNotThereYet } from './eventually.js';

export const BASE_DATABASE_URL = process.env.CASCADE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function brokers(): string[] {
  return (process.env.KAFKA_BROKERS ?? '127.0.0.1:29092').split(',');
}

export function uniqueSuffix(): string {
  return randomBytes(4).toString('hex');
}

export interface TestDatabase {
  url: string;
  dataSource: DataSource;
  drop(): Promise<void>;
}

/** A database of its own for one test file, created and migrated with the real migrations. */
export async function createTestDatabase(name = `cascade_test_${uniqueSuffix()}`): Promise<TestDatabase> {
  const url = new URL(BASE_DATABASE_URL);
  url.pathname = `/${name}`;
  await ensureDatabaseExists(url.toString());
  const dataSource = createDataSource(url.toString(), 4);
  await dataSource.initialize();
  await runMigrations(dataSource);
  return {
    url: url.toString(),
    dataSource,
    async drop() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await dropDatabase(url.toString());
    },
  };
}

export function testKafka(clientId = `test-${uniqueSuffix()}`): Kafka {
  return new Kafka({ clientId, brokers: brokers(), logLevel: logLevel.NOTHING });
}

/** Collects every message of `topic` from the beginning, for assertions. */
export async function collect(kafka: Kafka, topic: string): Promise<{ messages: KafkaMessage[]; stop: () => Promise<void> }> {
  const messages: KafkaMessage[] = [];
  const consumer: Consumer = kafka.consumer({ groupId: `collector-${uniqueSuffix()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      messages.push(message);
    },
  });
  return { messages, stop: () => consumer.disconnect() };
}

/**
 * Redis for quota counters shared by a test's services, under a key prefix of the test's own (deleted after
 * the file). `redis()` is a client for looking at the counters.
 */
export function useQuotaRedis(): { url: string; keyPrefix: string; redis(): Redis } {
  const url = process.env.CASCADE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const keyPrefix = `test-${uniqueSuffix()}`;
  let client: Redis | null = null;
  beforeAll(() => {
    client = new Redis(url);
  });
  afterAll(async () => {
    const keys = await client!.keys(`${keyPrefix}:*`);
    if (keys.length) await client!.del(...keys);
    client!.disconnect();
  });
  return {
    url,
    keyPrefix,
    redis: () => {
      if (!client) throw new Error('useQuotaRedis: the client exists inside tests only');
      return client;
    },
  };
}
