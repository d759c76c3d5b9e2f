import { createEvent, type EventEnvelope, type PrIngestedPayload, Topic } from '#contracts';
import { samplePayloads } from '#contracts/testing';
import { ConsumerMetrics, EventInbox, type EventPublisher, type InboundMessage, type OutboxRelay, type OutgoingMessage } from '#platform';
import pino from 'pino';
import type { EntityManager } from 'typeorm';
import { type IngestionOutcome, IngestionService } from '../../apps/batch-submitter/src/ingestion/ingestion.service.js';
import { RequestRepository } from '../../apps/batch-submitter/src/ingestion/request.repository.js';
import { createTestDatabase, type TestDatabase } from '../support/infra.js';
import { SUBMITTER_SETTINGS } from '../support/pipeline.js';

/** The batch path of the consumer edge (`EventInbox.handleBatch` + `IngestionService.acceptMany`) on a real database. */
describe('batched ingestion: one transaction per Kafka batch', () => {
  let db: TestDatabase;
  let inbox: EventInbox;
  let metrics: ConsumerMetrics;
  const sent: OutgoingMessage[] = [];
  const base = samplePayloads()[Topic.PrIngested];
  const settings = SUBMITTER_SETTINGS;
  const ingestion = new IngestionService(new RequestRepository(), settings);
  let outcomes: IngestionOutcome[] = [];
  const accept = async (events: Array<EventEnvelope<PrIngestedPayload>>, manager: EntityManager) => {
    outcomes.push(...(await ingestion.acceptMany(events, manager)));
  };
  const heartbeat = async () => undefined;
  let offset = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    metrics = new ConsumerMetrics('batch-inbox-test');
    const publisher = { send: async (messages: OutgoingMessage[]) => void sent.push(...messages) } as unknown as EventPublisher;
    const relay = { kick: () => undefined } as unknown as OutboxRelay;
    inbox = new EventInbox(db.dataSource, publisher, relay, pino({ level: 'silent' }), metrics, 'batch-inbox-test', 2);
  });
  afterAll(async () => {
    await db?.drop();
  });
  beforeEach(() => {
    outcomes = [];
    sent.length = 0;
  });

  function pr(requestId: string, body = `Body of ${requestId}`) {
    return createEvent(Topic.PrIngested, { ...base, requestId, body }, { correlationId: `corr-${requestId}-${body.length}`, producer: 'batch-test' });
  }
  function message(value: unknown): InboundMessage {
    const bytes = typeof value === 'string' ? Buffer.from(value) : Buffer.from(JSON.stringify(value));
    return { topic: 'pr.ingested.v1', partition: 0, offset: String(offset++), value: bytes, key: 'k', headers: {}, heartbeat };
  }
  async function request(requestId: string) {
    const rows = await db.dataSource.query(`SELECT status, stage, content_hash, correlation_id, flags FROM requests WHERE request_id = $1`, [requestId]);
    return rows[0] as { status: string; stage: string; content_hash: string; correlation_id: string; flags: Record<string, unknown> } | undefined;
  }
  async function consumed(outcome: string): Promise<number> {
    const metric = await metrics.consumed.get();
    return metric.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  }

  it('gives each event the outcome it would have had alone, duplicates within the batch included', async () => {
    const first = pr('b/1');
    const edited = pr('b/2', 'Edited text');
    const events = [first, pr('b/2'), pr('b/3', '   '), first, edited, pr('b/2', 'Edited text')];
    await inbox.handleBatch(Topic.PrIngested, events.map(message), heartbeat, accept);
    // The same event twice is one event; b/2 is replaced by its edit, and the edit's replay changes nothing.
    expect(outcomes).toEqual(['queued', 'queued', 'excluded', 'requeued', 'unchanged']);
    expect(await request('b/2')).toMatchObject({ status: 'pending', correlation_id: edited.correlationId, flags: expect.objectContaining({ cache: 'miss' }) });
    expect(await request('b/3')).toMatchObject({ status: 'excluded', stage: 'excluded' });
    const [excluded] = await db.dataSource.query(`SELECT status, error_code FROM results WHERE request_id = 'b/3'`);
    expect(excluded).toEqual({ status: 'excluded', error_code: 'empty_body' });
    const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM processed_events WHERE event_id = $1`, [first.eventId]);
    expect(n).toBe(1);

    // A later batch: a replayed event is a duplicate, the same text under a new event is 'unchanged'.
    outcomes = [];
    await inbox.handleBatch(Topic.PrIngested, [message(first), message(pr('b/1'))], heartbeat, accept);
    expect(outcomes).toEqual(['unchanged']);
  });

  it('answers from the response cache with a hit flag, and a miss flag otherwise', async () => {
    const original = pr('c/1', 'Cached text');
    await inbox.handleBatch(Topic.PrIngested, [message(original)], heartbeat, accept);
    const [row] = await db.dataSource.query(`SELECT content_hash FROM requests WHERE request_id = 'c/1'`);
    await db.dataSource.query(
      `INSERT INTO results (request_id, prompt_version, status, team, repo, pr_number, content_hash, analysis, model, pass, attempt)
       VALUES ('c/1', 'pr-analysis-v1', 'succeeded', $1, $2, $3, $4, '{"risk": "low"}', 'openai/gpt-oss-20b', 1, 1)`,
      [base.team, base.repo, base.prNumber, row.content_hash],
    );
    outcomes = [];
    await inbox.handleBatch(Topic.PrIngested, [message(pr('c/2', 'Cached text')), message(pr('c/3', 'Other text'))], heartbeat, accept);
    expect(outcomes).toEqual(['reused', 'queued']);
    expect(await request('c/2')).toMatchObject({ status: 'succeeded', stage: 'reused', flags: expect.objectContaining({ cache: 'hit' }) });
    expect(await request('c/3')).toMatchObject({ status: 'pending', flags: expect.objectContaining({ cache: 'miss' }) });
    const [reused] = await db.dataSource.query(`SELECT status, analysis, error_message FROM results WHERE request_id = 'c/2'`);
    expect(reused).toEqual({ status: 'succeeded', analysis: { risk: 'low' }, error_message: 'reused the result of c/1' });
  });

  it('dead-letters a poison message in the middle of a batch with its reason and keeps the others', async () => {
    const missing = pr('p/2') as unknown as { payload: Record<string, unknown>; eventId: string };
    delete missing.payload.team;
    const before = await consumed('dead-lettered');
    await inbox.handleBatch(Topic.PrIngested, [message(pr('p/1')), message(missing), message('{not json'), message(pr('p/3'))], heartbeat, accept);
    expect(outcomes).toEqual(['queued', 'queued']);
    expect(await request('p/1')).toBeDefined();
    expect(await request('p/3')).toBeDefined();
    expect(await request('p/2')).toBeUndefined();
    expect(sent.map((m) => [m.topic, m.headers['dlq-path'], m.headers['dlq-event-id']])).toEqual([
      ['pr.ingested.v1.dlq', 'payload.team', missing.eventId],
      ['pr.ingested.v1.dlq', '', ''],
    ]);
    expect(sent[1]!.headers['dlq-reason']).toMatch(/not JSON/);
    expect(await consumed('dead-lettered')).toBe(before + 2);
  });

  it('isolates an event whose effect keeps failing: the rest commit, that one is dead-lettered', async () => {
    const events = [pr('f/1'), pr('f/2'), pr('f/3')];
    const failing = async (batch: Array<EventEnvelope<PrIngestedPayload>>, manager: EntityManager) => {
      await accept(batch, manager);
      if (batch.some((event) => event.payload.requestId === 'f/2')) throw new Error('cannot analyse f/2');
    };
    await inbox.handleBatch(Topic.PrIngested, events.map(message), heartbeat, failing);
    expect(await request('f/1')).toBeDefined();
    expect(await request('f/2')).toBeUndefined();
    expect(await request('f/3')).toBeDefined();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers['dlq-reason']).toMatch(/handler failed 2 times: cannot analyse f\/2/);
    expect(sent[0]!.headers['dlq-event-id']).toBe(events[1]!.eventId);
  });

  it('rethrows a database outage mid-batch with nothing committed; the redelivered batch is handled whole', async () => {
    const events = [pr('d/1'), pr('d/2'), pr('d/3')];
    let calls = 0;
    const outage = async (batch: Array<EventEnvelope<PrIngestedPayload>>, manager: EntityManager) => {
      await accept(batch, manager);
      if (++calls === 1) throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    };
    await expect(inbox.handleBatch(Topic.PrIngested, events.map(message), heartbeat, outage)).rejects.toThrow(/terminating connection/);
    const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM requests WHERE request_id LIKE 'd/%'`);
    expect(n).toBe(0);
    const claimed = await db.dataSource.query(`SELECT 1 FROM processed_events WHERE event_id = ANY($1::uuid[])`, [events.map((e) => e.eventId)]);
    expect(claimed).toHaveLength(0);
    expect(sent).toHaveLength(0);

    outcomes = [];
    await inbox.handleBatch(Topic.PrIngested, events.map(message), heartbeat, outage);
    expect(outcomes).toEqual(['queued', 'queued', 'queued']);
    const rows = await db.dataSource.query(`SELECT request_id FROM requests WHERE request_id LIKE 'd/%' ORDER BY request_id`);
    expect(rows.map((r: { request_id: string }) => r.request_id)).toEqual(['d/1', 'd/2', 'd/3']);
  });
});
