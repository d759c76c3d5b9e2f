import { createEvent, Topic } from '#contracts';
import { samplePayloads } from '#contracts/testing';
import { BatchAssembler, type BatchProviderPort, FileBatchSubmissionProvider, type SubmitRetryPolicy } from '#batching';
import { heldBatchText, reconcile, retryBatch } from '#ledger';
import { EventPublisher, type OutboxRelay, OutboxRepository, writeControl } from '#platform';
import { APIError } from 'groq-sdk';
import { DEFAULT_GROQ_BATCH_CONFIG, GroqBatchClient, GroqBatchError } from '#groq-batch';
import type { Kafka } from 'kafkajs';
import pino from 'pino';
import { IngestionService } from '../../apps/batch-submitter/src/ingestion/ingestion.service.js';
import { RequestRepository } from '../../apps/batch-submitter/src/ingestion/request.repository.js';
import { type GroqSimulator, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { createTestDatabase, eventually, type TestDatabase } from '../support/infra.js';
import { providerWith, SUBMITTER_SETTINGS } from '../support/pipeline.js';
import { groqProviders } from '../support/providers.js';

const LEASE_MS = 1_500;
const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });

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
  const assembler = (provider: BatchProviderPort, extra: Partial<typeof settings> & { submitRetry?: SubmitRetryPolicy } = {}) =>
    new BatchAssembler(db.dataSource, groqProviders(provider), outbox, relay, logger, { ...settings, ...extra });
  /** The real provider (the simulator), with a pause before each create. */
  const slow = (real: FileBatchSubmissionProvider, beforeCreate: () => Promise<void>): BatchProviderPort =>
    providerWith(real, {
      create: async (request) => {
        await beforeCreate();
        return real.create(request);
      },
    });

  beforeEach(async () => {
    db = await createTestDatabase();
    // Batches stay in `validating` for a while, as at the provider: a duplicate is cancelled before it runs.
    sim = await startGroqSimulator({ seed: 5, stageDelayMs: 3_000 });
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

  const batchRow = async () =>
    (await db.dataSource.query(`SELECT batch_id, batch_key, state, provider_batch_id, input_file_id, lease_owner, lease_until, lease_epoch::int, submit_attempts, held_reason, last_error FROM batches`))[0];
  const strays = () => db.dataSource.query(`SELECT provider_batch_id, disposition, found_by FROM stray_provider_batches ORDER BY found_at`);
  /** Lets the current lease run out, as when its holder froze (a long GC pause, a stopped VM). */
  const expireLease = () => db.dataSource.query(`UPDATE batches SET lease_until = now() - interval '1 second'`);

  it('a create three leases long keeps its lease: the other replica resumes nothing, one provider batch is paid for', async () => {
    const real = new FileBatchSubmissionProvider(client, { maxLines: 100, maxBytes: 50_000_000 });
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

  it('a replica that lost its lease mid-create and finds the batch recorded by another cancels its own provider batch, and keeps a record of it', async () => {
    const real = new FileBatchSubmissionProvider(client, { maxLines: 100, maxBytes: 50_000_000 });
    let release!: () => void;
    const paused = new Promise<void>((resolve) => (release = resolve));
    // The first replica stalls before its create (a long GC pause, a frozen VM) …
    const first = assembler(slow(real, () => paused)).tick({ force: true });
    await eventually('the first replica uploaded its file and is about to create', async () => Boolean((await batchRow())?.input_file_id));
    // … long enough for its lease to run out: the second replica resumes the batch and records its own.
    await expireLease();
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
    // Known to the database, so the provider sweep has nothing unknown to find.
    expect(await strays()).toEqual([{ provider_batch_id: batches[0]!.id, disposition: 'cancelled', found_by: 'create' }]);
  }, 30_000);

  it('a replica whose lease was taken over before its create creates nothing (fenced by the lease epoch)', async () => {
    const real = new FileBatchSubmissionProvider(client, { maxLines: 100, maxBytes: 50_000_000 });
    let release!: () => void;
    const paused = new Promise<void>((resolve) => (release = resolve));
    // Frozen before it starts the upload: the fence check comes after the pause.
    const first = assembler(providerWith(real, { upload: async (request) => (await paused, real.upload(request)) })).tick({ force: true });
    await eventually('the first replica recorded its intent', async () => (await batchRow())?.state === 'creating');
    await expireLease();
    expect(await assembler(real).tick()).toBe(1);
    release();
    expect(await first).toBe(0);
    expect(sim.stats().batchesCreated).toBe(1);
    // Its upload happened and was not used: the file is deleted, not left at the provider.
    expect(sim.stats().filesUploaded).toBe(2);
    await eventually('the unused upload is deleted', async () => (await real.listInputFiles()).length === 1);
    expect((await real.listInputFiles())[0]!.fileId).toBe((await batchRow()).input_file_id);
  }, 30_000);

  it('a replica that lost its lease after creating hands its batch over: the next holder adopts it, nothing is paid twice', async () => {
    const real = new FileBatchSubmissionProvider(client, { maxLines: 100, maxBytes: 50_000_000 });
    let release!: () => void;
    const paused = new Promise<void>((resolve) => (release = resolve));
    // It created the batch, then froze before it could record it.
    const first = assembler(providerWith(real, { create: async (request) => { const created = await real.create(request); await paused; return created; } })).tick({ force: true });
    await eventually('the provider batch was created', async () => sim.stats().batchesCreated === 1);
    // An operator's retry after the lease ran out moves the lease to a new epoch; nobody holds it.
    await expireLease();
    expect((await retryBatch(db.dataSource.manager, (await batchRow()).batch_id))?.conflict).toBeUndefined();
    release();
    expect(await first).toBe(0);
    expect(await strays()).toEqual([{ provider_batch_id: expect.any(String), disposition: 'handed_over', found_by: 'create' }]);
    expect((await batchRow()).state).toBe('creating');
    // The next holder adopts the handed-over batch instead of creating one.
    expect(await assembler(real).tick()).toBe(1);
    expect(sim.stats().batchesCreated).toBe(1);
    const [handed] = (await client.listBatches()).data;
    expect((await batchRow()).provider_batch_id).toBe(handed!.id);
    expect(await strays()).toEqual([]);
  }, 30_000);

  it('POST /batches/{id}/retry while a submitter creates the batch is refused: the lease stays, one batch is created', async () => {
    const real = new FileBatchSubmissionProvider(client, { maxLines: 100, maxBytes: 50_000_000 });
    let release!: () => void;
    const paused = new Promise<void>((resolve) => (release = resolve));
    const first = assembler(slow(real, () => paused)).tick({ force: true });
    await eventually('the first replica recorded its intent', async () => (await batchRow())?.state === 'creating');
    const before = await batchRow();
    const outcome = await retryBatch(db.dataSource.manager, before.batch_id);
    expect(outcome).toEqual({ conflict: true, message: expect.stringMatching(/is being submitted by .+ \(lease until .+\); not retried/) });
    const after = await batchRow();
    expect({ owner: after.lease_owner, epoch: after.lease_epoch }).toEqual({ owner: before.lease_owner, epoch: before.lease_epoch });
    const other = assembler(real);
    expect(await other.tick()).toBe(0);
    release();
    expect(await first).toBe(1);
    expect(sim.stats().batchesCreated).toBe(1);
  }, 30_000);

  it('several provider batches for one key: the resuming replica adopts the oldest and cancels the rest', async () => {
    const real = new FileBatchSubmissionProvider(client, { maxLines: 100, maxBytes: 50_000_000 });
    // Two replicas crashed after their creates (the second after the first's lease ran out): two batches carry the key.
    const crashing = providerWith(real, { create: async (request) => { await real.create(request); throw new Error('killed after the create'); } });
    expect(await assembler(crashing).tick({ force: true })).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // distinct created_at seconds at the provider
    const { batch_key, input_file_id } = await batchRow();
    await real.create({ batchKey: batch_key, inputFileId: input_file_id, metadata: { cascade_batch_key: batch_key } });
    await expireLease();
    const found = await real.findByKey(batch_key);
    expect(found).toHaveLength(2);
    expect(await assembler(real).tick()).toBe(1);
    const oldest = [...found].sort((a, b) => a.createdAt - b.createdAt)[0]!;
    expect((await batchRow()).provider_batch_id).toBe(oldest.providerBatchId);
    const newer = found.find((b) => b.providerBatchId !== oldest.providerBatchId)!;
    expect(['cancelling', 'cancelled']).toContain((await client.retrieveBatch(newer.providerBatchId)).status);
    expect(await strays()).toEqual([{ provider_batch_id: newer.providerBatchId, disposition: 'cancelled', found_by: 'key_lookup' }]);
    expect(sim.stats().batchesCreated).toBe(2);
  }, 30_000);

  it('while submission is paused, a resumed batch adopts what the provider already made, and nothing new is created', async () => {
    const real = new FileBatchSubmissionProvider(client, { maxLines: 100, maxBytes: 50_000_000 });
    let creates = 0;
    // Two batches: the first is created at the provider before its submitter dies, the second dies before its create.
    const dying = providerWith(real, {
      create: async (request) => {
        if (++creates === 1) await real.create(request);
        throw new Error('killed');
      },
    });
    const dyingReplica = assembler(dying, { maxLines: 3 });
    expect(await dyingReplica.tick({ force: true })).toBe(0);
    expect(await dyingReplica.tick({ force: true })).toBe(0);
    expect(creates).toBe(2);
    await writeControl(db.dataSource.manager, 'submission.pause', { paused: true, reason: 'budget review', changedAt: new Date().toISOString() });
    await expireLease();
    const paused = assembler(real, { maxLines: 3 });
    expect(await paused.tick()).toBe(1);
    const rows = await db.dataSource.query(`SELECT state, lease_owner, lease_until > now() AS waits, submit_attempts FROM batches ORDER BY state`);
    expect(rows).toEqual([
      { state: 'creating', lease_owner: null, waits: true, submit_attempts: 1 },
      { state: 'submitted', lease_owner: null, waits: null, submit_attempts: 1 },
    ]);
    expect(sim.stats().batchesCreated).toBe(1);
    // Resumed, the held-back batch is created.
    await writeControl(db.dataSource.manager, 'submission.pause', { paused: false, reason: null, changedAt: new Date().toISOString() });
    await expireLease();
    expect(await paused.tick()).toBe(1);
    expect(sim.stats().batchesCreated).toBe(2);
  }, 30_000);

  it('a held batch is leased again only to adopt a provider batch handed over for it, and then leaves the hold', async () => {
    const real = new FileBatchSubmissionProvider(client, { maxLines: 100, maxBytes: 50_000_000 });
    const refused = providerWith(real, {
      create: async () => Promise.reject(new GroqBatchError('create batch', {}, new APIError(400, { error: { message: 'bad' } }, undefined, new Headers()))),
    });
    expect(await assembler(refused).tick({ force: true })).toBe(0);
    const held = await batchRow();
    expect(held.held_reason).toMatch(/^the provider refused the submission/);
    expect(await assembler(real).tick()).toBe(0);
    expect(sim.stats().batchesCreated).toBe(0);
    // Found by the sweep (say, created by an earlier attempt whose answer was lost) and handed over.
    const made = await real.create({ batchKey: held.batch_key, inputFileId: held.input_file_id, metadata: { cascade_batch_key: held.batch_key } });
    await db.dataSource.query(
      `INSERT INTO stray_provider_batches (provider_batch_id, batch_key, batch_id, input_file_id, provider_status, disposition, found_by)
       VALUES ($1, $2, $3, $4, 'validating', 'handed_over', 'sweep')`,
      [made.providerBatchId, held.batch_key, held.batch_id, held.input_file_id],
    );
    expect(await assembler(real).tick()).toBe(1);
    expect(await batchRow()).toMatchObject({ state: 'submitted', provider_batch_id: made.providerBatchId, held_reason: null });
    expect(sim.stats().batchesCreated).toBe(1);
    expect(await strays()).toEqual([]);
  }, 30_000);

  it('failed submissions back off exponentially on the same uploaded file, honour retry-after, and are held after the cap until an operator retries', async () => {
    const real = new FileBatchSubmissionProvider(client, { maxLines: 100, maxBytes: 50_000_000 });
    let failing = true;
    const unavailable = (retryAfter?: string) =>
      new GroqBatchError('create batch', {}, new APIError(503, { error: { message: 'Service Unavailable' } }, undefined, new Headers()), {
        retryAfterMs: retryAfter ? Number(retryAfter) : null,
      });
    let calls = 0;
    const flaky = providerWith(real, {
      create: async (request) => {
        calls++;
        if (failing) throw unavailable(calls === 2 ? '4000' : undefined);
        return real.create(request);
      },
    });
    // The first wait is 0.5-1 s: long enough that the tick right after the failure finds it not due, even on a loaded machine.
    const policy = { baseDelayMs: 1_000, maxDelayMs: 5_000, maxAttempts: 3 };
    const submitter = assembler(flaky, { submitRetry: policy });
    expect(await submitter.tick({ force: true })).toBe(0);
    let row = await batchRow();
    expect({ attempts: row.submit_attempts, owner: row.lease_owner, held: row.held_reason }).toEqual({ attempts: 1, owner: null, held: null });
    const waitFor = (row: { lease_until: Date }) => new Date(row.lease_until).getTime() - Date.now();
    expect(waitFor(row)).toBeLessThanOrEqual(1_000);
    // Not due yet: a tick right now does nothing.
    expect(await submitter.tick()).toBe(0);
    expect(calls).toBe(1);
    await eventually('the second attempt', async () => (await submitter.tick(), calls === 2));
    row = await batchRow();
    // The provider asked for 4 s, longer than the second step of the backoff (at most 2 s): its wait wins.
    expect(waitFor(row)).toBeGreaterThan(2_500);
    await db.dataSource.query(`UPDATE batches SET lease_until = now()`);
    await eventually('the third attempt', async () => (await submitter.tick(), calls === 3));
    row = await batchRow();
    expect(row.held_reason).toMatch(/^gave up after 3 failed submissions \(SUBMIT_MAX_ATTEMPTS\): create batch .*HTTP 503/);
    expect(row.lease_until).toBeNull();
    // Reconcile names it stranded in the words of `cascade status`.
    const held = heldBatchText({ batchId: row.batch_id, attempts: 3, reason: row.held_reason });
    const ledger = await reconcile(db.dataSource.manager, { defaultStageDeadlineMs: 3_600_000 });
    expect(ledger.strandedRequests.map((request) => request.reason)).toEqual(ledger.strandedRequests.map(() => held));
    expect(ledger.strandedRequests.length).toBeGreaterThan(0);
    expect(ledger.inFlightRequests.filter((request) => request.stranded).map((request) => request.stranded)).toEqual(ledger.strandedRequests.map(() => held));
    // Held: never tried again by itself, and one upload served every attempt.
    expect(await submitter.tick()).toBe(0);
    expect(calls).toBe(3);
    expect(sim.stats().filesUploaded).toBe(1);
    // The operator's retry releases it; the next attempt succeeds on the same file.
    failing = false;
    expect((await retryBatch(db.dataSource.manager, row.batch_id))?.message).toMatch(/will be resumed now \(it was held\)/);
    expect(await submitter.tick()).toBe(1);
    expect(sim.stats()).toMatchObject({ filesUploaded: 1, batchesCreated: 1 });
    expect((await batchRow()).state).toBe('submitted');
  }, 30_000);
});
