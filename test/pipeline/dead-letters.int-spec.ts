import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { createEvent, type PrIngestedPayload, Topic } from '#contracts';
import { deadLetterSummary } from '#ledger';
import { type Admin, Partitioners, type Producer } from 'kafkajs';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { type GroqSimulator, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { brokers, createTestDatabase, eventually, type TestDatabase, testKafka, uniqueSuffix } from '../support/infra.js';
import { type Pipeline, pipelineEnv, startPipeline } from '../support/pipeline.js';

const root = resolve(import.meta.dirname, '../..');
const prefix = `dlq${uniqueSuffix()}.`;
process.env.KAFKA_TOPIC_PREFIX = prefix;
const PROMPT_VERSION = 'pr-analysis-v1';

/**
 * Values that passed the contract and then failed in PostgreSQL on every retry are now normalised or
 * refused by the contract with a reason; every dead letter has its row; `cascade dlq replay` re-drives
 * what an operator fixed.
 */
describe('dead letters: accounted, and re-driven after a fix', () => {
  let db: TestDatabase;
  let sim: GroqSimulator;
  let pipeline: Pipeline;
  let producer: Producer;
  let admin: Admin;
  const base = syntheticPrs({ count: 1, seed: 3 })[0]!;

  const cascade = (...args: string[]) =>
    spawnSync(process.execPath, [resolve(root, 'bin/cascade.js'), ...args], {
      cwd: root,
      env: { ...process.env, KAFKA_BROKERS: brokers().join(','), KAFKA_TOPIC_PREFIX: prefix, DATABASE_URL: db.url },
      encoding: 'utf8',
      timeout: 120_000,
    });
  const publish = async (events: Array<{ payload: PrIngestedPayload; correlationId?: string }>) =>
    producer.send({
      topic: `${prefix}${Topic.PrIngested}`,
      messages: events.map(({ payload, correlationId }) => ({
        key: payload.requestId,
        value: JSON.stringify(createEvent(Topic.PrIngested, payload, { correlationId: correlationId ?? `dlq-${payload.requestId}`, producer: 'dlq-test' })),
      })),
    });
  const endOffset = async (topic: Topic | string) =>
    (await admin.fetchTopicOffsets(`${prefix}${topic}`)).reduce((sum, p) => sum + Number(p.high), 0);
  const terminal = async (ids: string[]) =>
    (
      await db.dataSource.query(
        `SELECT count(*)::int AS n FROM requests WHERE request_id = ANY($1) AND status IN ('succeeded', 'failed', 'excluded')`,
        [ids],
      )
    )[0].n as number;
  const deadLetters = async (requestId: string) =>
    db.dataSource.query(`SELECT reason, path, topic, dlq_topic, redriven_at FROM dead_letters WHERE request_id = $1`, [requestId]) as Promise<
      Array<{ reason: string; path: string; topic: string; dlq_topic: string; redriven_at: Date | null }>
    >;

  beforeAll(async () => {
    db = await createTestDatabase();
    sim = await startGroqSimulator({ seed: 23 });
    pipeline = await startPipeline(pipelineEnv({ prefix, databaseUrl: db.url, groqUrl: sim.url }, { CONSUMER_MAX_HANDLER_ATTEMPTS: '2' }));
    producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    admin = testKafka().admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.disconnect();
    await producer?.disconnect();
    await pipeline?.stop();
    await sim?.stop();
    await db?.drop();
  });

  it('stores NUL and lone surrogates normalised and the bounds themselves; refuses out-of-range values at the contract, each with its row', async () => {
    const pr = (requestId: string, extra: Partial<PrIngestedPayload>): PrIngestedPayload => ({ ...base, requestId, ...extra });
    const stored = [
      { payload: pr('odd/nul-team', { team: 'plat\u0000form' }) },
      { payload: pr('odd/nul-correlation', {}), correlationId: 'corr\u0000elation' },
      { payload: pr('odd/surrogate-title', { title: 'Fix \uD800 parser' }) },
      { payload: pr('odd/surrogate-body', { body: `${base.body} \uDC00 tail` }) },
      { payload: pr('odd/max-pr-number', { prNumber: 2_147_483_647 }) },
      { payload: pr('odd/earliest', { createdAt: '1970-01-01T00:00:00Z', mergedAt: '1970-01-01T01:00:00Z', firstReviewAt: null }) },
      { payload: pr('odd/latest', { createdAt: '9999-12-31T20:00:00Z', mergedAt: '9999-12-31T23:59:59.999Z', firstReviewAt: null }) },
    ];
    const refused = [
      { payload: pr('odd/huge-pr-number', { prNumber: 3_000_000_000 }), path: 'payload.prNumber' },
      { payload: pr('odd/year-zero', { createdAt: '0000-01-01T00:00:00Z' }), path: 'payload.createdAt' },
    ];
    const dlqBefore = await endOffset(`${Topic.PrIngested}.dlq`);
    await publish([...stored, ...refused]);
    const ids = stored.map((s) => s.payload.requestId);
    await eventually('the valid oddities analysed', async () => (await terminal(ids)) === ids.length, 120_000);

    const rows: Array<Record<string, unknown>> = await db.dataSource.query(
      `SELECT request_id, team, correlation_id, pr_number, pr->>'title' AS title, pr->>'body' AS body FROM requests JOIN request_inputs USING (request_id, prompt_version) WHERE request_id = ANY($1)`,
      [ids],
    );
    const byId = new Map(rows.map((row) => [row.request_id, row]));
    expect(byId.get('odd/nul-team')).toMatchObject({ team: 'platform' });
    expect(byId.get('odd/nul-correlation')).toMatchObject({ correlation_id: 'correlation' });
    expect(byId.get('odd/surrogate-title')!.title).toContain('Fix \uFFFD parser');
    expect(byId.get('odd/surrogate-body')!.body).toContain('\uFFFD tail');
    expect(byId.get('odd/max-pr-number')).toMatchObject({ pr_number: 2_147_483_647 });
    for (const id of ids) expect(await deadLetters(id)).toEqual([]);

    // The out-of-range values are refused at once by the contract (no retries stalling the partition), each with its row.
    await eventually('the refused values dead-lettered', async () => (await endOffset(`${Topic.PrIngested}.dlq`)) >= dlqBefore + refused.length);
    for (const { payload, path } of refused) {
      const letters = await eventually(`${payload.requestId} recorded`, async () => {
        const found = await deadLetters(payload.requestId);
        return found.length > 0 ? found : null;
      });
      expect(letters).toEqual([
        expect.objectContaining({ path, topic: `${prefix}${Topic.PrIngested}`, dlq_topic: `${prefix}${Topic.PrIngested}.dlq`, redriven_at: null }),
      ]);
      expect(letters[0]!.reason).not.toMatch(/handler failed/);
    }
    const summary = await deadLetterSummary(db.dataSource.manager, { defaultPromptVersion: PROMPT_VERSION });
    expect(summary.unstored).toEqual(expect.arrayContaining(refused.map(({ payload }) => ({ requestId: payload.requestId, promptVersion: PROMPT_VERSION }))));

    // Reports and the dashboard's insights work with dates at both bounds.
    for (const format of ['table', 'json', 'html']) {
      const report = cascade('report', '--format', format);
      expect([format, report.status, report.stderr]).toEqual([format, 0, '']);
    }
    const insights = await fetch(`${pipeline.services.poller!.url}/dashboard/insights`);
    expect(insights.status).toBe(200);
    const html = await insights.text();
    const analysed: Array<{ request_id: string }> = await db.dataSource.query(
      `SELECT request_id FROM results WHERE request_id IN ('odd/earliest', 'odd/latest') AND status = 'succeeded'`,
    );
    for (const { request_id } of analysed) expect(html).toContain(request_id === 'odd/latest' ? '9999-12' : '1970-01');
  }, 240_000);

  it('dead-letters a valid event PostgreSQL refuses with its reason; after the fix, dlq replay stores it exactly once, and a second replay re-drives nothing', async () => {
    const [victim, neighbour] = syntheticPrs({ count: 2, seed: 77 }).map((pr, i) => ({ ...pr, requestId: `redrive/${i}`, body: pr.body || 'Adds a test.' }));
    await db.dataSource.query(`
      CREATE FUNCTION refuse_redrive() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.request_id = 'redrive/0' THEN RAISE EXCEPTION 'request % refused by the test trigger', NEW.request_id; END IF;
        RETURN NEW;
      END $$`);
    await db.dataSource.query(`CREATE TRIGGER refuse_redrive BEFORE INSERT OR UPDATE ON requests FOR EACH ROW EXECUTE FUNCTION refuse_redrive()`);
    await publish([{ payload: victim! }, { payload: neighbour! }]);

    const [letter] = await eventually('the refused event recorded', async () => {
      const found = await deadLetters('redrive/0');
      return found.length > 0 ? found : null;
    });
    expect(letter!.reason).toMatch(/handler failed 2 times: request redrive\/0 refused by the test trigger/);
    await eventually('the neighbour analysed', async () => (await terminal(['redrive/1'])) === 1, 120_000);
    expect(await terminal(['redrive/0'])).toBe(0);
    const summary = await deadLetterSummary(db.dataSource.manager, { defaultPromptVersion: PROMPT_VERSION });
    expect(summary.unstored).toContainEqual({ requestId: 'redrive/0', promptVersion: PROMPT_VERSION });
    expect(summary.notRedriven).toBeGreaterThanOrEqual(1);

    const list = cascade('dlq', 'list', '--json', '--topic', Topic.PrIngested);
    expect(list.status).toBe(0);
    const listed = JSON.parse(list.stdout) as Array<{ requestId: string; reason: string; redrivenAt: string | null }>;
    expect(listed).toContainEqual(expect.objectContaining({ requestId: 'redrive/0', redrivenAt: null }));
    expect(list.stdout).not.toContain(victim!.body.slice(0, 40));
    const table = cascade('dlq', 'list');
    expect(table.stdout).toMatch(/request "redrive\/0".*not re-driven.*refused by the test trigger/);

    const dry = cascade('dlq', 'replay', '--dry-run', '--request-id', 'redrive/0');
    expect([dry.status, dry.stderr]).toEqual([0, '']);
    expect(dry.stdout).toMatch(/would re-drive 1 dead-lettered messages, by reason:\n\s+1\s+pr\.ingested\.v1 -> pr\.replayed\.v1: handler failed 2 times: request redrive\/0 refused/);
    expect((await deadLetters('redrive/0'))[0]!.redriven_at).toBeNull();

    // The operator fixes the cause, then re-drives: the original bytes go to pr.replayed.v1, never to pr.ingested.v1.
    await db.dataSource.query(`DROP TRIGGER refuse_redrive ON requests`);
    const ingestedEnd = await endOffset(Topic.PrIngested);
    const replayedEnd = await endOffset(Topic.PrReplayed);
    const replay = cascade('dlq', 'replay');
    // The out-of-range values of the first test are still refused by the contract: named, left waiting, exit 1.
    expect(replay.stdout).toMatch(/^re-drove 1 dead-lettered messages, by reason:\n\s+1\s+pr\.ingested\.v1 -> pr\.replayed\.v1: handler failed 2 times/);
    expect(replay.stderr.match(/still refused by the contract, not re-driven: .*pr\.ingested\.v1\[\d+\]@\d+: /g)).toHaveLength(2);
    expect(replay.status).toBe(1);
    expect(await endOffset(Topic.PrIngested)).toBe(ingestedEnd);
    expect(await endOffset(Topic.PrReplayed)).toBeGreaterThanOrEqual(replayedEnd + 1);
    expect((await deadLetters('redrive/0')).every((row) => row.redriven_at !== null)).toBe(true);

    await eventually('the re-driven request analysed', async () => (await terminal(['redrive/0'])) === 1, 120_000);
    const [{ n, correlation }] = await db.dataSource.query(
      `SELECT count(*)::int AS n, min(correlation_id) AS correlation FROM requests WHERE request_id = 'redrive/0'`,
    );
    expect({ n, correlation }).toEqual({ n: 1, correlation: 'dlq-redrive/0' });
    const after = await deadLetterSummary(db.dataSource.manager, { defaultPromptVersion: PROMPT_VERSION });
    expect(after.unstored).not.toContainEqual({ requestId: 'redrive/0', promptVersion: PROMPT_VERSION });

    // The batch-submitter's lag metric covers the second topic, and it has caught up with the re-drive.
    const lags = await eventually('the lag of pr.replayed.v1 at 0', async () => {
      const text = await (await fetch(`${pipeline.services['batch-submitter']!.url}/metrics`)).text();
      const lines = text.split('\n').filter((line) => line.startsWith('cascade_consumer_lag{') && line.includes(`topic="${prefix}${Topic.PrReplayed}"`));
      return lines.length > 0 && lines.every((line) => line.endsWith(' 0')) ? lines : null;
    });
    expect(lags.length).toBe(3);

    // Nothing is waiting any more: a second replay publishes nothing.
    const again = cascade('dlq', 'replay', '--topic', Topic.PrIngested, '--request-id', 'redrive/0');
    expect([again.status, again.stdout]).toEqual([0, 'nothing to re-drive: no dead letter of pr.ingested.v1 for request "redrive/0" is waiting\n']);
    expect(await endOffset(Topic.PrReplayed)).toBe(replayedEnd + 1);
  }, 240_000);
});
