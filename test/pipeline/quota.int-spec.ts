import { submissionStatus, type RunningService } from '#platform';
import { Redis } from 'ioredis';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { eventually, uniqueSuffix } from '../support/infra.js';
import { usePipeline } from '../support/pipeline.js';

const REDIS_URL = process.env.CASCADE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const BUDGET_USD = 0.004;
const MODEL = 'openai/gpt-oss-20b';

/** A daily spend budget stops new batches with a stated reason, and the counters behind it live in Redis across restarts. */
describe('quotas and budgets (real broker, PostgreSQL, Redis, simulator)', () => {
  const keyPrefix = `test-${uniqueSuffix()}`;
  const fixture = usePipeline({ name: 'quota', simulator: { seed: 21 } });
  const env = { REDIS_URL, QUOTA_KEY_PREFIX: keyPrefix, DAILY_SPEND_BUDGET_USD: String(BUDGET_USD), BATCH_MAX_LINES: '10' };
  let redis: Redis;
  const db = () => fixture.db;
  const batchItems = async () => Number((await db().dataSource.query(`SELECT count(*)::int AS n FROM batch_items`))[0].n);
  const pending = async () => Number((await db().dataSource.query(`SELECT count(*)::int AS n FROM requests WHERE status = 'pending'`))[0].n);
  const dayCounters = async () => {
    const [key] = await redis.keys(`${keyPrefix}:quota:d:*:${MODEL}`);
    return key ? redis.hgetall(key) : ({} as Record<string, string>);
  };

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    const keys = await redis.keys(`${keyPrefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('holds submission once the budget is committed, says why, and keeps holding after a restart', async () => {
    let submitter: RunningService = await fixture.startService('batch-submitter', env);
    const prs = syntheticPrs({ count: 120, seed: 9 }).filter((pr) => pr.body.trim() !== '');
    await fixture.publish(prs, (pr) => pr.requestId);
    const status = await eventually('submission held by the spend budget', async () => {
      const s = await submissionStatus(db().dataSource.manager);
      return s.state === 'held' ? s : null;
    }, 60_000);
    expect(status.holds).toEqual([expect.objectContaining({ kind: 'spend_budget', model: MODEL })]);
    expect(status.message).toMatch(/daily spend budget \$0\.0040 reached/);

    const sent = await batchItems();
    const counters = await dayCounters();
    expect(sent).toBeGreaterThan(0);
    expect(await pending()).toBeGreaterThan(0);
    // Every line sent is counted in Redis, and what they may cost stays within the budget.
    expect(Number(counters.requests)).toBe(sent);
    expect(Number(counters.spendMicroUsd)).toBeLessThanOrEqual(BUDGET_USD * 1e6);
    const linesAtProvider = () => Object.values(fixture.sim.stats().outcomes).reduce((n, byId) => n + Object.keys(byId).length, 0);
    await eventually('the provider ran exactly the lines counted', async () => linesAtProvider() === sent, 30_000);

    // Restart: the counters come back from Redis, so nothing more is sent today.
    await fixture.stopService(submitter);
    const restartedAt = new Date();
    submitter = await fixture.startService('batch-submitter', env);
    // The new process has weighed the pending requests against the budget once it records its own hold.
    await eventually('the restarted submitter holds submission itself', async () => {
      const { holds } = await submissionStatus(db().dataSource.manager);
      return holds.some((hold) => hold.kind === 'spend_budget' && new Date(hold.since) >= restartedAt);
    }, 30_000);
    expect(await batchItems()).toBe(sent);
    expect((await dayCounters()).requests).toBe(counters.requests);
    expect((await submissionStatus(db().dataSource.manager)).state).toBe('held');

    // A higher budget lets the rest through and releases the hold.
    await fixture.stopService(submitter);
    await fixture.startService('batch-submitter', { ...env, DAILY_SPEND_BUDGET_USD: '10' });
    await eventually('everything submitted', async () => (await pending()) === 0, 60_000);
    await eventually('hold released', async () => (await submissionStatus(db().dataSource.manager)).state === 'running', 10_000);
    expect(Number((await dayCounters()).requests)).toBe(await batchItems());
  });
});
