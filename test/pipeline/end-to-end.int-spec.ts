import { Topic } from '#contracts';
import { validatePrAnalysis } from '#groq-batch';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { eventually, testKafka } from '../support/infra.js';
import { usePipeline } from '../support/pipeline.js';

describe('the two-pass pipeline end to end (real broker, PostgreSQL, simulator)', () => {
  const fixture = usePipeline({ name: 'e2e', simulator: { seed: 11 }, services: { env: { BATCH_MAX_LINES: '250' } } });
  const { prefix } = fixture;
  const COUNT = Number(process.env.CASCADE_E2E_PRS ?? 1_000);

  it(`analyses ${COUNT} PRs: every id terminal, pass 2 recovers exactly the recoverable pass-1 failures`, async () => {
    const prs = syntheticPrs({ count: COUNT, seed: 5 });
    await fixture.publish(prs);
    const report = await fixture.settled(COUNT, 240_000);
    expect(report.lost).toEqual([]);
    expect(report.invariantHolds).toBe(true);
    expect(report.succeeded + report.failed + report.excluded).toBe(COUNT);
    expect(report.excluded).toBe(prs.filter((p) => p.body.trim() === '').length);

    // What the simulator failed on pass 1, per code, against what the pipeline recorded.
    const stats = fixture.sim.stats();
    const [passOneBatches] = [await fixture.db.dataSource.query(`SELECT provider_batch_id FROM batches WHERE pass = 1`)];
    const simFailures = new Map<string, string>();
    for (const { provider_batch_id } of passOneBatches) {
      for (const [id, code] of Object.entries(stats.outcomes[provider_batch_id] ?? {})) if (code !== 'ok') simFailures.set(id, code);
    }
    expect(simFailures.size).toBeGreaterThan(0);
    const permanentCodes = new Set(['context_length_exceeded']);
    const recoverable = [...simFailures.entries()].filter(([, code]) => !permanentCodes.has(code)).map(([id]) => id);
    const recovered: Array<{ request_id: string }> = await fixture.db.dataSource.query(
      `SELECT request_id FROM results WHERE status = 'succeeded' AND pass >= 2`,
    );
    expect(recovered.map((r) => r.request_id).sort()).toEqual(recoverable.sort());
    // Pass 1 sent every processable PR once; the provider saw no line beyond what the retries justify.
    const [{ pass_one, all_lines }] = await fixture.db.dataSource.query(
      `SELECT sum(request_count) FILTER (WHERE pass = 1)::int AS pass_one, sum(request_count)::int AS all_lines FROM batches`,
    );
    expect(pass_one).toBe(COUNT - report.excluded);
    expect(Object.values(stats.linesProcessed).reduce((a, b) => a + b, 0)).toBe(all_lines);
    // Every line after pass 1 is the retry of one failed attempt that was not permanent.
    const [{ failed_attempts }] = await fixture.db.dataSource.query(`SELECT count(*)::int AS failed_attempts FROM attempts WHERE outcome = 'failed'`);
    expect(all_lines - pass_one).toBe(failed_attempts - report.failed);

    // Every stored result validates against the schema; failures carry their reason.
    const results: Array<{ analysis: unknown }> = await fixture.db.dataSource.query(`SELECT analysis FROM results WHERE status = 'succeeded'`);
    for (const { analysis } of results) expect(validatePrAnalysis(JSON.stringify(analysis)).ok).toBe(true);
    const failed: Array<{ error_code: string; attempts: unknown[] }> = await fixture.db.dataSource.query(`SELECT error_code, attempts FROM results WHERE status = 'failed'`);
    for (const f of failed) {
      expect(f.error_code).toBeTruthy();
      expect(f.attempts.length).toBeGreaterThan(0);
    }
    // No provider batch was created twice for the same items.
    await fixture.expectOneProviderBatchPerKey();
  }, 300_000);

  it('re-delivering every event the pipeline published changes nothing: no new row, no second provider batch', async () => {
    const snapshot = async () =>
      (
        await fixture.db.dataSource.query(`SELECT
          (SELECT count(*) FROM results)::int AS results, (SELECT count(*) FROM attempts)::int AS attempts,
          (SELECT count(*) FROM batches)::int AS batches, (SELECT count(*) FROM requests WHERE status IN ('pending', 'in_flight'))::int AS open,
          (SELECT count(*) FROM outbox)::int AS outbox, (SELECT md5(string_agg(request_id || status || coalesce(model, '') || coalesce(pass::text, ''), ',' ORDER BY request_id)) FROM results) AS digest`)
      )[0];
    const before = await snapshot();
    const createdBefore = fixture.sim.stats().batchesCreated;
    const published: Array<{ topic: string; message_key: string; message_value: Buffer; headers: Record<string, string> }> = await fixture.db.dataSource.query(
      `SELECT topic, message_key, message_value, headers FROM outbox ORDER BY id`,
    );
    const byTopic = new Map<string, typeof published>();
    for (const row of published) byTopic.set(row.topic, [...(byTopic.get(row.topic) ?? []), row]);
    for (const topic of [Topic.BatchSubmitted, Topic.BatchCompleted, Topic.RequestsFailed, Topic.ResultsMerged]) {
      expect(byTopic.get(`${prefix}${topic}`)?.length).toBeGreaterThan(0);
    }
    const ingested: Array<{ request_id: string }> = await fixture.db.dataSource.query(`SELECT request_id FROM requests LIMIT 200`);
    const prs = syntheticPrs({ count: COUNT, seed: 5 }).filter((pr) => ingested.some((r) => r.request_id === pr.requestId));
    await fixture.publish(prs, (pr) => `again-${pr.requestId}`);
    const producer = await fixture.producer();
    for (const [topic, rows] of byTopic) {
      await producer.send({ topic, messages: rows.map((r) => ({ key: r.message_key, value: r.message_value, headers: r.headers })) });
    }
    // Every consumer has worked through the duplicates (committed past them): compare.
    await fixture.waitForConsumed();
    const after = await snapshot();
    expect(after).toEqual(before);
    expect(fixture.sim.stats().batchesCreated).toBe(createdBefore);
  }, 120_000);

  it('a poison message on each consumed topic goes to its DLQ and the pipeline goes on', async () => {
    const consumed = [Topic.PrIngested, Topic.BatchSubmitted, Topic.BatchCompleted, Topic.RequestsFailed, Topic.RequestsFailedPermanently];
    const kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    const dlqEnd = async () =>
      Object.fromEntries(
        await Promise.all(
          consumed.map(async (t) => {
            const offsets = await admin.fetchTopicOffsets(`${prefix}${t}.dlq`);
            return [t, offsets.reduce((sum, p) => sum + Number(p.high), 0)] as const;
          }),
        ),
      );
    const before = await dlqEnd();
    const producer = await fixture.producer();
    for (const t of consumed) await producer.send({ topic: `${prefix}${t}`, messages: [{ key: 'poison', value: `{"poison": ${t}` }] });
    const fresh = syntheticPrs({ count: 1, seed: 99 })[0]!;
    const pr = { ...fresh, requestId: 'after-poison#1', body: 'Still flowing after poison.' };
    await fixture.publish([pr], () => 'after-poison');
    await eventually('one DLQ entry per topic', async () => {
      const now = await dlqEnd();
      return consumed.every((t) => now[t]! === before[t]! + 1);
    });
    await eventually('the PR after the poison is analysed', async () => {
      const rows = await fixture.db.dataSource.query(`SELECT status FROM requests WHERE request_id = 'after-poison#1'`);
      return rows[0]?.status === 'succeeded';
    });
    await admin.disconnect();
  }, 120_000);
});
