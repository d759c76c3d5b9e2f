import { CompressionTypes, type Kafka, Partitioners } from 'kafkajs';
import type { DataSource } from 'typeorm';

export interface BenchMessage {
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
}

/**
 * Sends `messages` to `topic` the way the pipeline's input is published in this bench (and the demo):
 * bare kafkajs, 500 messages per sendBatch, acks=all, no compression, one request in flight.
 */
export async function produce(kafka: Kafka, topic: string, messages: BenchMessage[]): Promise<number> {
  const producer = kafka.producer({ allowAutoTopicCreation: false, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const started = performance.now();
  try {
    for (let i = 0; i < messages.length; i += 500) {
      await producer.sendBatch({ acks: -1, compression: CompressionTypes.None, topicMessages: [{ topic, messages: messages.slice(i, i + 500) }] });
    }
    return performance.now() - started;
  } finally {
    await producer.disconnect();
  }
}

export interface KafkaFloor {
  produceMs: number;
  /** From the first send to the last message consumed, the consumer having joined its group before. */
  produceAndConsumeMs: number;
  bytes: number;
}

/**
 * The Kafka floor: the same messages (same key, value and header bytes) produced to a fresh topic
 * with as many partitions as the pipeline's, and consumed by one bare kafkajs consumer at the same time.
 */
export async function kafkaFloor(kafka: Kafka, topic: string, partitions: number, messages: BenchMessage[]): Promise<KafkaFloor> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: String(4 * 1024 * 1024) }] }] });
  const consumer = kafka.consumer({ groupId: `${topic}.floor`, allowAutoTopicCreation: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const joined = new Promise<void>((done) => consumer.on(consumer.events.GROUP_JOIN, () => done()));
  let consumed = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((done) => (resolveAll = done));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      consumed += batch.messages.length;
      if (consumed >= messages.length) resolveAll();
    },
  });
  await joined;
  try {
    const started = performance.now();
    const [produceMs] = await Promise.all([produce(kafka, topic, messages), all]);
    const produceAndConsumeMs = performance.now() - started;
    const bytes = messages.reduce((sum, m) => sum + m.value.length, 0);
    return { produceMs, produceAndConsumeMs, bytes };
  } finally {
    await consumer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

/** Columns of a results row, the shape the result-writer writes. */
const COLUMNS = [
  'request_id',
  'prompt_version',
  'status',
  'team',
  'repo',
  'pr_number',
  'content_hash',
  'analysis',
  'model',
  'pass',
  'attempt',
  'prompt_tokens',
  'completion_tokens',
  'cost_usd',
  'attempts',
];

/**
 * The database floor: N result-like rows (a realistic analysis as jsonb) inserted into a table shaped
 * like `results`, one multi-row INSERT of 1,000 rows per statement, each its own transaction.
 */
export async function insertFloor(dataSource: DataSource, rows: number): Promise<number> {
  await dataSource.query('CREATE TABLE bench_floor_results (LIKE results INCLUDING ALL)');
  const analysis = JSON.stringify({
    summary: 'Retries the webhook call with exponential backoff and records each attempt so operators can see why an event was late.',
    change_type: 'bugfix',
    risk_level: 'low',
    ai_assisted: true,
    ai_tools: ['CodeRabbit'],
    ai_evidence: 'coderabbitai[bot] reviewed the pull request',
    confidence: 0.82,
  });
  const started = performance.now();
  for (let from = 0; from < rows; from += 1_000) {
    const count = Math.min(1_000, rows - from);
    const params: unknown[] = [];
    const tuples: string[] = [];
    for (let i = 0; i < count; i++) {
      const n = from + i;
      const base = params.length;
      tuples.push(`(${COLUMNS.map((_, c) => `$${base + c + 1}`).join(', ')})`);
      params.push(`acme/repo-${n % 6}#${1_000 + n}`, 'v1', 'succeeded', 'payments', `acme/repo-${n % 6}`, 1_000 + n, `sha256:${n.toString(16).padStart(64, '0')}`, analysis, 'openai/gpt-oss-20b', 1, 1, 900, 260, 0.0000728, '[]');
    }
    await dataSource.query(`INSERT INTO bench_floor_results (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, params);
  }
  const ms = performance.now() - started;
  await dataSource.query('DROP TABLE bench_floor_results');
  return ms;
}
