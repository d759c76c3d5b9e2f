import { createEvent, Topic } from '#contracts';
import { reconcile } from '#ledger';
import { validatePrAnalysis } from '#groq-batch';
import { Partitioners, type Producer } from 'kafkajs';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { type GroqSimulator, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { createTestDatabase, eventually, type TestDatabase, testKafka, uniqueSuffix } from '../support/infra.js';
import { type Pipeline, pipelineEnv, startPipeline } from '../support/pipeline.js';

const prefix = `e2e${uniqueSuffix()}.`;
process.env.KAFKA_TOPIC_PREFIX = prefix;

describe('the two-pass pipeline end to end (real broker, PostgreSQL, simulator)', () => {
  let db: TestDatabase;
  let sim: GroqSimulator;
  let pipeline: Pipeline;
  let producer: Producer;
  const COUNT = Number(process.env.CASCADE_E2E_PRS ?? 1_000);

  beforeAll(async () => {
    db = await createTestDatabase();
    sim = await startGroqSimulator({ seed: 11 });
    pipeline = await startPipeline(pipelineEnv({ prefix, databaseUrl: db.url, groqUrl: sim.url }, { BATCH_MAX_LINES: '250' }));
    producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await pipeline?.stop();
    await sim?.stop();
    await db?.drop();
  });

  it(`analyses ${COUNT} PRs: every id terminal, pass 2 recovers exactly the recoverable pass-1 failures`, async () => {
    const prs = syntheticPrs({ count: COUNT, seed: 5 });
    await producer.send({
      topic: `${prefix}${Topic.PrIngested}`,
      messages: prs.map((pr) => ({
        key: pr.requestId,
        value: JSON.stringify(createEvent(Topic.PrIngested, pr, { correlationId: `e2e-${pr.requestId}`, producer: 'e2e' })),
      })),
    });
    const report = await eventually(
      'every request terminal',
      async () => {
        const r = await reconcile(db.dataSource.manager, { defaultStageDeadlineMs: 600_000 });
        return r.ingested === COUNT && r.inFlight === 0 ? r : null;
      },
      240_000,
    );
    expect(report.lost).toEqual([]);
    expect(report.invariantHolds).toBe(true);
    expect(report.succeeded + report.failed + report.excluded).toBe(COUNT);
    expect(report.excluded).toBe(prs.filter((p) => p.body.trim() === '').length);

    // What the simulator failed on pass 1, per code, against what the pipeline recorded.
    const stats = sim.stats();
    const [passOneBatches] = [await db.dataSource.query(`SELECT provider_batch_id FROM batches WHERE pass = 1`)];
    const simFailures = new Map<string, string>();
    for (const { provider_batch_id } of passOneBatches) {
      for (const [id, code] of Object.entries(stats.outcomes[provider_batch_id] ?? {})) if (code !== 'ok') simFailures.set(id, code);
    }
    expect(simFailures.size).toBeGreaterThan(0);
    const permanentCodes = new Set(['context_length_exceeded']);
    const recoverable = [...simFailures.entries()].filter(([, code]) => !permanentCodes.has(code)).map(([id]) => id);
    const recovered: Array<{ request_id: string }> = await db.dataSource.query(
      `SELECT request_id FROM results WHERE status = 'succeeded' AND pass >= 2`,
    );
    expect(recovered.map((r) => r.request_id).sort()).toEqual(recoverable.sort());
    // Pass 1 sent every processable PR once; the provider saw no line beyond what the retries justify.
    const [{ pass_one, all_lines }] = await db.dataSource.query(
      `SELECT sum(request_count) FILTER (WHERE pass = 1)::int AS pass_one, sum(request_count)::int AS all_lines FROM batches`,
    );
    expect(pass_one).toBe(COUNT - report.excluded);
    expect(Object.values(stats.linesProcessed).reduce((a, b) => a + b, 0)).toBe(all_lines);
    // Every line after pass 1 is the retry of one failed attempt that was not permanent.
    const [{ failed_attempts }] = await db.dataSource.query(`SELECT count(*)::int AS failed_attempts FROM attempts WHERE outcome = 'failed'`);
    expect(all_lines - pass_one).toBe(failed_attempts - report.failed);

    // Every stored result validates against the schema; failures carry their reason.
    const results: Array<{ analysis: unknown }> = await db.dataSource.query(`SELECT analysis FROM results WHERE status = 'succeeded'`);
    for (const { analysis } of results) expect(validatePrAnalysis(JSON.stringify(analysis)).ok).toBe(true);
    const failed: Array<{ error_code: string; attempts: unknown[] }> = await db.dataSource.query(`SELECT error_code, attempts FROM results WHERE status = 'failed'`);
    for (const f of failed) {
      expect(f.error_code).toBeTruthy();
      expect(f.attempts.length).toBeGreaterThan(0);
    }
    // No provider batch was created twice for the same items.
    const [{ batches, keys }] = await db.dataSource.query(`SELECT count(*)::int AS batches, count(DISTINCT batch_key)::int AS keys FROM batches`);
    expect(batches).toBe(keys);
    expect(stats.batchesCreated).toBe(batches);
  }, 300_000);
});
