import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { createEvent, Topic } from '#contracts';
import { samplePayloads } from '#contracts/testing';
import { BatchAssembler, FileBatchSubmissionProvider } from '#batching';
import { DEFAULT_GROQ_BATCH_CONFIG, GroqBatchClient } from '#groq-batch';
import { reconcile } from '#ledger';
import { ConsumerMetrics, DLQ_HEADERS, EventInbox, EventPublisher, inTransaction, type OutgoingMessage, OutboxRelay, OutboxRepository } from '#platform';
import type { Kafka } from 'kafkajs';
import pino from 'pino';
import { IngestionService } from '../../apps/batch-submitter/src/ingestion/ingestion.service.js';
import { RequestRepository } from '../../apps/batch-submitter/src/ingestion/request.repository.js';
import { testKafka, uniqueSuffix } from '../support/infra.js';
import { providerWith, SUBMITTER_SETTINGS, usePipeline } from '../support/pipeline.js';
import { groqProviders } from '../support/providers.js';

const logger = pino({ level: 'silent' });
const root = resolve(import.meta.dirname, '../..');

describe('recovery: crashes, stuck requests, failed writes', () => {
  const fixture = usePipeline({ name: 'recovery', simulator: { seed: 3 } });
  const db = () => fixture.db;
  const publisher = new EventPublisher(null as unknown as Kafka, '');
  const outbox = new OutboxRepository(publisher);
  const relay = { kick: () => undefined } as unknown as OutboxRelay;
  const settings = SUBMITTER_SETTINGS;
  const assemblerSettings = {
    minPass: 1,
    maxPass: 1,
    maxLines: 100,
    maxBytes: 50_000_000,
    lingerMs: 0,
    intervalMs: 100,
    stageDeadlineMs: 60_000,
    leaseMs: 1,
    // The "crash" below is a thrown error: retried at once, as a restarted process would.
    submitRetry: { baseDelayMs: 1, maxDelayMs: 1, maxAttempts: 5 },
    producer: 'test',
  };

  beforeAll(async () => {
    const ingestion = new IngestionService(new RequestRepository(), settings, outbox);
    const base = samplePayloads()[Topic.PrIngested];
    for (let i = 0; i < 5; i++) {
      const event = createEvent(Topic.PrIngested, { ...base, requestId: `crash-${i}`, body: `Body ${i}` }, { correlationId: `c${i}`, producer: 'test' });
      await db().dataSource.transaction((m) => ingestion.accept(event, m));
    }
  });

  it('a crash between provider batch creation and its recording adopts that batch on restart: one provider batch, one BatchSubmitted', async () => {
    const client = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: 'fake-recovery-test-key', baseURL: fixture.sim.url });
    const real = new FileBatchSubmissionProvider(client, { maxLines: 100, maxBytes: 50_000_000 });
    // The process "dies" right after the provider accepted the batch, before anything is recorded.
    const crashing = providerWith(real, {
      create: async (request) => {
        await real.create(request);
        throw new Error('killed after the provider created the batch');
      },
    });
    const before = new BatchAssembler(db().dataSource, groqProviders(crashing), outbox, relay, logger, assemblerSettings);
    expect(await before.tick({ force: true })).toBe(0);
    const [intent] = await db().dataSource.query(`SELECT batch_id, batch_key, state FROM batches`);
    expect(intent.state).toBe('creating');
    expect(fixture.sim.stats().batchesCreated).toBe(1);

    const restarted = new BatchAssembler(db().dataSource, groqProviders(real), outbox, relay, logger, assemblerSettings);
    expect(await restarted.tick()).toBe(1);
    expect(fixture.sim.stats().batchesCreated).toBe(1);
    const [batch] = await db().dataSource.query(`SELECT state, provider_batch_id FROM batches WHERE batch_id = $1`, [intent.batch_id]);
    expect(batch.state).toBe('submitted');
    const provider = await client.findBatchByKey(intent.batch_key);
    expect(batch.provider_batch_id).toBe(provider?.id);
    const events = await db().dataSource.query(`SELECT count(*)::int AS n FROM outbox WHERE topic = $1`, [Topic.BatchSubmitted]);
    expect(events[0].n).toBe(1);
    // A third start finds nothing to resume and creates nothing.
    expect(await restarted.tick()).toBe(0);
    expect(fixture.sim.stats().batchesCreated).toBe(1);
  });

  it('reconcile flags an item whose batch never completes, and `cascade reconcile` exits 1', async () => {
    await db().dataSource.query(`UPDATE requests SET stage_deadline_at = now() - interval '1 minute' WHERE status = 'in_flight'`);
    const report = await reconcile(db().dataSource.manager, { defaultStageDeadlineMs: 60_000 });
    expect(report.stuck).toBe(5);
    expect(report.inFlightRequests.every((r) => r.stuck && r.stage === 'submitted' && r.batchId)).toBe(true);
    const cli = spawnSync(process.execPath, [resolve(root, 'bin/cascade.js'), 'reconcile', '--skip-topics'], {
      env: { ...process.env, DATABASE_URL: db().url },
      encoding: 'utf8',
    });
    expect(cli.status).toBe(1);
    expect(cli.stdout).toMatch(/stuck: 5/);
    expect(cli.stdout).toMatch(/STUCK\s+crash-0\s+stage submitted\s+batch /);
  });

  it('an integrity error in one write is rolled back and retried, and does not poison later writes', async () => {
    const kafka = testKafka();
    const realPublisher = new EventPublisher(kafka, `recovery${uniqueSuffix()}.`);
    // Three attempts (the default budget): the transaction helper no longer retries a unique violation itself.
    const inbox = new EventInbox(db().dataSource, realPublisher, relay, logger, new ConsumerMetrics('test'), 'recovery-group', 3);
    let calls = 0;
    const event = createEvent(Topic.PrIngested, samplePayloads()[Topic.PrIngested], { correlationId: 'c', producer: 'test' });
    const message = (value: unknown) => ({
      topic: 'pr.ingested.v1',
      partition: 0,
      offset: '1',
      value: Buffer.from(JSON.stringify(value)),
      key: null,
      headers: {},
      heartbeat: async () => undefined,
    });
    // The effect violates a unique constraint twice (a race lost), then succeeds.
    const outcome = await inbox.handle(Topic.PrIngested, message(event), async (_event, manager) => {
      calls++;
      await manager.query(`INSERT INTO outbox (event_id, topic, message_key, message_value, headers) VALUES ($1, 't', 'k', 'v', '{}')`, [event.eventId]);
      if (calls <= 2) await manager.query(`INSERT INTO outbox (event_id, topic, message_key, message_value, headers) VALUES ($1, 't', 'k', 'v', '{}')`, [event.eventId]);
    });
    expect(outcome).toBe('processed');
    expect(calls).toBe(3);
    // Nothing of the failed attempts stayed behind, and no session is left idle in a transaction.
    const rows = await db().dataSource.query(`SELECT count(*)::int AS n FROM outbox WHERE event_id = $1`, [event.eventId]);
    expect(rows[0].n).toBe(1);
    const idle = await db().dataSource.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`);
    expect(idle[0].n).toBe(0);
    // The next write on the same pool works.
    await inTransaction(db().dataSource, (m) => m.query(`UPDATE requests SET updated_at = now() WHERE request_id = 'crash-0'`));
    await realPublisher.disconnect();
  });

  it('an effect that always violates a unique constraint is dead-lettered after the one budget, the constraint named and no value', async () => {
    const sent: OutgoingMessage[] = [];
    const capturing = { send: async (messages: OutgoingMessage[]) => void sent.push(...messages) } as unknown as EventPublisher;
    const inbox = new EventInbox(db().dataSource, capturing, relay, logger, new ConsumerMetrics('test'), 'constraint-bug-group', 3);
    const event = createEvent(Topic.PrIngested, { ...samplePayloads()[Topic.PrIngested], requestId: 'constraint/bug' }, { correlationId: 'c', producer: 'test' });
    let calls = 0;
    const outcome = await inbox.handle(
      Topic.PrIngested,
      { topic: 'pr.ingested.v1', partition: 0, offset: '7', value: Buffer.from(JSON.stringify(event)), key: null, headers: {}, heartbeat: async () => undefined },
      async (_event, manager) => {
        calls++;
        const duplicate = `INSERT INTO outbox (event_id, topic, message_key, message_value, headers) VALUES ($1, 't', 'k', 'v', '{}')`;
        await manager.query(duplicate, [event.eventId]);
        await manager.query(duplicate, [event.eventId]);
      },
    );
    expect(outcome).toBe('dead-lettered');
    expect(calls).toBe(3);
    const [row] = await db().dataSource.query(`SELECT reason, request_id FROM dead_letters WHERE event_id = $1`, [event.eventId]);
    expect(row).toEqual({ reason: 'handler failed 3 times: unique violation (SQLSTATE 23505) on constraint "outbox_event_id_key" of table "outbox"', request_id: 'constraint/bug' });
    expect(row.reason).not.toContain(event.eventId);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers[DLQ_HEADERS.reason]).toBe(row.reason);
    // Nothing of the effect stayed behind.
    const [{ n }] = await db().dataSource.query(`SELECT count(*)::int AS n FROM outbox WHERE event_id = $1`, [event.eventId]);
    expect(n).toBe(0);
  });
});
