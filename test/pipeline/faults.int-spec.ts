import { DEFAULT_GROQ_BATCH_CONFIG, GroqBatchClient } from '#groq-batch';
import { reconcile } from '#ledger';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { CHEAP_MODEL_PROFILE, NO_FAULTS } from '../../tools/groq-simulator/src/simulator.js';
import { eventually } from '../support/infra.js';
import { usePipeline } from '../support/pipeline.js';

/** Provider faults, each on its own set of PRs: every id must still end terminal, none lost or duplicated. */
describe('provider faults through the whole pipeline', () => {
  const fixture = usePipeline({ name: 'faults', simulator: { seed: 23 }, services: { env: { BATCH_MAX_LINES: '100' } } });
  const db = () => fixture.db;
  let scenario = 0;

  afterEach(() => {
    fixture.sim.setFaults({ ...NO_FAULTS });
    fixture.sim.setProfile('openai/gpt-oss-20b', CHEAP_MODEL_PROFILE);
    fixture.sim.setSpeed({ perLineDelayMs: 0 });
  });

  /** Publishes `count` PRs with ids of their own (non-empty bodies) and waits until each is terminal. */
  async function runScenario(count: number, whileRunning?: () => Promise<void>) {
    scenario++;
    const prs = syntheticPrs({ count, seed: 100 + scenario, emptyBodyRate: 0, oversizedRate: 0, injectionRate: 0 }).map((pr) => ({
      ...pr,
      requestId: `s${scenario}/${pr.requestId}`,
    }));
    await fixture.publish(prs, (pr) => `f-${pr.requestId}`);
    await whileRunning?.();
    const ids = prs.map((p) => p.requestId);
    await eventually(
      `scenario ${scenario}: every request terminal`,
      async () => {
        const [{ n }] = await db().dataSource.query(`SELECT count(*)::int AS n FROM requests WHERE request_id = ANY($1) AND status IN ('succeeded', 'failed', 'excluded')`, [ids]);
        return n === count;
      },
      120_000,
    );
    const report = await reconcile(db().dataSource.manager, { defaultStageDeadlineMs: 600_000 });
    expect(report.lost).toEqual([]);
    const codes: Array<{ code: string; n: number }> = await db().dataSource.query(
      `SELECT code, count(*)::int AS n FROM attempts WHERE request_id = ANY($1) AND outcome = 'failed' GROUP BY code`,
      [ids],
    );
    const statuses: Array<{ status: string; n: number }> = await db().dataSource.query(
      `SELECT status, count(*)::int AS n FROM results WHERE request_id = ANY($1) GROUP BY status`,
      [ids],
    );
    return { ids, codes: Object.fromEntries(codes.map((c) => [c.code, c.n])), statuses: Object.fromEntries(statuses.map((s) => [s.status, s.n])) };
  }

  it('an expired batch: finished lines kept, unfinished ones retried', async () => {
    fixture.sim.setFaults({ expireAfterFraction: 0.5, unfinishedInErrorFile: false });
    const { codes, statuses } = await runScenario(100, async () => {
      // Only the first batch expires: later passes run normally.
      await eventually('the first batch expired', async () => (await db().dataSource.query(`SELECT 1 FROM batches WHERE provider_status = 'expired'`)).length > 0);
      fixture.sim.setFaults({ expireAfterFraction: null });
    });
    expect(codes.batch_expired).toBeGreaterThan(0);
    expect(statuses.succeeded).toBe(100);
    // What the expired batch finished is kept from pass 1; only the unfinished lines went again.
    const [kept] = await db().dataSource.query(
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
    fixture.sim.setSpeed({ perLineDelayMs: 30 });
    const client = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: 'fake-faults-test-key', baseURL: fixture.sim.url });
    const { codes, statuses } = await runScenario(60, async () => {
      const [batch] = await eventually('a submitted batch', async () => {
        const rows: Array<{ provider_batch_id: string }> = await db().dataSource.query(
          `SELECT provider_batch_id FROM batches WHERE state = 'submitted' AND provider_batch_id IS NOT NULL`,
        );
        return rows.length > 0 ? rows : null;
      });
      // Cancelled once the provider has run some of its lines: those are kept, the rest retried.
      await eventually('lines of the batch run at the provider', async () => Object.keys(fixture.sim.stats().outcomes[batch!.provider_batch_id] ?? {}).length >= 5, 30_000);
      await client.cancelBatch(batch!.provider_batch_id);
      fixture.sim.setSpeed({ perLineDelayMs: 0 });
    });
    expect(codes.batch_cancelled).toBeGreaterThan(0);
    expect(statuses.succeeded).toBe(60);
  });

  it('an all-failed batch with no output file: every request recovered on the next model', async () => {
    fixture.sim.setProfile('openai/gpt-oss-20b', { failureRate: 1, jsonValidateShare: 1, serverErrorRate: 0 });
    const { ids, codes, statuses } = await runScenario(50);
    expect(codes.json_validate_failed).toBe(50);
    expect(statuses.succeeded).toBe(50);
    const batches = await db().dataSource.query(
      `SELECT DISTINCT b.output_file_id, b.pass FROM batches b JOIN batch_items i USING (batch_id) WHERE i.request_id = ANY($1) AND b.pass = 1`,
      [ids],
    );
    expect(batches.every((b: { output_file_id: string | null }) => b.output_file_id === null)).toBe(true);
    // Recovered on the next model (a rare transient 5xx there may add one more pass on the same model).
    const passes: Array<{ pass: number; model: string }> = await db().dataSource.query(`SELECT DISTINCT pass, model FROM results WHERE request_id = ANY($1)`, [ids]);
    expect(passes.every((p) => p.model === 'llama-3.3-70b-versatile' && p.pass >= 2)).toBe(true);
  });

  it('missing and malformed lines are retried, never lost', async () => {
    fixture.sim.setFaults({ missingRate: 0.15, malformedRate: 0.1, shuffle: true });
    const { codes, statuses } = await runScenario(100, async () => {
      await eventually('a pass-1 batch finished', async () => (await db().dataSource.query(`SELECT 1 FROM attempts WHERE code IN ('missing', 'malformed_line')`)).length > 0);
      fixture.sim.setFaults({ missingRate: 0, malformedRate: 0 });
    });
    expect((codes.missing ?? 0) + (codes.malformed_line ?? 0)).toBeGreaterThan(5);
    expect(statuses.succeeded).toBe(100);
  });

  it('429 storms with retry-after and 503 on download only slow things down', async () => {
    fixture.sim.setFaults({ rateLimitFirst: 6, downloadErrorsFirst: 3 });
    const { statuses } = await runScenario(40);
    expect((statuses.succeeded ?? 0) + (statuses.failed ?? 0)).toBe(40);
  });

  it('the provider never saw a second batch for the same items', async () => {
    await fixture.expectOneProviderBatchPerKey();
  });
});
