import { submissionStatus, type RunningService } from '#platform';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { eventually, useQuotaRedis } from '../support/infra.js';
import { usePipeline } from '../support/pipeline.js';

const BUDGET_USD = 0.004;
const MODEL = 'openai/gpt-oss-20b';

/**
 * A daily spend budget stops new batches with a stated reason, across restarts; the spend it is weighed against is
 * reserved per batch in PostgreSQL and settles to what the provider billed once the batch finishes.
 */
describe('quotas and budgets (real broker, PostgreSQL, Redis, simulator)', () => {
  const { url: REDIS_URL, keyPrefix, redis } = useQuotaRedis();
  const fixture = usePipeline({ name: 'quota', simulator: { seed: 21 } });
  const env = { REDIS_URL, QUOTA_KEY_PREFIX: keyPrefix, DAILY_SPEND_BUDGET_USD: String(BUDGET_USD), BATCH_MAX_LINES: '10' };
  const db = () => fixture.db;
  const batchItems = async () => Number((await db().dataSource.query(`SELECT count(*)::int AS n FROM batch_items`))[0].n);
  const pending = async () => Number((await db().dataSource.query(`SELECT count(*)::int AS n FROM requests WHERE status = 'pending'`))[0].n);
  const spend = async () =>
    (
      await db().dataSource.query(
        `SELECT coalesce(sum(reserved_usd), 0)::float8 AS "everReserved",
                coalesce(sum(reserved_usd) FILTER (WHERE state IN ('creating', 'submitted')), 0)::float8 AS "openReserved",
                coalesce(sum(cost_usd) FILTER (WHERE state = 'finished'), 0)::float8 AS billed,
                count(*) FILTER (WHERE state IN ('creating', 'submitted'))::int AS open
         FROM batches`,
      )
    )[0] as { everReserved: number; openReserved: number; billed: number; open: number };
  const dayCounters = async () => {
    const [key] = await redis().keys(`${keyPrefix}:quota:d:*:${MODEL}`);
    return key ? redis().hgetall(key) : ({} as Record<string, string>);
  };

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
    // Every line sent is counted in Redis, and what they may cost (reserved, no batch finished: no poller) stays within the budget.
    expect(Number(counters.requests)).toBe(sent);
    const reserved = await spend();
    expect(reserved.openReserved).toBeGreaterThan(0);
    expect(reserved.openReserved).toBeLessThanOrEqual(BUDGET_USD);
    expect(reserved.billed).toBe(0);
    const linesAtProvider = () => Object.values(fixture.sim.stats().outcomes).reduce((n, byId) => n + Object.keys(byId).length, 0);
    await eventually('the provider ran exactly the lines counted', async () => linesAtProvider() === sent, 30_000);

    // Restart: the reservations are in PostgreSQL (the request counters in Redis), so nothing more is sent today.
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

/**
 * Until batches settled, the budget counted every batch's worst case for good: submission stopped while the
 * provider had billed about half of it. Settled, finished batches count what they were billed, the rest of
 * their reservation is released, and submission goes on until the real spend reaches the budget.
 */
describe('a spend budget settled to real spend (real broker, PostgreSQL, simulator)', () => {
  const fixture = usePipeline({ name: 'settle', simulator: { seed: 22 } });
  const env = { DAILY_SPEND_BUDGET_USD: String(BUDGET_USD), BATCH_MAX_LINES: '10' };
  const db = () => fixture.db;
  const spendOf = async () =>
    (
      await db().dataSource.query(
        `SELECT coalesce(sum(reserved_usd), 0)::float8 AS "everReserved",
                coalesce(sum(cost_usd) FILTER (WHERE state = 'finished'), 0)::float8 AS billed,
                count(*) FILTER (WHERE state IN ('creating', 'submitted'))::int AS open,
                count(*) FILTER (WHERE state = 'finished')::int AS finished
         FROM batches`,
      )
    )[0] as { everReserved: number; billed: number; open: number; finished: number };

  it('admits past the sum of reservations once batches finish, and holds with the billed spend within the budget', async () => {
    await fixture.startService('batch-submitter', env);
    const poller = await fixture.startService('poller', env);
    const prs = syntheticPrs({ count: 150, seed: 11 }).filter((pr) => pr.body.trim() !== '');
    await fixture.publish(prs, (pr) => pr.requestId);

    // The reservations made today come to more than the budget: reservations released by settled batches were
    // admitted again (counted for good, as before, their sum could never pass the budget).
    await eventually('reservations past the budget', async () => (await spendOf()).everReserved > BUDGET_USD, 90_000);
    // Then submission holds at the budget, with every batch it sent finished and settled.
    const settled = await eventually('held by the spend budget with every batch settled', async () => {
      const status = await submissionStatus(db().dataSource.manager);
      const spend = await spendOf();
      return status.state === 'held' && spend.open === 0 ? { status, spend } : null;
    }, 90_000);
    expect(settled.status.holds).toEqual([expect.objectContaining({ kind: 'spend_budget', model: MODEL })]);
    // What was billed stays within the budget, and is close to what the simulator billed: answered lines at their
    // usage; a failed line whose error reports no usage at its estimated prompt (above or below the real one).
    const simulatorBilled = fixture.sim.stats().billed.totalUsd;
    expect(settled.spend.billed).toBeGreaterThan(0);
    expect(settled.spend.billed).toBeLessThanOrEqual(BUDGET_USD);
    expect(settled.spend.billed).toBeGreaterThan(simulatorBilled * 0.9);
    expect(settled.spend.billed).toBeLessThan(simulatorBilled * 1.1);

    // The ops API shows the two apart (a batch may have opened since: billed and reserved still within the budget).
    const quota = (await (await fetch(`${poller.url}/quota`)).json()) as { dailySpendBudgetUsd: number; spend: { settledUsd: number; reservedUsd: number; committedUsd: number } };
    expect(quota.dailySpendBudgetUsd).toBe(BUDGET_USD);
    expect(quota.spend.settledUsd).toBeGreaterThanOrEqual(settled.spend.billed - 1e-9);
    expect(quota.spend.committedUsd).toBeCloseTo(quota.spend.settledUsd + quota.spend.reservedUsd, 9);
    expect(quota.spend.committedUsd).toBeLessThanOrEqual(BUDGET_USD);
  });
});
