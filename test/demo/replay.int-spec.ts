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

  beforeAll(async () => {
    db = await createTestDatabase();
    sim = await startGroqSimulator({ seed: 41 });
    pipeline = await startPipeline(pipelineEnv({ prefix, databaseUrl: db.url, groqUrl: sim.url }));
    producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const prs = syntheticPrs({ count: COUNT, seed: 12 });
    await producer.send({
      topic: `${prefix}${Topic.PrIngested}`,
      messages: prs.map((pr) => ({ key: pr.requestId, value: JSON.stringify(createEvent(Topic.PrIngested, pr, { correlationId: `p-${pr.requestId}`, producer: 'replay-test' })) })),
    });
    await eventually('the first analysis', async () => {
      const t = await terminal('pr-analysis-v1');
      return t.total === COUNT && t.done === COUNT;
    });
  });
  afterAll(async () => {
    await producer?.disconnect();
    await pipeline?.stop();
    await sim?.stop();
    await db?.drop();
  });

  it('--dry-run counts what would be re-processed', () => {
    const result = cascade('replay', '--topic', 'pr.ingested.v1', '--from', 'earliest', '--dry-run');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^up to ${COUNT} events would be re-processed`));
  });

  it('with the current prompt version: zero provider calls and zero new rows', async () => {
    const lines = () => Object.values(sim.stats().linesProcessed).reduce((a, b) => a + b, 0);
    const before = { lines: lines(), batches: sim.stats().batchesCreated };
    const rows = async () => (await db.dataSource.query(`SELECT (SELECT count(*) FROM requests)::int AS requests, (SELECT count(*) FROM results)::int AS results`))[0];
    const rowsBefore = await rows();
    const result = cascade('replay', '--from', 'earliest');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`replayed ${COUNT} PR events`));
    // Wait until the submitter has consumed the replayed events (the replays' causation is the originals).
    await eventually('the replayed events consumed', async () => {
      const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM processed_events WHERE topic = $1`, [`${prefix}${Topic.PrIngested}`]);
      return n === 2 * COUNT;
    });
    // Each replay was consumed in the transaction that would have re-queued it: nothing open, so nothing can be sent.
    const [{ open }] = await db.dataSource.query(`SELECT count(*)::int AS open FROM requests WHERE status IN ('pending', 'in_flight')`);
    expect(open).toBe(0);
    expect(await rows()).toEqual(rowsBefore);
    expect({ lines: lines(), batches: sim.stats().batchesCreated }).toEqual(before);
  });

  it('with a new prompt version: analysed again, both versions kept; a second run resumes instead of starting over', async () => {
    const kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    const topic = `${prefix}${Topic.PrIngested}`;
    const group = `${prefix}replay-v2-test`;
    const originals = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    const first = cascade('replay', '--from', 'earliest', '--prompt-version', 'pr-analysis-v2', '--group', group);
    expect(first.status).toBe(0);
    // The history is the original PRs: the same-version replays of the previous test are not replayed again.
    const total = originals.reduce((sum, p) => sum + Number(p.high), 0);
    expect(first.stdout).toMatch(new RegExp(`replayed ${COUNT} PR events for prompt version pr-analysis-v2; 0 unreadable and ${total - COUNT} earlier replays skipped`));
    // Run again with the same group: it resumes where it stopped and finds only its own re-feeds.
    const again = cascade('replay', '--prompt-version', 'pr-analysis-v2', '--group', group);
    expect(again.stdout).toMatch(new RegExp(`replayed 0 PR events for prompt version pr-analysis-v2; 0 unreadable and ${COUNT} earlier replays skipped`));
    await eventually('the v2 analysis', async () => {
      const t = await terminal('pr-analysis-v2');
      return t.total === COUNT && t.done === COUNT;
    }, 90_000);
    const [{ v1, v2 }] = await db.dataSource.query(
      `SELECT count(*) FILTER (WHERE prompt_version = 'pr-analysis-v1')::int AS v1, count(*) FILTER (WHERE prompt_version = 'pr-analysis-v2')::int AS v2 FROM results`,
    );
    expect({ v1, v2 }).toEqual({ v1: COUNT, v2: COUNT });
  }, 180_000);

  it('a backfill stopped halfway and run again finishes with every id exactly once', async () => {
    const group = `${prefix}replay-v3-test`;
    const replayed = (stdout: string) => Number(/replayed (\d+) PR events/.exec(stdout)?.[1] ?? NaN);
    const first = cascade('replay', '--from', 'earliest', '--prompt-version', 'pr-analysis-v3', '--group', group, '--limit', '25');
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/stopped at 25\/\d+: run again to resume/);
    const second = cascade('replay', '--prompt-version', 'pr-analysis-v3', '--group', group);
    expect(second.status).toBe(0);
    expect(second.stdout).not.toMatch(/stopped at/);
    // Each original PR re-fed once across the two runs: none skipped at the stop, none fed twice.
    expect(replayed(first.stdout) + replayed(second.stdout)).toBe(COUNT);
    await eventually('the v3 analysis', async () => {
      const t = await terminal('pr-analysis-v3');
      return t.total === COUNT && t.done === COUNT;
    }, 90_000);
    const [{ results, ids }] = await db.dataSource.query(
      `SELECT count(*)::int AS results, count(DISTINCT request_id)::int AS ids FROM results WHERE prompt_version = 'pr-analysis-v3'`,
    );
    expect({ results, ids }).toEqual({ results: COUNT, ids: COUNT });
  }, 180_000);
});
