import { createEvent, Topic } from '#contracts';
import { samplePayloads } from '#contracts/testing';
import { bootstrapService, type RunningService } from '#platform';
import { Partitioners, type Producer } from 'kafkajs';
import { batchSubmitterService } from '../../apps/batch-submitter/src/batch-submitter.definition.js';
import { waitForConsumed, waitForProcessed } from '../support/consumption.js';
import { collect, createTestDatabase, eventually, type TestDatabase, testKafka, uniqueSuffix } from '../support/infra.js';

const prefix = `t${uniqueSuffix()}.`;

describe('the consumer edge on a real broker (batch-submitter)', () => {
  let db: TestDatabase;
  let service: RunningService;
  let producer: Producer;
  const kafka = testKafka();
  const topic = `${prefix}${Topic.PrIngested}`;
  const base = samplePayloads()[Topic.PrIngested];

  beforeAll(async () => {
    db = await createTestDatabase();
    service = await bootstrapService(batchSubmitterService, {
      ...process.env,
      DATABASE_URL: db.url,
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_GROUP_ID: `submitter-${prefix}`,
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      BATCH_LINGER_MS: '3600000',
      GROQ_API_KEY: 'fake-inbox-test-key',
      GROQ_BASE_URL: 'http://127.0.0.1:9',
    });
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await service?.app.close();
    await db?.drop();
  });

  function valid(requestId: string) {
    return createEvent(Topic.PrIngested, { ...base, requestId }, { correlationId: `corr-${requestId}`, producer: 'inbox-test' });
  }

  it('delivers a valid event to the handler with its envelope intact', async () => {
    const event = valid('acme/api#1');
    await producer.send({ topic, messages: [{ key: 'acme/api#1', value: JSON.stringify(event) }] });
    const row = await eventually('the request row', async () => {
      const rows = await db.dataSource.query(`SELECT correlation_id, team, repo, pr_number, status FROM requests WHERE request_id = $1`, [
        'acme/api#1',
      ]);
      return rows[0];
    });
    expect(row).toEqual({ correlation_id: event.correlationId, team: base.team, repo: base.repo, pr_number: base.prNumber, status: 'pending' });
    const [processed] = await db.dataSource.query(`SELECT event_id, topic FROM processed_events`);
    expect(processed).toEqual({ event_id: event.eventId, topic });
  });

  it('dead-letters a missing field, non-JSON and a 2 MB message with reasons, and keeps consuming', async () => {
    const dlq = await collect(kafka, `${topic}.dlq`);
    try {
      const missing = valid('acme/api#2') as unknown as { payload: Record<string, unknown> };
      delete missing.payload.team;
      const huge = valid('acme/api#3');
      huge.payload.body = 'x'.repeat(2 * 1024 * 1024);
      await producer.send({
        topic,
        messages: [
          { key: 'acme/api#2', value: JSON.stringify(missing) },
          { key: 'bad', value: '{"this is": not json' },
          { key: 'acme/api#3', value: JSON.stringify(huge) },
          { key: 'acme/api#4', value: JSON.stringify(valid('acme/api#4')) },
        ],
      });
      await eventually('the valid event after the poison ones', async () => {
        const rows = await db.dataSource.query(`SELECT 1 FROM requests WHERE request_id = 'acme/api#4'`);
        return rows.length === 1;
      });
      await eventually('three dead letters', async () => dlq.messages.length >= 3);
      const reasons = dlq.messages.map((m) => ({
        reason: m.headers?.['dlq-reason']?.toString(),
        path: m.headers?.['dlq-path']?.toString(),
        eventId: m.headers?.['dlq-event-id']?.toString(),
        bytes: m.value?.byteLength ?? 0,
      }));
      // Different keys land on different partitions: match the entries by reason, not by order.
      expect(reasons).toHaveLength(3);
      expect(reasons).toContainEqual(
        expect.objectContaining({ path: 'payload.team', eventId: (missing as unknown as { eventId: string }).eventId }),
      );
      expect(reasons.find((r) => /not JSON/.test(r.reason ?? ''))).toBeDefined();
      // The original bytes are kept, even the 2 MB ones.
      expect(reasons.find((r) => /above/.test(r.reason ?? ''))!.bytes).toBeGreaterThan(2 * 1024 * 1024);
      expect(dlq.messages.map((m) => m.value!.toString())).toContain('{"this is": not json');
      const excluded = await db.dataSource.query(`SELECT count(*)::int AS n FROM requests WHERE request_id IN ('acme/api#2', 'acme/api#3')`);
      expect(excluded[0].n).toBe(0);
    } finally {
      await dlq.stop();
    }
  });

  it('processes the same event delivered twice only once', async () => {
    const event = valid('acme/api#5');
    const message = { key: 'acme/api#5', value: JSON.stringify(event) };
    await producer.send({ topic, messages: [message, message] });
    const next = valid('acme/api#6');
    await producer.send({ topic, messages: [{ key: 'acme/api#6', value: JSON.stringify(next) }] });
    // Both copies read (the group committed past them; they may sit on another partition than the next event).
    await waitForConsumed(`submitter-${prefix}`, [topic]);
    await waitForProcessed(db.dataSource, [event.eventId, next.eventId], `submitter-${prefix}`, 5_000);
    const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM processed_events WHERE event_id = $1`, [event.eventId]);
    expect(n).toBe(1);
    const metrics = await fetch(`${service.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/cascade_events_consumed_total\{topic="pr\.ingested\.v1",outcome="duplicate",service="batch-submitter"\} 1/);
  });

  it('exports its consumer lag per topic and partition on /metrics, down to 0 once everything is consumed', async () => {
    const lagLines = await eventually('lag 0 on every partition', async () => {
      const text = await fetch(`${service.url}/metrics`).then((r) => r.text());
      const lines = text.split('\n').filter((line) => line.startsWith('cascade_consumer_lag{'));
      return lines.length > 0 && lines.every((line) => line.endsWith(' 0')) ? lines : null;
    }, 30_000);
    expect(lagLines[0]).toContain(`topic="${topic}"`);
    expect(lagLines[0]).toContain(`group="submitter-${prefix}"`);
  });

  it('reports ready on /health/ready with Kafka and PostgreSQL up', async () => {
    const response = await fetch(`${service.url}/health/ready`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { info: Record<string, { status: string }> };
    expect(body.info).toMatchObject({ kafka: { status: 'up' }, postgres: { status: 'up' } });
  });
});
