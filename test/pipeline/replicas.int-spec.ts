import { createEvent, Topic } from '#contracts';
import { reconcile } from '#ledger';
import { Partitioners, type Producer } from 'kafkajs';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { type GroqSimulator, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { createTestDatabase, eventually, type TestDatabase, testKafka, uniqueSuffix } from '../support/infra.js';
import { type Pipeline, pipelineEnv, startPipeline } from '../support/pipeline.js';

const prefix = `replicas${uniqueSuffix()}.`;
process.env.KAFKA_TOPIC_PREFIX = prefix;

describe('two replicas of every service in the same consumer groups', () => {
  let db: TestDatabase;
  let sim: GroqSimulator;
  let pipeline: Pipeline;
  let producer: Producer;

  beforeAll(async () => {
    db = await createTestDatabase();
    sim = await startGroqSimulator({ seed: 31 });
    pipeline = await startPipeline(pipelineEnv({ prefix, databaseUrl: db.url, groqUrl: sim.url }, { BATCH_MAX_LINES: '60', POLL_CONCURRENCY: '8' }), 2);
    producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });
  afterAll(async () => {
    await producer?.disconnect();
    await pipeline?.stop();
    await sim?.stop();
    await db?.drop();
  });

  it('reach the same outcome: every id terminal once, no batch finished twice, no second provider batch', async () => {
    const prs = syntheticPrs({ count: 400, seed: 8 });
    await producer.send({
      topic: `${prefix}${Topic.PrIngested}`,
      messages: prs.map((pr) => ({ key: pr.requestId, value: JSON.stringify(createEvent(Topic.PrIngested, pr, { correlationId: `r-${pr.requestId}`, producer: 'replicas' })) })),
    });
    const report = await eventually(
      'every request terminal',
      async () => {
        const r = await reconcile(db.dataSource.manager, { defaultStageDeadlineMs: 600_000 });
        return r.ingested === 400 && r.inFlight === 0 ? r : null;
      },
      180_000,
    );
    expect(report.lost).toEqual([]);
    expect(report.succeeded + report.failed + report.excluded).toBe(400);
    // Each batch's results and failures were published by exactly one poller, once per part.
    const repeats = await db.dataSource.query(
      `SELECT topic, convert_from(message_value, 'UTF8')::jsonb #>> '{payload,batchId}' AS batch_id,
              convert_from(message_value, 'UTF8')::jsonb #>> '{payload,part}' AS part, count(*)::int AS n
       FROM outbox WHERE topic IN ($1, $2) GROUP BY 1, 2, 3 HAVING count(*) > 1`,
      [`${prefix}${Topic.BatchCompleted}`, `${prefix}${Topic.RequestsFailed}`],
    );
    expect(repeats).toEqual([]);
    const [{ batches, keys }] = await db.dataSource.query(`SELECT count(*)::int AS batches, count(DISTINCT batch_key)::int AS keys FROM batches`);
    expect(batches).toBe(keys);
    expect(sim.stats().batchesCreated).toBe(batches);
    // The four services consumed as four groups, each shared by its two replicas.
    const processed = await db.dataSource.query(`SELECT count(DISTINCT consumer_group)::int AS groups FROM processed_events`);
    expect(processed[0].groups).toBe(4);
  }, 240_000);
});
