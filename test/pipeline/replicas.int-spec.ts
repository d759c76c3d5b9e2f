import { Topic } from '#contracts';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { usePipeline } from '../support/pipeline.js';

describe('two replicas of every service in the same consumer groups', () => {
  const fixture = usePipeline({ name: 'replicas', simulator: { seed: 31 }, services: { env: { BATCH_MAX_LINES: '60', POLL_CONCURRENCY: '8' }, replicas: 2 } });
  const { prefix } = fixture;

  it('reach the same outcome: every id terminal once, no batch finished twice, no second provider batch', async () => {
    const prs = syntheticPrs({ count: 400, seed: 8 });
    await fixture.publish(prs, (pr) => `r-${pr.requestId}`);
    const report = await fixture.settled(400, 180_000);
    expect(report.lost).toEqual([]);
    expect(report.succeeded + report.failed + report.excluded).toBe(400);
    // Each batch's results and failures were published by exactly one poller, once per part.
    const repeats = await fixture.db.dataSource.query(
      `SELECT topic, convert_from(message_value, 'UTF8')::jsonb #>> '{payload,batchId}' AS batch_id,
              convert_from(message_value, 'UTF8')::jsonb #>> '{payload,part}' AS part, count(*)::int AS n
       FROM outbox WHERE topic IN ($1, $2) GROUP BY 1, 2, 3 HAVING count(*) > 1`,
      [`${prefix}${Topic.BatchCompleted}`, `${prefix}${Topic.RequestsFailed}`],
    );
    expect(repeats).toEqual([]);
    await fixture.expectOneProviderBatchPerKey();
    // The four services consumed as four groups, each shared by its two replicas.
    const processed = await fixture.db.dataSource.query(`SELECT count(DISTINCT consumer_group)::int AS groups FROM processed_events`);
    expect(processed[0].groups).toBe(4);
  }, 240_000);
});
