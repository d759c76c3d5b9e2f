import { randomUUID } from 'node:crypto';
import { createEvent, decodeEvent, type RequestMetadata, type SucceededRequest, Topic } from '#contracts';
import { samplePayloads } from '#contracts/testing';
import { cacheStats, reconcile } from '#ledger';
import { EventPublisher, OutboxRepository, writeControl } from '#platform';
import type { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { IngestionService } from '../../apps/batch-submitter/src/ingestion/ingestion.service.js';
import { RequestRepository } from '../../apps/batch-submitter/src/ingestion/request.repository.js';
import { MergeService } from '../../apps/result-writer/src/merge/merge.service.js';
import { ResultRepository } from '../../apps/result-writer/src/merge/result.repository.js';
import { FailureRepository } from '../../apps/retry-service/src/retry/failure.repository.js';
import { RetryService } from '../../apps/retry-service/src/retry/retry.service.js';
import { SUBMITTER_SETTINGS, usePipeline } from '../support/pipeline.js';

/** Medium tests: the services' rules against the real PostgreSQL schema, without the transport. */
describe('ingest → retry → merge against PostgreSQL', () => {
  const fixture = usePipeline({ name: 'merge' });
  let ds: DataSource;
  const outbox = new OutboxRepository(new EventPublisher(null as unknown as Kafka, ''));
  const settings = SUBMITTER_SETTINGS;
  const ingestion = new IngestionService(new RequestRepository(), settings, outbox);
  const retry = new RetryService(new FailureRepository(), outbox, {
    modelChain: settings.modelChain,
    maxAttempts: 3,
    maxTokensGrowth: 2,
    maxTokensCeiling: 8_192,
  });
  const merge = new MergeService(new ResultRepository(), outbox);
  const base = samplePayloads()[Topic.PrIngested];
  const analysis = samplePayloads()[Topic.BatchCompleted].results[0]!.analysis;

  beforeAll(() => {
    ds = fixture.db.dataSource;
  });

  /** Hands the result-writer what ingestion settled itself (excluded, reused), as its consumer would. */
  const delivered = new Set<string>();
  async function deliverSettled() {
    const rows: Array<{ event_id: string; message_value: Buffer }> = await ds.query(
      `SELECT event_id, message_value FROM outbox WHERE topic = $1 ORDER BY id`,
      [Topic.RequestsSettled],
    );
    for (const row of rows.filter((r) => !delivered.has(r.event_id))) {
      delivered.add(row.event_id);
      const decoded = decodeEvent(Topic.RequestsSettled, row.message_value);
      if (!decoded.ok) throw decoded.violation;
      await ds.transaction((m) => merge.recordSettled(decoded.event, m));
    }
  }

  async function ingest(requestId: string, body = `Body of ${requestId}`, service = ingestion) {
    const event = createEvent(Topic.PrIngested, { ...base, requestId, body }, { correlationId: `c-${requestId}`, producer: 'test' });
    const outcome = await ds.transaction((m) => service.accept(event, m));
    await deliverSettled();
    return outcome;
  }

  async function metadataOf(requestId: string): Promise<RequestMetadata> {
    const [row] = await ds.query('SELECT * FROM requests WHERE request_id = $1', [requestId]);
    return {
      requestId,
      correlationId: row.correlation_id,
      team: row.team,
      repo: row.repo,
      prNumber: row.pr_number,
      promptVersion: row.prompt_version,
      attempt: row.attempt,
      contentHash: row.content_hash,
    };
  }

  async function putInFlight(requestId: string, batchId: string) {
    await ds.query(
      `INSERT INTO batches (batch_id, batch_key, pass, model, prompt_version, max_tokens, state, request_count)
       VALUES ($1, $1, 1, 'm', 'pr-analysis-v1', 1024, 'submitted', 1) ON CONFLICT DO NOTHING`,
      [batchId],
    );
    await ds.query(`UPDATE requests SET status = 'in_flight', stage = 'awaiting_retry', current_batch_id = $2 WHERE request_id = $1`, [
      requestId,
      batchId,
    ]);
  }

  function failed(request: RequestMetadata, code: string, message: string, model = 'openai/gpt-oss-20b', pass = 1) {
    return createEvent(
      Topic.RequestsFailed,
      {
        batchId: 'b-1',
        providerBatchId: 'batch_01',
        pass,
        model,
        promptVersion: request.promptVersion,
        part: 1,
        parts: 1,
        failures: [{ request, code, message, httpStatus: 400, failedGeneration: '{"sum', model, pass, maxTokens: 1_024, batchId: 'b-1' }],
      },
      { correlationId: request.correlationId, producer: 'test' },
    );
  }

  function completed(request: RequestMetadata, model: string, pass: number) {
    const result: SucceededRequest = { request, analysis, model, pass, usage: { promptTokens: 800, completionTokens: 150 }, costUsd: 0.0001 };
    return createEvent(
      Topic.BatchCompleted,
      { batchId: `b-${pass}`, providerBatchId: `batch_${pass}`, providerStatus: 'completed', pass, model, promptVersion: request.promptVersion, requestCount: 1, part: 1, parts: 1, results: [result] },
      { correlationId: request.correlationId, producer: 'test' },
    );
  }

  it('excludes empty bodies with a terminal record and queues the rest on the first model', async () => {
    expect(await ingest('r-empty', '   ')).toBe('excluded');
    expect(await ingest('r-1')).toBe('queued');
    const rows = await ds.query(`SELECT request_id, status, model, pass, attempt FROM requests ORDER BY request_id`);
    expect(rows).toEqual([
      { request_id: 'r-1', status: 'pending', model: 'openai/gpt-oss-20b', pass: 1, attempt: 1 },
      { request_id: 'r-empty', status: 'excluded', model: null, pass: 1, attempt: 1 },
    ]);
    const [result] = await ds.query(`SELECT status, error_code FROM results WHERE request_id = 'r-empty'`);
    expect(result).toEqual({ status: 'excluded', error_code: 'empty_body' });
  });

  it('a json_validate_failed on the cheap model is re-queued as pass 2 on the fallback model, then merged with its history', async () => {
    await putInFlight('r-1', 'b-1');
    const request = await metadataOf('r-1');
    const outcome = await ds.transaction((m) => retry.handle(failed(request, 'json_validate_failed', 'Failed to validate JSON.'), m));
    expect(outcome).toEqual({ requeued: 1, permanent: 0, skipped: 0 });
    const [row] = await ds.query(`SELECT status, pass, attempt, model FROM requests WHERE request_id = 'r-1'`);
    expect(row).toEqual({ status: 'pending', pass: 2, attempt: 2, model: 'llama-3.3-70b-versatile' });

    // The same failure delivered again changes nothing.
    const again = await ds.transaction((m) => retry.handle(failed(request, 'json_validate_failed', 'Failed to validate JSON.'), m));
    expect(again).toEqual({ requeued: 0, permanent: 0, skipped: 1 });

    await putInFlight('r-1', 'b-2');
    const second = await metadataOf('r-1');
    const resolved = await ds.transaction((m) => merge.mergeResults(completed(second, 'llama-3.3-70b-versatile', 2), m));
    expect(resolved.map((r) => [r.request.requestId, r.status, r.pass])).toEqual([['r-1', 'succeeded', 2]]);
    const [result] = await ds.query(`SELECT status, model, pass, attempts FROM results WHERE request_id = 'r-1'`);
    expect(result.model).toBe('llama-3.3-70b-versatile');
    expect(result.attempts).toEqual([expect.objectContaining({ attempt: 1, pass: 1, code: 'json_validate_failed' })]);

    // Re-delivery of the result: no new row, no second ResultsMerged.
    const before = await ds.query(`SELECT count(*)::int AS n FROM outbox WHERE topic = $1`, [Topic.ResultsMerged]);
    const duplicate = await ds.transaction((m) => merge.mergeResults(completed(second, 'llama-3.3-70b-versatile', 2), m));
    expect(duplicate).toEqual([]);
    const after = await ds.query(`SELECT count(*)::int AS n FROM outbox WHERE topic = $1`, [Topic.ResultsMerged]);
    expect(after[0].n).toBe(before[0].n);
  });

  it('an input too long is permanent at once and the merge records it with every attempt (API-level failures are not dropped)', async () => {
    await ingest('r-long');
    await putInFlight('r-long', 'b-1');
    const request = await metadataOf('r-long');
    await ds.transaction((m) => retry.handle(failed(request, 'context_length_exceeded', 'Please reduce the length of the messages.'), m));
    const [event] = await ds.query(`SELECT message_value FROM outbox WHERE topic = $1`, [Topic.RequestsFailedPermanently]);
    const permanent = JSON.parse(event.message_value.toString());
    expect(permanent.payload.failures[0]).toMatchObject({ code: 'context_length_exceeded', request: { requestId: 'r-long' } });
    expect(permanent.payload.failures[0].attempts).toHaveLength(1);

    const envelope = createEvent(Topic.RequestsFailedPermanently, permanent.payload, { correlationId: 'c', producer: 'test', eventId: randomUUID() });
    await ds.transaction((m) => merge.recordPermanentFailures(envelope, m));
    const [result] = await ds.query(`SELECT status, error_code, attempts FROM results WHERE request_id = 'r-long'`);
    expect(result.status).toBe('failed');
    expect(result.error_code).toBe('context_length_exceeded');
    expect(result.attempts[0]).toMatchObject({ attempt: 1, code: 'context_length_exceeded' });

    const report = await reconcile(ds.manager, { defaultStageDeadlineMs: 60_000 });
    expect(report).toMatchObject({ ingested: 3, succeeded: 1, failed: 1, excluded: 1, inFlight: 0, invariantHolds: true, lost: [] });
  });

  it('replaying the same PR text under the same prompt version changes nothing; edited text is a new analysis', async () => {
    expect(await ingest('r-1')).toBe('unchanged');
    const [before] = await ds.query(`SELECT attempt FROM requests WHERE request_id = 'r-1'`);
    expect(await ingest('r-1', 'Edited body')).toBe('requeued');
    // The edited text starts at the next attempt number: the earlier text's attempts stay in the history.
    const [row] = await ds.query(`SELECT status, attempt, first_attempt, pass FROM requests WHERE request_id = 'r-1'`);
    expect(row).toEqual({ status: 'pending', attempt: before.attempt + 1, first_attempt: before.attempt + 1, pass: 1 });
  });

  it('a different request with identical content is answered from the stored result at $0', async () => {
    await ingest('r-twin-a', 'Twin body');
    await putInFlight('r-twin-a', 'b-1');
    const request = await metadataOf('r-twin-a');
    await ds.transaction((m) => merge.mergeResults(completed(request, 'openai/gpt-oss-20b', 1), m));
    // Same repo, title, author, labels, sizes and body: the same prompt.
    expect(await ingest('r-twin-b', 'Twin body')).toBe('reused');
    const [twin] = await ds.query(`SELECT status, cost_usd, error_message FROM results WHERE request_id = 'r-twin-b'`);
    expect(twin.status).toBe('succeeded');
    expect(Number(twin.cost_usd)).toBe(0);
    expect(twin.error_message).toMatch(/reused the result of r-twin-a/);
  });

  it('the response cache answers identical content within its TTL, not after a clear or past the TTL, and counts hits and misses', async () => {
    const before = await cacheStats(ds.manager, 720);
    const body = `Cached body ${randomUUID()}`;
    expect(await ingest('cache-a', body)).toBe('queued');
    const [{ content_hash: hash }] = await ds.query(`SELECT content_hash FROM requests WHERE request_id = 'cache-a'`);
    await ds.query(
      `INSERT INTO results (request_id, prompt_version, status, team, repo, pr_number, content_hash, analysis, model, pass, attempt)
       VALUES ('cache-a', 'pr-analysis-v1', 'succeeded', 'payments', 'acme/api', 1, $1, $2, 'openai/gpt-oss-20b', 1, 1)`,
      [hash, JSON.stringify(analysis)],
    );
    expect(await ingest('cache-b', body)).toBe('reused');
    const cached = await cacheStats(ds.manager, 720);
    expect(cached.entries).toBe(before.entries + 1);
    expect(cached.bytes).toBeGreaterThan(before.bytes);

    // Past the TTL: the same lookup misses (a 1-hour TTL against a result resolved 2 hours ago).
    await ds.query(`UPDATE results SET resolved_at = now() - interval '2 hours' WHERE request_id = 'cache-a'`);
    const shortTtl = new IngestionService(new RequestRepository(), { ...settings, cacheTtlHours: 1 }, outbox);
    expect(await ingest('cache-ttl', body, shortTtl)).toBe('queued');
    await ds.query(`UPDATE results SET resolved_at = now() WHERE request_id = 'cache-a'`);

    await writeControl(ds.manager, 'cache', { clearedAt: new Date(Date.now() + 1_000).toISOString() });
    expect(await ingest('cache-c', body)).toBe('queued');
    const after = await cacheStats(ds.manager, 720);
    // Lookups: a (miss), b (hit), ttl (miss), c (miss).
    expect(after.hits - before.hits).toBe(1);
    expect(after.misses - before.misses).toBe(3);
    expect(after.entries).toBe(0);
    await writeControl(ds.manager, 'cache', { clearedAt: null });
  });

  it("a merge whose terminal record is already there still settles the request: a re-sent request is never stranded", async () => {
    expect(await ingest('r-again')).toBe('queued');
    const request = await metadataOf('r-again');
    await putInFlight('r-again', 'b-1');
    await ds.transaction((m) => merge.mergeResults(completed(request, 'openai/gpt-oss-20b', 1), m));
    // Re-opened with the same content, as a replay that re-sent it left it: in flight, its result already stored.
    await ds.query(`UPDATE requests SET status = 'in_flight', stage = 'awaiting_merge' WHERE request_id = 'r-again'`);
    const announced = async () => (await ds.query(`SELECT count(*)::int AS n FROM outbox WHERE topic = $1`, [Topic.ResultsMerged]))[0].n as number;
    const before = await announced();
    await ds.transaction((m) => merge.mergeResults(completed(request, 'openai/gpt-oss-20b', 1), m));
    const [row] = await ds.query(`SELECT status, stage FROM requests WHERE request_id = 'r-again'`);
    expect(row).toEqual({ status: 'succeeded', stage: 'merged' });
    // Settled on the record it already had: no second terminal record, no second terminal event.
    expect((await ds.query(`SELECT count(*)::int AS n FROM results WHERE request_id = 'r-again'`))[0].n).toBe(1);
    expect(await announced()).toBe(before);
  });
});
