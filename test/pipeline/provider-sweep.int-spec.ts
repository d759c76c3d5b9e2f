import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { createEvent, Topic } from '#contracts';
import { samplePayloads } from '#contracts/testing';
import { BatchAssembler, FileBatchSubmissionProvider, sweepProvider } from '#batching';
import { DEFAULT_GROQ_BATCH_CONFIG, GroqBatchClient } from '#groq-batch';
import { EventPublisher, type OutboxRelay, OutboxRepository } from '#platform';
import type { Kafka } from 'kafkajs';
import pino from 'pino';
import { IngestionService } from '../../apps/batch-submitter/src/ingestion/ingestion.service.js';
import { RequestRepository } from '../../apps/batch-submitter/src/ingestion/request.repository.js';
import { type GroqSimulator, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { createTestDatabase, type TestDatabase } from '../support/infra.js';
import { providerWith, SUBMITTER_SETTINGS } from '../support/pipeline.js';
import { groqProviders } from '../support/providers.js';

const KEY = 'fake-provider-sweep-test-key';
const root = resolve(import.meta.dirname, '../..');

/**
 * `cascade reconcile --provider`: provider batches carrying our keys that the database does not know are
 * handed over (their batch is still being submitted) or cancelled; refused cancels are retried; input files
 * nothing needs are deleted; and afterwards no provider batch with our key is unknown.
 */
describe('the provider sweep', () => {
  let db: TestDatabase;
  let sim: GroqSimulator;
  let client: GroqBatchClient;
  let real: FileBatchSubmissionProvider;
  const outbox = new OutboxRepository(new EventPublisher(null as unknown as Kafka, ''));
  const relay = { kick: () => undefined } as unknown as OutboxRelay;
  const settings = { minPass: 1, maxPass: 1, maxLines: 100, maxBytes: 50_000_000, lingerMs: 0, intervalMs: 100, stageDeadlineMs: 60_000, leaseMs: 60_000, producer: 'test' };
  const retryAtOnce = { baseDelayMs: 1, maxDelayMs: 1, maxAttempts: 5 };

  beforeEach(async () => {
    db = await createTestDatabase();
    // Batches stay in `validating` for a while, so a cancel reaches them before they run.
    sim = await startGroqSimulator({ seed: 9, stageDelayMs: 3_000 });
    client = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: KEY, baseURL: sim.url });
    real = new FileBatchSubmissionProvider(client, { maxLines: 100, maxBytes: 50_000_000 });
    const ingestion = new IngestionService(new RequestRepository(), SUBMITTER_SETTINGS, outbox);
    const base = samplePayloads()[Topic.PrIngested];
    for (let i = 0; i < 4; i++) {
      const event = createEvent(Topic.PrIngested, { ...base, requestId: `sweep-${i}`, body: `Body ${i}` }, { correlationId: `c${i}`, producer: 'test' });
      await db.dataSource.transaction((m) => ingestion.accept(event, m));
    }
  });
  afterEach(async () => {
    await sim?.stop();
    await db?.drop();
  });

  const batchRow = async () => (await db.dataSource.query(`SELECT batch_id, batch_key, state, provider_batch_id, input_file_id FROM batches`))[0];
  const strays = () => db.dataSource.query(`SELECT provider_batch_id, batch_id, disposition, found_by FROM stray_provider_batches ORDER BY found_at, provider_batch_id`);
  const assembler = (provider = real as Parameters<typeof providerWith>[0]) =>
    new BatchAssembler(db.dataSource, groqProviders(provider), outbox, relay, pino({ level: 'silent' }), { ...settings, submitRetry: retryAtOnce });
  /** Run without blocking: the simulator answering the CLI lives in this process. */
  const cli = (...args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((done) =>
      execFile(
        process.execPath,
        [resolve(root, 'bin/cascade.js'), 'reconcile', '--skip-topics', ...args],
        { env: { ...process.env, DATABASE_URL: db.url, GROQ_API_KEY: KEY, GROQ_BASE_URL: sim.url }, encoding: 'utf8', timeout: 60_000 },
        (error, stdout, stderr) => done({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      ),
    );

  it('hands a batch created before a crash over to its submitter, cancels duplicates, leaves keys of no batch of ours alone, and deletes unused input files of ours', async () => {
    // A submitter dies after its create: the provider batch carries the key, the database does not know it.
    const crashing = providerWith(real, { create: async (request) => (await real.create(request), Promise.reject(new Error('killed after the create'))) });
    expect(await assembler(crashing).tick({ force: true })).toBe(0);
    const intent = await batchRow();
    expect(intent.state).toBe('creating');
    const [created] = await real.findByKey(intent.batch_key);

    // A dry run changes nothing and says what it would do; reconcile fails on the unknown batch.
    const dry = await cli('--provider', '--dry-run');
    expect(dry.status).toBe(1);
    expect(dry.stdout).toMatch(new RegExp(`PROVIDER  ${created!.providerBatchId} \\([a-z_]+, key ${intent.batch_key}\\): none \\(dry run\\): batch ${intent.batch_id} is still being submitted`));
    expect(dry.stdout).toMatch(/FAIL {2}provider batches known to the database: 1 provider batches carry our keys, 1 were unknown \(dry run: 1 left as they are\)/);
    expect(await strays()).toEqual([]);

    const first = await sweepProvider(db.dataSource, { name: 'groq', port: real });
    expect(first.unknown).toEqual([expect.objectContaining({ providerBatchId: created!.providerBatchId, action: 'handed_over', batchId: intent.batch_id })]);
    expect(first.unknownAfter).toBe(0);
    // Its submitter adopts it at its next attempt: nothing is created twice.
    expect(await assembler().tick()).toBe(1);
    expect((await batchRow()).provider_batch_id).toBe(created!.providerBatchId);
    expect(sim.stats().batchesCreated).toBe(1);
    expect(await strays()).toEqual([]);

    // A duplicate of the recorded batch (a replica that died before cancelling its own): cancelled. A batch whose
    // key no batch of ours carries (another deployment on the same account): left alone.
    const duplicate = await real.create({ batchKey: intent.batch_key, inputFileId: intent.input_file_id, metadata: { cascade_batch_key: intent.batch_key } });
    const foreignKey = `cascade-${'0'.repeat(40)}`;
    const foreignFile = await real.upload({ batchKey: foreignKey, lines: [{ customId: 'x-1', body: { model: 'openai/gpt-oss-20b', messages: [{ role: 'user', content: 'hi' }] } }] });
    const foreign = await real.create({ batchKey: foreignKey, inputFileId: foreignFile, metadata: { cascade_batch_key: foreignKey } });
    // An upload of ours whose id was never recorded (the process died between the upload and its record).
    const orphanFile = await real.upload({ batchKey: intent.batch_key, lines: [{ customId: 'y-1', body: { model: 'openai/gpt-oss-20b', messages: [] } }] });

    const second = await sweepProvider(db.dataSource, { name: 'groq', port: real }, { orphanFileAgeMs: 0 });
    expect(second.unknown.map((b) => [b.providerBatchId, b.action, b.batchId])).toEqual([[duplicate.providerBatchId, 'cancelled', intent.batch_id]]);
    expect(second.foreign).toEqual([{ providerBatchId: foreign.providerBatchId, batchKey: foreignKey, status: expect.any(String) }]);
    expect(['cancelling', 'cancelled']).toContain((await client.retrieveBatch(duplicate.providerBatchId)).status);
    for (const id of [created!.providerBatchId, foreign.providerBatchId]) expect((await client.retrieveBatch(id)).status).not.toMatch(/cancel/);
    // The orphan upload goes; the file of the batch in flight and the other deployment's file stay.
    expect(second.filesDeleted).toEqual([orphanFile]);
    expect((await real.listInputFiles()).map((f) => f.fileId).sort()).toEqual([intent.input_file_id, foreignFile].sort());

    // Everything the provider lists with our key is now known: reconcile --provider exits 0 (the batch in
    // flight is polled by nobody here, so its requests count as in flight, not as a failure).
    const after = await cli('--provider');
    expect(after.stdout).toMatch(/ok {4}provider batches known to the database: 2 provider batches carry our keys, 0 were unknown .*; 1 with keys no batch here carries, left alone/);
    expect(after.stdout).toMatch(new RegExp(`FOREIGN +${foreign.providerBatchId} \\([a-z_]+, key ${foreignKey}\\): no batch of this database carries the key; left alone`));
    expect(after.status).toBe(0);
  }, 120_000);

  it('a handed-over batch nobody adopts (its batch was submitted with another) is cancelled; a duplicate found after it ran fails the check once', async () => {
    expect(await assembler().tick({ force: true })).toBe(1);
    const recorded = await batchRow();
    const orphaned = await real.create({ batchKey: recorded.batch_key, inputFileId: recorded.input_file_id, metadata: { cascade_batch_key: recorded.batch_key } });
    await db.dataSource.query(
      `INSERT INTO stray_provider_batches (provider_batch_id, batch_key, batch_id, input_file_id, provider_status, disposition, found_by)
       VALUES ($1, $2, $3, $4, 'validating', 'handed_over', 'create')`,
      [orphaned.providerBatchId, recorded.batch_key, recorded.batch_id, recorded.input_file_id],
    );
    const first = await sweepProvider(db.dataSource, { name: 'groq', port: real });
    expect(first.cancelsRetried).toEqual([{ providerBatchId: orphaned.providerBatchId, outcome: 'cancelled' }]);
    expect(['cancelling', 'cancelled']).toContain((await client.retrieveBatch(orphaned.providerBatchId)).status);

    // A duplicate that ran to the end before anyone saw it: paid for twice. The sweep that finds it fails.
    sim.setSpeed({ stageDelayMs: 0 });
    const ran = await real.create({ batchKey: recorded.batch_key, inputFileId: recorded.input_file_id, metadata: { cascade_batch_key: recorded.batch_key } });
    await sim.idle();
    const found = await cli('--provider');
    expect(found.stdout).toMatch(new RegExp(`PROVIDER  ${ran.providerBatchId} \\(completed, key ${recorded.batch_key}\\): finished_unused`));
    expect(found.stdout).toMatch(/FAIL {2}provider batches known to the database: .*finished unused 1\).*duplicates that ran unused \(paid twice\), all told 1/);
    expect(found.status).toBe(1);
    // Known from then on, and still counted.
    const again = await cli('--provider');
    expect(again.stdout).toMatch(/ok {4}provider batches known to the database: .*all told 1/);
  }, 120_000);

  it('a cancel the provider refused is tried again by the next sweep', async () => {
    expect(await assembler().tick({ force: true })).toBe(1);
    const recorded = await batchRow();
    const duplicate = await real.create({ batchKey: recorded.batch_key, inputFileId: recorded.input_file_id, metadata: { cascade_batch_key: recorded.batch_key } });
    const refusing = providerWith(real, { cancel: async () => Promise.reject(new Error('cancel batch failed with HTTP 503')) });
    const first = await sweepProvider(db.dataSource, { name: 'groq', port: refusing });
    expect(first.unknown.map((b) => b.action)).toEqual(['cancel_failed']);
    expect(await strays()).toEqual([{ provider_batch_id: duplicate.providerBatchId, batch_id: recorded.batch_id, disposition: 'cancel_failed', found_by: 'sweep' }]);
    const second = await sweepProvider(db.dataSource, { name: 'groq', port: real });
    expect(second.unknown).toEqual([]);
    expect(second.cancelsRetried).toEqual([{ providerBatchId: duplicate.providerBatchId, outcome: 'cancelled' }]);
    expect((await strays())[0].disposition).toBe('cancelled');
  }, 60_000);
});
