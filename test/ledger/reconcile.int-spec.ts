import { reconcile } from '#ledger';
import type { DataSource } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '../support/infra.js';

/*
 * The reconcile rules on hand-made rows (real schema, real migrations): each state a crash, a lost event
 * or a dead process can leave behind, and what reconcile must say of it.
 */
const STRANDED_AFTER_MS = 60_000;

describe('reconcile: stranded, lost and the invariant from independent sources', () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = db.dataSource;
  });
  afterAll(async () => db?.drop());
  beforeEach(async () => {
    await ds.query('TRUNCATE requests, request_inputs, results, batch_items, stray_provider_batches, batches, dead_letters');
  });

  async function request(id: string, status: string, stage: string, options: { batch?: string; movedAgo?: string; hash?: string } = {}) {
    await ds.query(
      `INSERT INTO requests (request_id, prompt_version, correlation_id, team, repo, pr_number, content_hash, status, stage, current_batch_id, pr_bytes, updated_at)
       VALUES ($1, 'pr-analysis-v1', 'c', 'team', 'acme/api', 1, $2, $3, $4, $5, 2, now() - $6::interval)`,
      [id, options.hash ?? 'h', status, stage, options.batch ?? null, options.movedAgo ?? '0 seconds'],
    );
  }
  async function result(id: string, status: string, hash = 'h') {
    await ds.query(
      `INSERT INTO results (request_id, prompt_version, status, team, repo, pr_number, content_hash, attempt)
       VALUES ($1, 'pr-analysis-v1', $2, 'team', 'acme/api', 1, $3, 1)`,
      [id, status, hash],
    );
  }
  async function batch(
    id: string,
    state: string,
    extra: { leaseOwner?: string; leaseUntilAgo?: string; nextPollAgo?: string; providerStatus?: string; statusSinceAgo?: string; lastError?: string } = {},
  ) {
    await ds.query(
      `INSERT INTO batches (batch_id, batch_key, pass, model, prompt_version, max_tokens, state, request_count, lease_owner, lease_until, next_poll_at,
                            submitted_at, provider_status, status_since, last_error)
       VALUES ($1, $1, 1, 'm', 'pr-analysis-v1', 1024, $2, 1, $3, now() - $4::interval, now() - $5::interval, now() - interval '1 hour',
               $6, now() - $7::interval, $8)`,
      [
        id,
        state,
        extra.leaseOwner ?? null,
        extra.leaseUntilAgo ?? '0 seconds',
        extra.nextPollAgo ?? '0 seconds',
        extra.providerStatus ?? 'in_progress',
        extra.statusSinceAgo ?? '0 seconds',
        extra.lastError ?? null,
      ],
    );
  }
  const check = () => reconcile(ds.manager, { defaultStageDeadlineMs: 26 * 3_600_000, strandedAfterMs: STRANDED_AFTER_MS });

  it('a healthy ledger holds: terminal requests with their records, in-flight ones that can still move', async () => {
    await request('done', 'succeeded', 'merged');
    await result('done', 'succeeded');
    await batch('b-live', 'submitted', { leaseOwner: 'poller-1', nextPollAgo: '5 seconds' });
    await request('moving', 'in_flight', 'submitted', { batch: 'b-live', movedAgo: '2 hours' });
    await request('queued', 'pending', 'queued', { movedAgo: '2 hours' });
    const report = await check();
    expect(report).toMatchObject({ ingested: 3, succeeded: 1, inFlight: 2, stranded: 0, lost: [], invariantHolds: true });
  });

  it('names each stranded request with its reason and the lease holder, and the invariant fails', async () => {
    // A replay's leftover: the terminal record for this content exists, the request was never settled.
    await result('settled-elsewhere', 'succeeded');
    await request('settled-elsewhere', 'in_flight', 'awaiting_merge', { movedAgo: '5 minutes' });
    // A poller killed while holding the batch's lease: not polled for 10 minutes.
    await batch('b-orphan', 'submitted', { leaseOwner: 'poller-7f3', leaseUntilAgo: '9 minutes', nextPollAgo: '10 minutes' });
    await request('orphaned', 'in_flight', 'submitted', { batch: 'b-orphan', movedAgo: '1 hour' });
    // A submitter killed during create: its lease ran out 5 minutes ago.
    await batch('b-creating', 'creating', { leaseOwner: 'submitter-2', leaseUntilAgo: '5 minutes' });
    await request('creating', 'in_flight', 'submitting', { batch: 'b-creating', movedAgo: '6 minutes' });
    // A retry decision that never came.
    await batch('b-done', 'finished');
    await request('no-decision', 'in_flight', 'awaiting_retry', { batch: 'b-done', movedAgo: '3 minutes' });
    // Polled every few seconds, but every poll fails (or its item list never completes): no progress for 20 minutes.
    await batch('b-failing', 'submitted', { providerStatus: 'poll_error', statusSinceAgo: '20 minutes', lastError: 'download refused: 500' });
    await request('failing', 'in_flight', 'submitted', { batch: 'b-failing', movedAgo: '1 hour' });
    await batch('b-parts', 'submitted', { providerStatus: 'awaiting_items', statusSinceAgo: '20 minutes' });
    await request('parts', 'in_flight', 'submitted', { batch: 'b-parts', movedAgo: '1 hour' });
    // Recent: may still move, not stranded yet.
    await request('recent', 'in_flight', 'awaiting_merge', { batch: 'b-done', movedAgo: '10 seconds' });

    const report = await check();
    expect(report.stranded).toBe(6);
    expect(report.invariantHolds).toBe(false);
    const byId = Object.fromEntries(report.strandedRequests.map((s) => [s.requestId, s]));
    expect(byId['settled-elsewhere']!.reason).toMatch(/terminal record \(succeeded\) exists for this content, but the request was never settled/);
    expect(byId.orphaned).toMatchObject({ holder: 'poller-7f3', batchId: 'b-orphan' });
    expect(byId.orphaned!.reason).toMatch(/batch b-orphan has not been polled since .* \(last lease holder poller-7f3\)/);
    expect(byId.creating!.reason).toMatch(/batch b-creating is being created under a lease of submitter-2 that ran out at/);
    expect(byId['no-decision']!.reason).toMatch(/waiting for the retry-service since .* \(batch b-done finished\)/);
    expect(byId.failing!.reason).toMatch(/batch b-failing fails every poll: download refused: 500 since/);
    expect(byId.parts!.reason).toMatch(/batch b-parts still misses part of its item list/);
    expect(byId.recent).toBeUndefined();
    expect(report.checks.find((c) => c.name === 'nothing stranded')).toMatchObject({ ok: false });
  });

  it('a terminal request without its terminal record breaks the equation and is lost', async () => {
    await request('told-done', 'succeeded', 'merged');
    await request('other-content', 'failed', 'merged', { hash: 'new' });
    await result('other-content', 'failed', 'old');
    const report = await check();
    // The terminal counts come from the terminal records: neither request has one for its content.
    expect(report).toMatchObject({ ingested: 2, succeeded: 0, failed: 0, inFlight: 0, invariantHolds: false });
    expect(report.lost.map((l) => [l.requestId, l.reason])).toEqual([
      ['other-content', 'status failed but its terminal record is for other content'],
      ['told-done', 'status succeeded has no terminal record'],
    ]);
    expect(report.checks.find((c) => c.name === 'terminal requests have their terminal record')).toMatchObject({ ok: false });
  });

  it('counts ids refused after their request id was read as dead-lettered, until they are stored', async () => {
    await ds.query(
      `INSERT INTO dead_letters (consumer_group, topic, partition, message_offset, request_id, prompt_version, reason, dlq_topic)
       VALUES ('g', 'pr.ingested.v1', 0, 7, 'refused', NULL, 'payload.prNumber: too big', 'pr.ingested.v1.dlq'),
              ('g', 'pr.ingested.v1', 0, 9, 'refused', NULL, 'payload.prNumber: too big', 'pr.ingested.v1.dlq')`,
    );
    expect(await check()).toMatchObject({ ingested: 1, deadLettered: 1, invariantHolds: true });
    // Re-driven after a fix and stored: no longer dead-lettered, counted once as a request.
    await request('refused', 'pending', 'queued');
    expect(await check()).toMatchObject({ ingested: 1, deadLettered: 0, inFlight: 1, invariantHolds: true });
  });
});
