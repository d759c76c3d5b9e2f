import { createEvent, Topic } from '#contracts';
import { samplePayloads } from '#contracts/testing';
import {
  anthropicClientFrom,
  anthropicLineBuilder,
  AnthropicSubmissionProvider,
  BatchAssembler,
  type BatchProviderPort,
  databaseRecords,
  PROVIDER_BATCH_LIMITS,
  ProviderSet,
  sweepProvider,
} from '#batching';
import { promptRegistry } from '#groq-batch';
import { EventPublisher, OutboxRelay, OutboxRepository } from '#platform';
import type { Kafka } from 'kafkajs';
import pino from 'pino';
import { IngestionService } from '../../apps/batch-submitter/src/ingestion/ingestion.service.js';
import { RequestRepository } from '../../apps/batch-submitter/src/ingestion/request.repository.js';
import { providerWith, SUBMITTER_SETTINGS, usePipeline } from '../support/pipeline.js';

const logger = pino({ level: 'silent' });
const CHAIN = ['anthropic:claude-haiku-4-5', 'anthropic:claude-sonnet-4-5'];

/**
 * A crash between Anthropic's create and our record: its batches carry no metadata, so the batch is found
 * again by the key tag in its custom_ids and adopted, recorded and announced once (BatchSubmitted), whether the
 * restarted submitter finds it itself or the provider sweep handed it over first.
 */
describe('recovery on Anthropic: a batch created before a crash is adopted by its key tag', () => {
  const fixture = usePipeline({ name: 'anthrecovery', anthropic: { seed: 5 } });
  const db = () => fixture.db;
  const outbox = new OutboxRepository(new EventPublisher(null as unknown as Kafka, ''));
  const relay = { kick: () => undefined } as unknown as OutboxRelay;
  const settings = { ...SUBMITTER_SETTINGS, modelChain: CHAIN };
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
  let round = 0;

  const providers = (port: BatchProviderPort) =>
    new ProviderSet([{ name: 'anthropic' as const, port, buildLine: anthropicLineBuilder(promptRegistry()), limits: PROVIDER_BATCH_LIMITS.anthropic }]);
  const realPort = () =>
    new AnthropicSubmissionProvider(
      anthropicClientFrom({ ANTHROPIC_API_KEY: 'fake-recovery-test-key', ANTHROPIC_BASE_URL: fixture.anthropicSim.url, ANTHROPIC_TIMEOUT_MS: 10_000, ANTHROPIC_LIST_SETTLE_MS: 0 }),
      databaseRecords(db().dataSource),
    );

  /** Five new requests, a batch made for them at Anthropic, and the submitter "killed" before it recorded it. */
  async function crashAfterCreate(): Promise<{ batchId: string; batchKey: string }> {
    round++;
    const ingestion = new IngestionService(new RequestRepository(), settings, outbox);
    const base = samplePayloads()[Topic.PrIngested];
    for (let i = 0; i < 5; i++) {
      const event = createEvent(Topic.PrIngested, { ...base, requestId: `r${round}-${i}`, body: `Body ${round}-${i}` }, { correlationId: `c${round}-${i}`, producer: 'test' });
      await db().dataSource.transaction((m) => ingestion.accept(event, m));
    }
    const real = realPort();
    const crashing = providerWith(real, {
      create: async (request) => {
        await real.create(request);
        throw new Error('killed after the provider created the batch');
      },
    });
    const createdBefore = fixture.anthropicSim.stats().batchesCreated;
    expect(await new BatchAssembler(db().dataSource, providers(crashing), outbox, relay, logger, assemblerSettings).tick({ force: true })).toBe(0);
    expect(fixture.anthropicSim.stats().batchesCreated).toBe(createdBefore + 1);
    const [intent] = await db().dataSource.query(`SELECT batch_id, batch_key, state FROM batches WHERE state = 'creating'`);
    expect(intent.state).toBe('creating');
    // Only an ended batch shows its key tag (in its results): until then the restarted submitter would wait.
    await fixture.anthropicSim.idle();
    return { batchId: intent.batch_id, batchKey: intent.batch_key };
  }

  async function expectAdoptedOnce(intent: { batchId: string; batchKey: string }, createdAtProvider: number): Promise<void> {
    const restarted = new BatchAssembler(db().dataSource, providers(realPort()), outbox, relay, logger, assemblerSettings);
    expect(await restarted.tick()).toBe(1);
    expect(fixture.anthropicSim.stats().batchesCreated).toBe(createdAtProvider);
    const [batch] = await db().dataSource.query(`SELECT state, provider_batch_id, input_file_id FROM batches WHERE batch_id = $1`, [intent.batchId]);
    expect(batch).toMatchObject({ state: 'submitted', provider_batch_id: expect.stringMatching(/^msgbatch_/), input_file_id: 'inline' });
    const outcomes = fixture.anthropicSim.stats().outcomes[batch.provider_batch_id]!;
    expect(new Set(Object.keys(outcomes).map((customId) => customId.slice(0, 16)))).toEqual(new Set([intent.batchKey.slice('cascade-'.length, 'cascade-'.length + 16)]));
    const events: Array<{ n: number }> = await db().dataSource.query(
      `SELECT count(*)::int AS n FROM outbox WHERE topic = $1 AND convert_from(message_value, 'UTF8')::jsonb->'payload'->>'batchId' = $2`,
      [Topic.BatchSubmitted, intent.batchId],
    );
    expect(events[0]!.n).toBe(1);
    // Another start finds nothing to resume and creates nothing.
    expect(await restarted.tick()).toBe(0);
    expect(fixture.anthropicSim.stats().batchesCreated).toBe(createdAtProvider);
  }

  it('the restarted submitter finds the ended batch by its key tag and records it: one provider batch, one BatchSubmitted', async () => {
    const intent = await crashAfterCreate();
    await expectAdoptedOnce(intent, fixture.anthropicSim.stats().batchesCreated);
  });

  it('a submitter killed after spooling, before create: its successor, without the spool, spools again and creates once', async () => {
    round++;
    const ingestion = new IngestionService(new RequestRepository(), settings, outbox);
    const base = samplePayloads()[Topic.PrIngested];
    for (let i = 0; i < 5; i++) {
      const event = createEvent(Topic.PrIngested, { ...base, requestId: `r${round}-${i}`, body: `Body ${round}-${i}` }, { correlationId: `c${round}-${i}`, producer: 'test' });
      await db().dataSource.transaction((m) => ingestion.accept(event, m));
    }
    const createdBefore = fixture.anthropicSim.stats().batchesCreated;
    // The spool is written (and its id recorded with the batch) on this process's disk; the process "dies" before the create.
    const dying = providerWith(realPort(), {
      create: async () => {
        throw new Error('killed before the create');
      },
    });
    expect(await new BatchAssembler(db().dataSource, providers(dying), outbox, relay, logger, assemblerSettings).tick({ force: true })).toBe(0);
    const [intent] = await db().dataSource.query(`SELECT batch_id, input_file_id FROM batches WHERE state = 'creating'`);
    expect(intent.input_file_id).toMatch(/^spool:/);

    // Another process: the spool named with the batch is not on its disk (the "file" is gone), so it spools the requests again.
    const successor = new BatchAssembler(db().dataSource, providers(realPort()), outbox, relay, logger, assemblerSettings);
    let submitted = 0;
    for (let tick = 0; tick < 3 && submitted === 0; tick++) submitted += await successor.tick();
    expect(submitted).toBe(1);
    const [batch] = await db().dataSource.query(`SELECT state, submit_attempts, held_reason, input_file_id FROM batches WHERE batch_id = $1`, [intent.batch_id]);
    expect(batch).toMatchObject({ state: 'submitted', held_reason: null, input_file_id: 'inline' });
    expect(fixture.anthropicSim.stats().batchesCreated).toBe(createdBefore + 1);
  });

  it('a batch the provider sweep handed over first is adopted the same way', async () => {
    const intent = await crashAfterCreate();
    const report = await sweepProvider(db().dataSource, { name: 'anthropic', port: realPort() });
    expect(report.unknown.map((u) => ({ batchId: u.batchId, action: u.action }))).toEqual([{ batchId: intent.batchId, action: 'handed_over' }]);
    await expectAdoptedOnce(intent, fixture.anthropicSim.stats().batchesCreated);
  });
});
