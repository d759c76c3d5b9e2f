import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { createEvent, Topic } from '#contracts';
import { Partitioners, type Producer } from 'kafkajs';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { type GroqSimulator, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { brokers, createTestDatabase, eventually, type TestDatabase, testKafka, uniqueSuffix } from '../support/infra.js';
import { type Pipeline, pipelineEnv, startPipeline } from '../support/pipeline.js';

const root = resolve(import.meta.dirname, '../..');
const prefix = `replay${uniqueSuffix()}.`;
process.env.KAFKA_TOPIC_PREFIX = prefix;

describe('cascade replay', () => {
  let db: TestDatabase;
  let sim: GroqSimulator;
  let pipeline: Pipeline;
  let producer: Producer;
  const COUNT = 60;

  const cascade = (...args: string[]) =>
    spawnSync(process.execPath, [resolve(root, 'bin/cascade.js'), ...args], {
      cwd: root,
      env: { ...process.env, KAFKA_BROKERS: brokers().join(','), KAFKA_TOPIC_PREFIX: prefix, DATABASE_URL: db.url },
      encoding: 'utf8',
      timeout: 120_000,
    });
  const terminal = async (promptVersion: string) =>
    (
      await db.dataSource.query(
        `SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed', 'excluded'))::int AS done, count(*)::int AS total FROM requests WHERE prompt_version = $1`,
        [promptVersion],
      )
    )[0] as { done: number; total: number };

  const EDITED = 3;
  let excluded = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    sim = await startGroqSimulator({ seed: 41 });
    pipeline = await startPipeline(pipelineEnv({ prefix, databaseUrl: db.url, groqUrl: sim.url }));
    producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const prs = syntheticPrs({ count: COUNT, seed: 12 }).map((pr, i) => (i < EDITED ? { ...pr, body: `First text of ${pr.requestId}` } : pr));
    const publish = (batch: typeof prs) =>
      producer.send({
        topic: `${prefix}${Topic.PrIngested}`,
        messages: batch.map((pr) => ({ key: pr.requestId, value: JSON.stringify(createEvent(Topic.PrIngested, pr, { correlationId: `p-${pr.requestId}`, producer: 'replay-test' })) })),
      });
    await publish(prs);
    await eventually('the first analysis', async () => {
      const t = await terminal('pr-analysis-v1');
      return t.total === COUNT && t.done === COUNT;
    });
    // Edited PRs synced twice: the topic of record holds two differing copies of these ids.
    await publish(prs.slice(0, EDITED).map((pr) => ({ ...pr, body: `Edited text of ${pr.requestId}` })));
    await eventually('the edits analysed', async () => {
      const [{ n }] = await db.dataSource.query(
        `SELECT count(*)::int AS n FROM requests JOIN request_inputs USING (request_id, prompt_version) WHERE status = 'succeeded' AND pr->>'body' LIKE 'Edited text of %'`,
      );
      return n === EDITED;
    });
    excluded = (await db.dataSource.query(`SELECT count(*)::int AS n FROM requests WHERE status = 'excluded'`))[0].n;
  });
  afterAll(async () => {
    await producer?.disconnect();
    await pipeline?.stop();
    await sim?.stop();
    await db?.drop();
  });

  const ingestedEnds = async () => {
    const admin = testKafka().admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets(`${prefix}${Topic.PrIngested}`)).map((p) => p.high);
    } finally {
      await admin.disconnect();
    }
  };
  const replayedConsumed = async () =>
    (await db.dataSource.query(`SELECT count(*)::int AS n FROM processed_events WHERE topic = $1`, [`${prefix}${Topic.PrReplayed}`]))[0].n as number;

  it('--dry-run counts the distinct ids it would send, excluded ones apart', () => {
    const result = cascade('replay', '--topic', 'pr.ingested.v1', '--from', 'earliest', '--dry-run');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^${COUNT} PRs would be re-fed .*: ${COUNT - excluded} to analyse, ${excluded} excluded \\(never sent\\); ${COUNT + EDITED} events read, ${EDITED} earlier copies superseded`));
  });

  it('with the current prompt version, differing copies included: zero provider calls, nothing in flight, the topic of record untouched', async () => {
    const lines = () => Object.values(sim.stats().linesProcessed).reduce((a, b) => a + b, 0);
    const before = { lines: lines(), batches: sim.stats().batchesCreated };
    const rows = async () => (await db.dataSource.query(`SELECT (SELECT count(*) FROM requests)::int AS requests, (SELECT count(*) FROM results)::int AS results`))[0];
    const rowsBefore = await rows();
    const endsBefore = await ingestedEnds();
    const result = cascade('replay', '--from', 'earliest');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`replayed ${COUNT} PR events to ${Topic.PrReplayed}; ${EDITED} superseded copies`));
    await eventually('the replayed events consumed', async () => (await replayedConsumed()) === COUNT);
    expect(await ingestedEnds()).toEqual(endsBefore);
    expect(await rows()).toEqual(rowsBefore);
    expect({ lines: lines(), batches: sim.stats().batchesCreated }).toEqual(before);
    const [{ open }] = await db.dataSource.query(`SELECT count(*)::int AS open FROM requests WHERE status IN ('pending', 'in_flight')`);
    expect(open).toBe(0);
    const reconciled = cascade('reconcile', '--json', '--stranded-after-ms', '1');
    expect(reconciled.status).toBe(0);
    expect(JSON.parse(reconciled.stdout)).toMatchObject({ stranded: 0, lost: [], inFlight: 0, invariantHolds: true });
  });

  it('with a new prompt version, in chunks: each id analysed once under it, edited ones with their last text, both versions kept', async () => {
    const group = `${prefix}replay-v2-test`;
    const replayed = (stdout: string) => Number(/replayed (\d+) PR events/.exec(stdout)?.[1] ?? NaN);
    const endsBefore = await ingestedEnds();
    const first = cascade('replay', '--from', 'earliest', '--prompt-version', 'pr-analysis-v2', '--group', group, '--limit', '25');
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/stopped at 25\/\d+: run again to resume/);
    const second = cascade('replay', '--prompt-version', 'pr-analysis-v2', '--group', group);
    expect(second.status).toBe(0);
    expect(second.stdout).not.toMatch(/stopped at/);
    // Each PR re-fed once across the two runs: none skipped at the stop, none fed twice, no superseded copy.
    expect(replayed(first.stdout) + replayed(second.stdout)).toBe(COUNT);
    await eventually('the v2 analysis', async () => {
      const t = await terminal('pr-analysis-v2');
      return t.total === COUNT && t.done === COUNT;
    }, 90_000);
    const [{ v1, v2, ids }] = await db.dataSource.query(
      `SELECT count(*) FILTER (WHERE prompt_version = 'pr-analysis-v1')::int AS v1, count(*) FILTER (WHERE prompt_version = 'pr-analysis-v2')::int AS v2,
              count(DISTINCT request_id) FILTER (WHERE prompt_version = 'pr-analysis-v2')::int AS ids FROM results`,
    );
    expect({ v1, v2, ids }).toEqual({ v1: COUNT, v2: COUNT, ids: COUNT });
    const [{ edited }] = await db.dataSource.query(
      `SELECT count(*)::int AS edited FROM requests JOIN request_inputs USING (request_id, prompt_version) WHERE prompt_version = 'pr-analysis-v2' AND pr->>'body' LIKE 'Edited text of %'`,
    );
    expect(edited).toBe(EDITED);
    expect(await ingestedEnds()).toEqual(endsBefore);
  }, 180_000);

  it('reconcile names a stranded request with its reason and exits 1', async () => {
    // A request left in flight whose terminal record for the same content exists (what a replay used to leave behind).
    await db.dataSource.query(
      `UPDATE requests SET status = 'in_flight', stage = 'awaiting_merge', updated_at = now() - interval '10 minutes'
       WHERE request_id = (SELECT request_id FROM requests WHERE status = 'succeeded' AND prompt_version = 'pr-analysis-v1' ORDER BY request_id LIMIT 1)
         AND prompt_version = 'pr-analysis-v1'`,
    );
    const result = cascade('reconcile', '--json', '--stranded-after-ms', '60000');
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.stranded).toBe(1);
    expect(report.strandedRequests[0].reason).toMatch(/terminal record \(succeeded\) exists for this content, but the request was never settled/);
    expect(report.invariantHolds).toBe(false);
    await db.dataSource.query(`UPDATE requests SET status = 'succeeded', stage = 'merged' WHERE status = 'in_flight'`);
    expect(cascade('reconcile', '--stranded-after-ms', '60000').status).toBe(0);
  });
});
