import { createEvent, Topic } from '#contracts';
import { samplePayloads } from '#contracts/testing';
import { AnthropicSubmissionProvider, anthropicClientFrom, anthropicLineBuilder, BatchAssembler, databaseRecords, PROVIDER_BATCH_LIMITS, ProviderSet } from '#batching';
import { promptRegistry } from '#groq-batch';
import { EventPublisher, type OutboxRelay, OutboxRepository } from '#platform';
import type { Kafka } from 'kafkajs';
import pino from 'pino';
import { IngestionService } from '../../apps/batch-submitter/src/ingestion/ingestion.service.js';
import { RequestRepository } from '../../apps/batch-submitter/src/ingestion/request.repository.js';
import { providerWith, SUBMITTER_SETTINGS, usePipeline } from '../support/pipeline.js';

const MODEL = 'anthropic:claude-haiku-4-5';
const logger = pino({ level: 'silent' });

/**
 * Anthropic batches carry no metadata: a batch whose create was not recorded (the submitter died between the
 * provider's answer and its own commit) is recognised by the key tag in its custom_ids, which can only be
 * read once it has ended. Until then nothing is created for the key; after, it is adopted: one batch, paid once.
 */
describe('Anthropic: a crash between create and record', () => {
  const fixture = usePipeline({ name: 'anthropic', anthropic: { seed: 5 } });
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
    leaseMs: 1,
    // The "crash" below is a thrown error: retried at once, as a restarted process would.
    submitRetry: { baseDelayMs: 1, maxDelayMs: 1, maxAttempts: 50 },
    producer: 'test',
  };
  const client = () =>
    anthropicClientFrom({ ANTHROPIC_API_KEY: 'fake-anthropic-test-key', ANTHROPIC_BASE_URL: fixture.anthropicSim.url, ANTHROPIC_TIMEOUT_MS: 10_000, ANTHROPIC_LIST_SETTLE_MS: 0 });
  const providers = (port: AnthropicSubmissionProvider | ReturnType<typeof providerWith>) =>
    new ProviderSet([{ name: 'anthropic', port, buildLine: anthropicLineBuilder(promptRegistry()), limits: PROVIDER_BATCH_LIMITS.anthropic }]);

  beforeAll(async () => {
    const ingestion = new IngestionService(new RequestRepository(), { ...SUBMITTER_SETTINGS, modelChain: [MODEL] }, outbox);
    const base = samplePayloads()[Topic.PrIngested];
    for (let i = 0; i < 7; i++) {
      const event = createEvent(Topic.PrIngested, { ...base, requestId: `team/repo#${i} with spaces and a very long id ${'x'.repeat(100)}`, body: `Body ${i}` }, { correlationId: `c${i}`, producer: 'test' });
      await fixture.db.dataSource.transaction((m) => ingestion.accept(event, m));
    }
  });

  it('waits while the batch it may have made runs, then adopts it: one provider batch, one BatchSubmitted', async () => {
    const real = new AnthropicSubmissionProvider(client(), databaseRecords(fixture.db.dataSource));
    // Slow enough that the batch is still running when the submission resumes.
    fixture.anthropicSim.setSpeed({ perLineDelayMs: 400 });
    const crashing = providerWith(real, {
      create: async (request) => {
        await real.create(request);
        throw new Error('killed after the provider created the batch');
      },
    });
    const before = new BatchAssembler(fixture.db.dataSource, providers(crashing), outbox, relay, logger, settings);
    expect(await before.tick({ force: true })).toBe(0);
    const [intent] = await fixture.db.dataSource.query(`SELECT batch_id, batch_key, state FROM batches`);
    expect(intent.state).toBe('creating');
    expect(fixture.anthropicSim.stats().batchesCreated).toBe(1);

    // Restarted while that batch runs: its key cannot be read yet, so nothing is created, and the reason is kept.
    const restarted = new BatchAssembler(fixture.db.dataSource, providers(new AnthropicSubmissionProvider(client(), databaseRecords(fixture.db.dataSource))), outbox, relay, logger, settings);
    expect(await restarted.tick()).toBe(0);
    expect(fixture.anthropicSim.stats().batchesCreated).toBe(1);
    const [waiting] = await fixture.db.dataSource.query(`SELECT state, last_error FROM batches WHERE batch_id = $1`, [intent.batch_id]);
    expect(waiting.state).toBe('creating');
    expect(waiting.last_error).toMatch(/not created again: batch msgbatch_\w+ may be this one and has not ended yet/);

    // Once it has ended, its first result carries the key's tag: adopted, not made again.
    fixture.anthropicSim.setSpeed({ perLineDelayMs: 0 });
    await fixture.anthropicSim.idle();
    expect(await restarted.tick()).toBe(1);
    expect(fixture.anthropicSim.stats().batchesCreated).toBe(1);
    const [batch] = await fixture.db.dataSource.query(`SELECT state, provider_batch_id, input_file_id FROM batches WHERE batch_id = $1`, [intent.batch_id]);
    expect(batch.state).toBe('submitted');
    expect(batch.input_file_id).toBe('inline');
    const listed = await client().listBatches();
    expect(listed.data.map((b) => b.id)).toEqual([batch.provider_batch_id]);
    const [{ n }] = await fixture.db.dataSource.query(`SELECT count(*)::int AS n FROM outbox WHERE topic = $1`, [Topic.BatchSubmitted]);
    expect(n).toBe(1);
    expect(await restarted.tick()).toBe(0);
    expect(fixture.anthropicSim.stats().batchesCreated).toBe(1);
  });
});
