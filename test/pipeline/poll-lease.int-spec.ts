import { type RequestMetadata, type SucceededRequest } from '#contracts';
import { samplePayloads } from '#contracts/testing';
import { EventPublisher, type OutboxRelay, OutboxRepository } from '#platform';
import type { Kafka } from 'kafkajs';
import pino from 'pino';
import type { BatchOutcomeReader, BatchToCollect, CollectedOutcome, ProviderBatchState } from '../../apps/poller/src/polling/batch-outcome.port.js';
import { PollerService } from '../../apps/poller/src/polling/poller.service.js';
import { BatchTrackingRepository } from '../../apps/poller/src/tracking/batch-tracking.repository.js';
import { createTestDatabase, eventually, type TestDatabase } from '../support/infra.js';
import { Topic } from '#contracts';

const LEASE_MS = 1_500;

/**
 * A provider whose output takes `collectMs` to read (a large file on a slow link); it answers every sent
 * id, and counts how often it was asked.
 */
function slowProvider(collectMs: number): BatchOutcomeReader & { collects: number } {
  const analysis = samplePayloads()[Topic.BatchCompleted].results[0]!.analysis;
  return {
    collects: 0,
    async retrieve(providerBatchId: string): Promise<ProviderBatchState> {
      return { providerBatchId, status: 'completed', outputFileId: 'file-out', errorFileId: null, counts: { total: 1, completed: 1, failed: 0 }, errors: null };
    },
    async cancel(): Promise<string> {
      return 'cancelling';
    },
    async deleteInputFile(): Promise<void> {},
    async collect(_state: ProviderBatchState, batch: BatchToCollect, sent: RequestMetadata[]): Promise<CollectedOutcome> {
      this.collects++;
      await new Promise((resolve) => setTimeout(resolve, collectMs));
      const succeeded: SucceededRequest[] = sent.map((request) => ({
        request,
        analysis,
        model: batch.model,
        pass: batch.pass,
        usage: { promptTokens: 10, completionTokens: 5 },
        costUsd: 0,
      }));
      const part = { lines: 0, promptTokens: 0, completionTokens: 0, usd: 0 };
      return { succeeded, failed: [], cost: { answered: part, failedAttempts: part, estimated: part, totalUsd: 0 }, anomalies: [] };
    },
  };
}

describe('poll leases: renewed while a poll works, short when its holder dies', () => {
  let db: TestDatabase;
  const tracking = new BatchTrackingRepository();
  const outbox = new OutboxRepository(new EventPublisher(null as unknown as Kafka, ''));
  const relay = { kick: () => undefined } as unknown as OutboxRelay;
  const poller = (reader: BatchOutcomeReader) =>
    new PollerService(db.dataSource, tracking, { for: () => reader }, outbox, relay, pino({ level: 'silent' }), {
      tickMs: 100,
      concurrency: 4,
      leaseMs: LEASE_MS,
      firstPollDelayMs: 100,
      maxPollDelayMs: 1_000,
      stageDeadlineMs: 60_000,
      inputCleanupRetryMs: 60_000,
      autoStart: false,
    }, { recordFinishedBatch: () => undefined });

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  async function submittedBatch(batchId: string, lease: { owner: string; untilMs: number } | null = null) {
    const request = { ...samplePayloads()[Topic.BatchSubmitted].requests[0]!, requestId: `${batchId}/r1` };
    await db.dataSource.query(
      `INSERT INTO batches (batch_id, batch_key, pass, model, prompt_version, max_tokens, state, request_count, provider_batch_id, tracked_at,
                            next_poll_at, submitted_at, lease_owner, lease_until)
       VALUES ($1, $1, 1, 'openai/gpt-oss-20b', 'pr-analysis-v1', 1024, 'submitted', 1, $1, now(), now(), now(), $2,
               CASE WHEN $2::text IS NULL THEN NULL ELSE now() + make_interval(secs => $3::float8 / 1000) END)`,
      [batchId, lease?.owner ?? null, lease?.untilMs ?? 0],
    );
    await db.dataSource.query(
      `INSERT INTO requests (request_id, prompt_version, correlation_id, team, repo, pr_number, content_hash, status, stage, current_batch_id, pr_bytes)
       VALUES ($1, 'pr-analysis-v1', 'c', 'team', 'acme/api', 1, $2, 'in_flight', 'submitted', $3, 2)`,
      [request.requestId, request.contentHash, batchId],
    );
    await db.dataSource.query(`INSERT INTO batch_items (batch_id, request_id, prompt_version, attempt, metadata) VALUES ($1, $2, 'pr-analysis-v1', 1, $3)`, [
      batchId,
      request.requestId,
      JSON.stringify(request),
    ]);
  }

  const stateOf = async (batchId: string) =>
    (await db.dataSource.query(`SELECT state, lease_owner FROM batches WHERE batch_id = $1`, [batchId]))[0] as { state: string; lease_owner: string | null };

  it('a poll that takes three leases long keeps its batch: no other replica takes it, the provider is read once', async () => {
    await submittedBatch('b-slow');
    const reader = slowProvider(3 * LEASE_MS);
    const first = poller(reader).pollDue();
    await eventually('the first replica holds the batch', async () => (await stateOf('b-slow')).lease_owner !== null);
    // Another replica keeps looking for due batches the whole time the first one works.
    const other = poller(reader);
    let taken = 0;
    while ((await stateOf('b-slow')).state !== 'finished') {
      taken += await other.pollDue();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await first).toBe(1);
    expect(taken).toBe(0);
    expect(reader.collects).toBe(1);
  }, 30_000);

  it("a dead holder's batch is polled by another replica once its short lease runs out", async () => {
    // The holder died right after claiming: its lease is never renewed.
    await submittedBatch('b-orphan', { owner: 'poller-dead', untilMs: LEASE_MS });
    const started = Date.now();
    const live = poller(slowProvider(0));
    await eventually('the batch finished by a live replica', async () => {
      await live.pollDue();
      return (await stateOf('b-orphan')).state === 'finished';
    }, 10_000);
    // Picked up within about one lease of the holder's death, not ten minutes.
    expect(Date.now() - started).toBeLessThan(LEASE_MS + 5_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(LEASE_MS - 200);
  }, 30_000);
});
