import { createEvent, decodeEvent, type EventEnvelope, type PrIngestedPayload, type RequestsSettledPayload, Topic } from '#contracts';
import { samplePayloads } from '#contracts/testing';
import { ConsumerMetrics, EventInbox, EventPublisher, type InboundMessage, type OutboxRelay, OutboxRepository, type OutgoingMessage } from '#platform';
import type { Kafka } from 'kafkajs';
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
  const ingestion = new IngestionService(new RequestRepository(), settings, new OutboxRepository(new EventPublisher(null as unknown as Kafka, '')));
  let outcomes: IngestionOutcome[] = [];
  const accept = async (events: Array<EventEnvelope<PrIngestedPayload>>, manager: EntityManager) => {
    outcomes.push(...(await ingestion.acceptMany(events, manager)));
  };
  const heartbeat = async () => undefined;
  const analysis = samplePayloads()[Topic.BatchCompleted].results[0]!.analysis;
  async function settledEvents(): Promise<RequestsSettledPayload[]> {
    const rows: Array<{ message_value: Buffer }> = await db.dataSource.query(`SELECT message_value FROM outbox WHERE topic = $1 ORDER BY id`, [Topic.RequestsSettled]);
    return rows.map((row) => {
      const decoded = decodeEvent(Topic.RequestsSettled, row.message_value);
      if (!decoded.ok) throw decoded.violation;
      return decoded.event.payload;
    });
  }
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
    const rows = await db.dataSource.query(`SELECT status, stage, content_hash, correlation_id, flags, exclusion_reason FROM requests WHERE request_id = $1`, [requestId]);
    return rows[0] as { status: string; stage: string; content_hash: string; correlation_id: string; flags: Record<string, unknown>; exclusion_reason: string | null } | undefined;
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
    // Excluded: never sent; it waits for the result-writer, which writes its terminal record from requests.settled.v1.
    expect(await request('b/3')).toMatchObject({ status: 'in_flight', stage: 'awaiting_merge', exclusion_reason: 'empty_body' });
    expect((await settledEvents()).flatMap((e) => e.settled)).toEqual([
      expect.objectContaining({ request: expect.objectContaining({ requestId: 'b/3' }), outcome: 'excluded', reason: 'empty_body' }),
    ]);
    const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM processed_events WHERE event_id = $1`, [first.eventId]);
    expect(n).toBe(1);

    // A later batch: a replayed event is a duplicate, the same text under a new event is 'unchanged'.
    outcomes = [];
    await inbox.handleBatch(Topic.PrIngested, [message(first), message(pr('b/1'))], heartbeat, accept);
    expect(outcomes).toEqual(['unchanged']);
  });

  it('an older copy with other text arriving after a newer one (a replay, a re-drive) is stale and changes nothing', async () => {
    const at = (iso: string, body: string, requestId = 'o/1') =>
      createEvent(Topic.PrIngested, { ...base, requestId, body }, { correlationId: `corr-${requestId}`, producer: 'batch-test', occurredAt: new Date(iso) });
    await inbox.handleBatch(Topic.PrIngested, [message(at('2025-06-02T00:00:00Z', 'Edited text'))], heartbeat, accept);
    const [before] = await db.dataSource.query(`SELECT content_hash, attempt FROM requests WHERE request_id = 'o/1'`);
    outcomes = [];
    // In a later batch, and within one batch: the copy observed first never replaces the one observed last.
    await inbox.handleBatch(Topic.PrIngested, [message(at('2025-06-01T00:00:00Z', 'First text'))], heartbeat, accept);
    await inbox.handleBatch(
      Topic.PrIngested,
      [message(at('2025-06-03T00:00:00Z', 'Third text', 'o/2')), message(at('2025-06-01T00:00:00Z', 'First text', 'o/2'))],
      heartbeat,
      accept,
    );
    expect(outcomes).toEqual(['stale', 'queued', 'stale']);
    const [after] = await db.dataSource.query(`SELECT content_hash, attempt FROM requests WHERE request_id = 'o/1'`);
    expect(after).toEqual(before);
    const [second] = await db.dataSource.query(`SELECT pr->>'body' AS body FROM request_inputs WHERE request_id = 'o/2'`);
    expect(second.body).toBe('Third text');
    // A newer copy still replaces it.
    outcomes = [];
    await inbox.handleBatch(Topic.PrIngested, [message(at('2025-06-04T00:00:00Z', 'Fourth text'))], heartbeat, accept);
    expect(outcomes).toEqual(['requeued']);
  });

  it('answers from the response cache with a hit flag, and a miss flag otherwise', async () => {
    const original = pr('c/1', 'Cached text');
    await inbox.handleBatch(Topic.PrIngested, [message(original)], heartbeat, accept);
    const [row] = await db.dataSource.query(`SELECT content_hash FROM requests WHERE request_id = 'c/1'`);
    await db.dataSource.query(
      `INSERT INTO results (request_id, prompt_version, status, team, repo, pr_number, content_hash, analysis, model, pass, attempt)
       VALUES ('c/1', 'pr-analysis-v1', 'succeeded', $1, $2, $3, $4, $5, 'openai/gpt-oss-20b', 1, 1)`,
      [base.team, base.repo, base.prNumber, row.content_hash, JSON.stringify(analysis)],
    );
    outcomes = [];
    await inbox.handleBatch(Topic.PrIngested, [message(pr('c/2', 'Cached text')), message(pr('c/3', 'Other text'))], heartbeat, accept);
    expect(outcomes).toEqual(['reused', 'queued']);
    expect(await request('c/2')).toMatchObject({ status: 'in_flight', stage: 'awaiting_merge', flags: expect.objectContaining({ cache: 'hit' }) });
    expect(await request('c/3')).toMatchObject({ status: 'pending', flags: expect.objectContaining({ cache: 'miss' }) });
    const reused = (await settledEvents()).flatMap((e) => e.settled).find((s) => s.request.requestId === 'c/2');
    expect(reused).toEqual(expect.objectContaining({ outcome: 'reused', analysis, model: 'openai/gpt-oss-20b', pass: 1, reusedFrom: 'c/1' }));
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

  it('refuses an event for an unknown prompt version at once, with its reason and a dead_letters row; the rest commit', async () => {
    const unknown = createEvent(Topic.PrIngested, { ...base, requestId: 'v/2', body: 'Body', promptVersion: 'pr-analysis-v9' }, { correlationId: 'corr-v2', producer: 'batch-test' });
    await inbox.handleBatch(Topic.PrIngested, [message(pr('v/1')), message(unknown), message(pr('v/3'))], heartbeat, accept);
    expect(await request('v/1')).toBeDefined();
    expect(await request('v/2')).toBeUndefined();
    expect(await request('v/3')).toBeDefined();
    // Refused, not retried: one dead letter naming the version, the field and the request.
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers['dlq-path']).toBe('payload.promptVersion');
    expect(sent[0]!.headers['dlq-reason']).toMatch(/unknown prompt version "pr-analysis-v9" for request v\/2 \(known: pr-analysis-v1, pr-analysis-v2\)/);
    const rows = await db.dataSource.query(`SELECT request_id, prompt_version, path FROM dead_letters WHERE request_id = 'v/2'`);
    expect(rows).toEqual([{ request_id: 'v/2', prompt_version: 'pr-analysis-v9', path: 'payload.promptVersion' }]);
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

  it('records every dead letter once per source offset, with the request id its raw JSON carries', async () => {
    const missing = pr('r/1') as unknown as { payload: Record<string, unknown>; eventId: string };
    delete missing.payload.team;
    const failing = pr('r/2');
    const messages = [message(missing), message('{not json'), message(failing)];
    const refuse = async (batch: Array<EventEnvelope<PrIngestedPayload>>, manager: EntityManager) => {
      await accept(batch, manager);
      throw new Error('refused for the test');
    };
    await inbox.handleBatch(Topic.PrIngested, messages, heartbeat, refuse);
    // Redelivered before its offset was committed: dead-lettered again, recorded once.
    await inbox.handleBatch(Topic.PrIngested, messages, heartbeat, refuse);
    const rows = await db.dataSource.query(
      `SELECT consumer_group, topic, message_offset::text AS "offset", event_id, request_id, prompt_version, reason, path, dlq_topic, redriven_at
         FROM dead_letters WHERE message_offset = ANY($1::bigint[]) ORDER BY message_offset`,
      [messages.map((m) => m.offset)],
    );
    expect(rows).toEqual([
      { consumer_group: 'batch-inbox-test', topic: 'pr.ingested.v1', offset: messages[0]!.offset, event_id: missing.eventId, request_id: 'r/1', prompt_version: null, reason: expect.any(String), path: 'payload.team', dlq_topic: 'pr.ingested.v1.dlq', redriven_at: null },
      { consumer_group: 'batch-inbox-test', topic: 'pr.ingested.v1', offset: messages[1]!.offset, event_id: null, request_id: null, prompt_version: null, reason: expect.stringMatching(/not JSON/), path: '', dlq_topic: 'pr.ingested.v1.dlq', redriven_at: null },
      { consumer_group: 'batch-inbox-test', topic: 'pr.ingested.v1', offset: messages[2]!.offset, event_id: failing.eventId, request_id: 'r/2', prompt_version: null, reason: 'handler failed 2 times: refused for the test', path: '', dlq_topic: 'pr.ingested.v1.dlq', redriven_at: null },
    ]);
    expect(sent).toHaveLength(6);
  });
});
