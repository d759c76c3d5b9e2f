import { randomUUID } from 'node:crypto';
import { EventPublisher, OutboxRelay, registerStorageMetrics, TopicLimits } from '#platform';
import type { Admin } from 'kafkajs';
import pino from 'pino';
import { Registry } from 'prom-client';
import { collect, createTestDatabase, eventually, type TestDatabase, testKafka, uniqueSuffix } from '../support/infra.js';

describe('the outbox relay sized to the broker (real broker)', () => {
  let db: TestDatabase;
  let admin: Admin;
  const kafka = testKafka();
  const topic = `relay${uniqueSuffix()}.small`;
  const publisher = new EventPublisher(kafka, '');
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = kafka.admin();
    await admin.connect();
    // A topic made elsewhere, with a limit below Kafka's 1 MiB default and far below the relay's 4 MiB pass.
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '50000' }] }],
    });
  });

  afterAll(async () => {
    await publisher.disconnect();
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin?.disconnect();
    await db?.drop();
  });

  async function enqueue(key: string, bytes: number): Promise<string> {
    const eventId = randomUUID();
    await db.dataSource.query(`INSERT INTO outbox (event_id, topic, message_key, message_value, headers) VALUES ($1, $2, $3, $4, '{}')`, [
      eventId,
      topic,
      key,
      Buffer.alloc(bytes, key.charCodeAt(0)),
    ]);
    return eventId;
  }

  it('parks a row larger than the topic accepts with its reason, and delivers the rows behind it', async () => {
    const received = await collect(kafka, topic);
    try {
      const big = await enqueue('big', 80_000);
      // Each fits; together they do not: sent in two passes, never refused.
      await enqueue('half-1', 30_000);
      await enqueue('half-2', 30_000);
      await enqueue('small', 1_000);
      const sends: number[] = [];
      const counting = Object.assign(Object.create(publisher) as EventPublisher, {
        send: async (messages: Parameters<EventPublisher['send']>[0]) => {
          sends.push(messages.length);
          return publisher.send(messages);
        },
      });
      const relay = new OutboxRelay(db.dataSource, counting, new TopicLimits(admin, logger), logger, 60_000);

      expect(await relay.drain()).toBe(3);
      await eventually('the three rows behind the big one on the topic', async () =>
        received.messages.length === 3 ? received.messages.map((m) => m.key!.toString()) : undefined,
      ).then((keys) => expect(keys).toEqual(['half-1', 'half-2', 'small']));
      // The big one tried alone once; then half-1 alone (half-2 would exceed the topic's limit), then half-2 with small.
      expect(sends).toEqual([1, 1, 2]);

      const rows = await db.dataSource.query(`SELECT message_key, published_at IS NOT NULL AS sent, parked_reason FROM outbox ORDER BY id`);
      expect(rows[0]).toEqual({ message_key: 'big', sent: false, parked_reason: expect.stringMatching(/too large: 80\d{3} bytes, topic max.message.bytes 50000/) });
      expect(rows.slice(1).map((r: { sent: boolean; parked_reason: string | null }) => [r.sent, r.parked_reason])).toEqual([
        [true, null],
        [true, null],
        [true, null],
      ]);

      // One log line naming the topic, the event and its size, never the payload.
      const parked = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.eventId === big);
      expect(parked).toEqual([expect.objectContaining({ topic, eventId: big, bytes: expect.any(Number), maxMessageBytes: 50_000 })]);
      expect(lines.join('')).not.toContain('b'.repeat(100));

      // Parked rows are visible, never retried, and never pruned as sent.
      const registry = new Registry();
      registerStorageMetrics(registry, db.dataSource);
      expect(await registry.metrics()).toMatch(/cascade_outbox_parked 1\b/);
      expect(await relay.drain()).toBe(0);
      expect(sends).toHaveLength(3);
    } finally {
      await received.stop();
    }
  });
});
