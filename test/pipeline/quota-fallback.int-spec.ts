import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { type RunningService, submissionStatus } from '#platform';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { brokers, eventually, useQuotaRedis } from '../support/infra.js';
import { usePipeline } from '../support/pipeline.js';

const CHEAP = 'openai/gpt-oss-20b';
const STRONG = 'llama-3.3-70b-versatile';
const CHEAP_PER_DAY = 30;
const root = resolve(import.meta.dirname, '../..');

/**
 * QUOTA_FALLBACK=next-model: what a quota holds on one model goes to the next model of the chain that has room,
 * recorded per request with the limit that caused it; when no later model has room, submission is held as before.
 */
describe('quota-aware routing (real broker, PostgreSQL, Redis, simulator)', () => {
  const { url: REDIS_URL, keyPrefix } = useQuotaRedis();
  const fixture = usePipeline({ name: 'qfallback', simulator: { seed: 23 } });
  const quotas = (strongPerDay?: number) =>
    JSON.stringify({ [CHEAP]: { requestsPerDay: CHEAP_PER_DAY }, ...(strongPerDay ? { [STRONG]: { requestsPerDay: strongPerDay } } : {}) });
  // Counters in Redis: the batch-submitter and the retry-service count against the same quotas, across restarts.
  const env = { REDIS_URL, QUOTA_KEY_PREFIX: keyPrefix, QUOTA_FALLBACK: 'next-model', BATCH_MAX_LINES: '10' };
  let submitter: RunningService;
  const db = () => fixture.db.dataSource;

  it('moves what the first model has no room for to the next one, records why, and loses nothing', async () => {
    submitter = await fixture.startService('batch-submitter', { ...env, MODEL_QUOTAS_JSON: quotas() });
    for (const service of ['poller', 'retry-service', 'result-writer'] as const) await fixture.startService(service, { ...env, MODEL_QUOTAS_JSON: quotas() });
    const prs = syntheticPrs({ count: 100, seed: 13 });
    await fixture.publish(prs, (pr) => pr.requestId);
    const report = await fixture.settled(prs.length, 180_000);
    expect(report.lost).toEqual([]);
    expect(report.invariantHolds).toBe(true);

    const firstAttempts: Array<{ request_id: string; model: string }> = await db().query(
      `SELECT DISTINCT ON (request_id) request_id, model FROM attempts WHERE pass = 1 ORDER BY request_id, attempt`,
    );
    const onCheap = firstAttempts.filter((a) => a.model === CHEAP).length;
    const onStrong = firstAttempts.filter((a) => a.model === STRONG).map((a) => a.request_id).sort();
    // The first model took exactly its quota; everything else started on the next one.
    expect(onCheap).toBe(CHEAP_PER_DAY);
    expect(onStrong.length).toBe(firstAttempts.length - CHEAP_PER_DAY);
    const moves: Array<{ request_id: string; from_model: string; to_model: string; kind: string; reason: string; attempt: number }> = await db().query(
      'SELECT request_id, from_model, to_model, kind, reason, attempt FROM quota_fallbacks ORDER BY request_id',
    );
    expect(moves.map((m) => m.request_id)).toEqual(onStrong);
    for (const move of moves) {
      expect(move).toMatchObject({ from_model: CHEAP, to_model: STRONG, kind: 'request_quota', attempt: 1 });
      expect(move.reason).toContain(`${CHEAP}: ${CHEAP_PER_DAY} of ${CHEAP_PER_DAY} requests per day used`);
    }

    const status = spawnSync(process.execPath, [resolve(root, 'bin/cascade.js'), 'status'], {
      cwd: root,
      env: { ...process.env, KAFKA_BROKERS: brokers().join(','), KAFKA_TOPIC_PREFIX: fixture.prefix, DATABASE_URL: fixture.db.url, LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(status.status).toBe(0);
    expect(status.stdout).toContain(`quota fallback (last 24 h): ${moves.length} request(s) moved ${CHEAP} → ${STRONG} (request_quota)`);
  }, 240_000);

  it('holds, as without fallback, when no later model has room', async () => {
    const [{ movedBefore }] = await db().query('SELECT count(*)::int AS "movedBefore" FROM quota_fallbacks');
    await fixture.stopService(submitter);
    const restartedAt = new Date();
    // The next model's quota is already used up today (the moves above and the retries counted in Redis).
    submitter = await fixture.startService('batch-submitter', { ...env, MODEL_QUOTAS_JSON: quotas(1) });
    await fixture.publish(syntheticPrs({ count: 20, seed: 14 }).map((pr) => ({ ...pr, requestId: `${pr.requestId}-later`, prNumber: pr.prNumber + 50_000 })), (pr) => pr.requestId);
    const status = await eventually('the submitter holds submission on the first model', async () => {
      const s = await submissionStatus(db().manager);
      return s.holds.some((hold) => hold.model === CHEAP && hold.kind === 'request_quota' && new Date(hold.since) >= restartedAt) ? s : null;
    }, 60_000);
    expect(status.state).toBe('held');
    const [{ pending }] = await db().query(`SELECT count(*)::int AS pending FROM requests WHERE status = 'pending' AND model = $1`, [CHEAP]);
    expect(pending).toBeGreaterThan(0);
    const [{ movedAfter }] = await db().query('SELECT count(*)::int AS "movedAfter" FROM quota_fallbacks');
    expect(movedAfter).toBe(movedBefore);
  }, 120_000);
});
