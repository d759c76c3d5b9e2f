import { createEvent, Topic } from '#contracts';
import { samplePayloads } from '#contracts/testing';
import { BatchAssembler, type BatchProviderPort, GroqSubmissionProvider, prAnalysisLineBuilder } from '#batching';
import { DEFAULT_GROQ_BATCH_CONFIG, GroqBatchClient } from '#groq-batch';
import { EventPublisher, type OutboxRelay, OutboxRepository } from '#platform';
import type { Kafka } from 'kafkajs';
import pino from 'pino';
import { IngestionService } from '../../apps/batch-submitter/src/ingestion/ingestion.service.js';
import { RequestRepository } from '../../apps/batch-submitter/src/ingestion/request.repository.js';
import { type GroqSimulator, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { createTestDatabase, eventually, type TestDatabase } from '../support/infra.js';
import { SUBMITTER_SETTINGS } from '../support/pipeline.js';

const LEASE_MS = 1_500;
const logger = pino({ level: 'silent' });

/**
 * Two replicas of the submitter on one batch: a create slower than the submit lease must not be paid for
 * twice, and a replica that lost the race cancels the batch it created instead of leaving it unpolled.
 */
describe('submission leases: renewed while a submitter works; a duplicate is cancelled, not dropped', () => {
  let db: TestDatabase;
  let sim: GroqSimulator;
  let client: GroqBatchClient;
  const outbox = new OutboxRepository(new EventPublisher(null as unknown as Kafka, ''));
  const relay = { kick: () => undefined } as unknown as OutboxRelay;
  const settings = {
    minPass: 1,
    maxPass: 1,
    maxLines: 100,
    maxBytes: 50_000_000,
    lingerMs: 0,
    intervalMs: 100,
    stageDeadlineMs: 60_000,
    leaseMs: LEASE_MS,
    producer: 'test',
  };
  const assembler = (provider: BatchProviderPort) => new BatchAssembler(db.dataSource, provider, prAnalysisLineBuilder(), outbox, relay, logger, settings);
  /** The real provider (the simulator), with a pause before each create. */
  const slow = (real: GroqSubmissionProvider, beforeCreate: () => Promise<void>): BatchProviderPort => ({
    findByKey: (key) => real.findByKey(key),
    cancel: (id) => real.cancel(id),
    submit: async (request) => {
      await beforeCreate();
      return real.submit(request);
    },
  });

  beforeEach(async () => {
    db = await createTestDatabase();
    sim = await startGroqSimulator({ seed: 5 });
    client = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: 'fake-submit-lease-test-key', baseURL: sim.url });
    const ingestion = new IngestionService(new RequestRepository(), SUBMITTER_SETTINGS, outbox);
    const base = samplePayloads()[Topic.PrIngested];
    for (let i = 0; i < 5; i++) {
      const event = createEvent(Topic.PrIngested, { ...base, requestId: `lease-${i}`, body: `Body ${i}` }, { correlationId: `c${i}`, producer: 'test' });
      await db.dataSource.transaction((m) => ingestion.accept(event, m));
    }
  });
  afterEach(async () => {
    await sim?.stop();
    await db?.drop();
  });

  const batchRow = async () => (await db.dataSource.query(`SELECT batch_id, state, provider_batch_id, lease_owner FROM batches`))[0];

  it('a create three leases long keeps its lease: the other replica resumes nothing, one provider batch is paid for', async () => {
    const real = new GroqSubmissionProvider(client, { maxLines: 100, maxBytes: 50_000_000 });
    const first = assembler(slow(real, () => new Promise((resolve) => setTimeout(resolve, 3 * LEASE_MS)))).tick({ force: true });
    await eventually('the first replica recorded its intent', async () => (await batchRow())?.state === 'creating');
    const other = assembler(real);
    let resumed = 0;
    while ((await batchRow()).state === 'creating') {
      resumed += await other.tick();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await first).toBe(1);
    expect(resumed).toBe(0);
    expect(sim.stats().batchesCreated).toBe(1);
  }, 30_000);

  it('a replica that lost its lease mid-create and finds the batch recorded by another cancels its own provider batch', async () => {
    const real = new GroqSubmissionProvider(client, { maxLines: 100, maxBytes: 50_000_000 });
    let release!: () => void;
    const paused = new Promise<void>((resolve) => (release = resolve));
    // The first replica stalls before its create (a long GC pause, a frozen VM) …
    const first = assembler(slow(real, () => paused)).tick({ force: true });
    await eventually('the first replica recorded its intent', async () => (await batchRow())?.state === 'creating');
    // … long enough for its lease to run out: the second replica resumes the batch and records its own.
    await db.dataSource.query(`UPDATE batches SET lease_until = now() - interval '1 second'`);
    expect(await assembler(real).tick()).toBe(1);
    const recorded = await batchRow();
    expect(recorded.state).toBe('submitted');
    // The first one wakes up and creates too: it must not leave that batch paid for and unpolled.
    release();
    expect(await first).toBe(0);
    expect(sim.stats().batchesCreated).toBe(2);
    const batches = (await client.listBatches()).data.filter((b) => b.id !== recorded.provider_batch_id);
    expect(batches).toHaveLength(1);
    expect(['cancelling', 'cancelled']).toContain((await client.retrieveBatch(batches[0]!.id)).status);
    expect((await client.retrieveBatch(recorded.provider_batch_id)).status).not.toMatch(/cancel/);
  }, 30_000);
});
