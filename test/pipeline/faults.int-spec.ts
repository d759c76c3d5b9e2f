import { createEvent, Topic } from '#contracts';
import { DEFAULT_GROQ_BATCH_CONFIG, GroqBatchClient } from '#groq-batch';
import { reconcile } from '#ledger';
import { Partitioners, type Producer } from 'kafkajs';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { CHEAP_MODEL_PROFILE, type GroqSimulator, NO_FAULTS, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { createTestDatabase, eventually, type TestDatabase, testKafka, uniqueSuffix } from '../support/infra.js';
import { type Pipeline, pipelineEnv, startPipeline } from '../support/pipeline.js';

const prefix = `faults${uniqueSuffix()}.`;
process.env.KAFKA_TOPIC_PREFIX = prefix;

/** Provider faults, each on its own set of PRs: every id must still end terminal, none lost or duplicated. */
describe('provider faults through the whole pipeline', () => {
  let db: TestDatabase;
  let sim: GroqSimulator;
  let pipeline: Pipeline;
  let producer: Producer;
  let scenario = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    sim = await startGroqSimulator({ seed: 23 });
    pipeline = await startPipeline(pipelineEnv({ prefix, databaseUrl: db.url, groqUrl: sim.url }, { BATCH_MAX_LINES: '100' }));
    producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await pipeline?.stop();
    await sim?.stop();
    await db?.drop();
  });

  afterEach(() => {
    sim.setFaults({ ...NO_FAULTS });
    sim.setProfile('openai/gpt-oss-20b', CHEAP_MODEL_PROFILE);
    sim.setSpeed({ perLineDelayMs: 0 });
  });

  /** Publishes `count` PRs with ids of their own (non-empty bodies) and waits until each is terminal. */
  async function runScenario(count: number, whileRunning?: () => Promise<void>) {
    scenario++;
    const prs = syntheticPrs({ count, seed: 100 + scenario, emptyBodyRate: 0, oversizedRate: 0, injectionRate: 0 }).map((pr) => ({
      ...pr,
      requestId: `s${scenario}/${pr.requestId}`,
    }));
    await producer.send({
      topic: `${prefix}${Topic.PrIngested}`,
      messages: prs.map((pr) => ({ key: pr.requestId, value: JSON.stringify(createEvent(Topic.PrIngested, pr, { correlationId: `f-${pr.requestId}`, producer: 'faults' })) })),
    });
    await whileRunning?.();
    const ids = prs.map((p) => p.requestId);
    await eventually(
      `scenario ${scenario}: every request terminal`,
      async () => {
        const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM requests WHERE request_id = ANY($1) AND status IN ('succeeded', 'failed', 'excluded')`, [ids]);
        return n === count;
      },
      120_000,
    );
    const report = await reconcile(db.dataSource.manager, { defaultStageDeadlineMs: 600_000 });
    expect(report.lost).toEqual([]);
    const codes: Array<{ code: string; n: number }> = await db.dataSource.query(
      `SELECT code, count(*)::int AS n FROM attempts WHERE request_id = ANY($1) AND outcome = 'failed' GROUP BY code`,
      [ids],
    );
    const statuses: Array<{ status: string; n: number }> = await db.dataSource.query(
      `SELECT status, count(*)::int AS n FROM results WHERE request_id = ANY($1) GROUP BY status`,
      [ids],
    );
    return { ids, codes: Object.fromEntries(codes.map((c) => [c.code, c.n])), statuses: Object.fromEntries(statuses.map((s) => [s.status, s.n])) };
  }

  it('an expired batch: finished lines kept, unfinished ones retried', async () => {
    sim.setFaults({ expireAfterFraction: 0.5, unfinishedInErrorFile: false });
    const { codes, statuses } = await runScenario(100, async () => {
      // Only the first batch expires: later passes run normally.
      await eventually('the first batch expired', async () => (await db.dataSource.query(`SELECT 1 FROM batches WHERE provider_status = 'expired'`)).length > 0);
      sim.setFaults({ expireAfterFraction: null });
    });
    expect(codes.batch_expired).toBeGreaterThan(0);
    expect(statuses.succeeded).toBe(100);
    // What the expired batch finished is kept from pass 1; only the unfinished lines went again.
    const [kept] = await db.dataSource.query(
      `SELECT count(*) FILTER (WHERE i.outcome = 'succeeded')::int AS finished,
              count(*) FILTER (WHERE r.pass = 1)::int AS kept_from_pass_one
       FROM batches b JOIN batch_items i USING (batch_id)
       JOIN results r ON r.request_id = i.request_id AND r.prompt_version = i.prompt_version
       WHERE b.provider_status = 'expired' AND i.outcome = 'succeeded'`,
    );
    expect(kept.finished).toBeGreaterThan(0);
    expect(kept.kept_from_pass_one).toBe(kept.finished);
  });

  it('a cancelled batch: finished lines kept, the rest retried', async () => {
    sim.setSpeed({ perLineDelayMs: 30 });
    const client = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: 'fake-faults-test-key', baseURL: sim.url });
    const { codes, statuses } = await runScenario(60, async () => {
      const [batch] = await eventually('a submitted batch', async () => {
        const rows: Array<{ provider_batch_id: string }> = await db.dataSource.query(
          `SELECT provider_batch_id FROM batches WHERE state = 'submitted' AND provider_batch_id IS NOT NULL`,
        );
        return rows.length > 0 ? rows : null;
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      await client.cancelBatch(batch!.provider_batch_id);
      sim.setSpeed({ perLineDelayMs: 0 });
    });
    expect(codes.batch_cancelled).toBeGreaterThan(0);
    expect(statuses.succeeded).toBe(60);
  });

  it('an all-failed batch with no output file: every request recovered on the next model', async () => {
    sim.setProfile('openai/gpt-oss-20b', { failureRate: 1, jsonValidateShare: 1, serverErrorRate: 0 });
    const { ids, codes, statuses } = await runScenario(50);
    expect(codes.json_validate_failed).toBe(50);
    expect(statuses.succeeded).toBe(50);
    const batches = await db.dataSource.query(
      `SELECT DISTINCT b.output_file_id, b.pass FROM batches b JOIN batch_items i USING (batch_id) WHERE i.request_id = ANY($1) AND b.pass = 1`,
      [ids],
    );
    expect(batches.every((b: { output_file_id: string | null }) => b.output_file_id === null)).toBe(true);
    // Recovered on the next model (a rare transient 5xx there may add one more pass on the same model).
    const passes: Array<{ pass: number; model: string }> = await db.dataSource.query(`SELECT DISTINCT pass, model FROM results WHERE request_id = ANY($1)`, [ids]);
    expect(passes.every((p) => p.model === 'llama-3.3-70b-versatile' && p.pass >= 2)).toBe(true);
  });

  it('missing and malformed lines are retried, never lost', async () => {
    sim.setFaults({ missingRate: 0.15, malformedRate: 0.1, shuffle: true });
    const { codes, statuses } = await runScenario(100, async () => {
      await eventually('a pass-1 batch finished', async () => (await db.dataSource.query(`SELECT 1 FROM attempts WHERE code IN ('missing', 'malformed_line')`)).length > 0);
      sim.setFaults({ missingRate: 0, malformedRate: 0 });
    });
    expect((codes.missing ?? 0) + (codes.malformed_line ?? 0)).toBeGreaterThan(5);
    expect(statuses.succeeded).toBe(100);
  });

  it('429 storms with retry-after and 503 on download only slow things down', async () => {
    sim.setFaults({ rateLimitFirst: 6, downloadErrorsFirst: 3 });
    const { statuses } = await runScenario(40);
    expect((statuses.succeeded ?? 0) + (statuses.failed ?? 0)).toBe(40);
  });

  it('the provider never saw a second batch for the same items', async () => {
    const [{ batches, keys }] = await db.dataSource.query(`SELECT count(*)::int AS batches, count(DISTINCT batch_key)::int AS keys FROM batches`);
    expect(batches).toBe(keys);
    expect(sim.stats().batchesCreated).toBe(batches);
  });
});
