import { createEvent, type PrIngestedPayload, Topic } from '#contracts';
import { samplePayloads } from '#contracts/testing';
import { reconcile, runReport } from '#ledger';
import { EventPublisher, OutboxRepository } from '#platform';
import type { Kafka } from 'kafkajs';
import { DeadlineRepository } from '../../apps/poller/src/deadlines/deadline.repository.js';
import { IngestionService } from '../../apps/batch-submitter/src/ingestion/ingestion.service.js';
import { RequestRepository } from '../../apps/batch-submitter/src/ingestion/request.repository.js';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { ON_DEMAND_ACCOUNT } from '../../tools/groq-simulator/src/simulator.js';
import { eventually } from '../support/infra.js';
import { SUBMITTER_SETTINGS, usePipeline } from '../support/pipeline.js';

const CHAT_ROUTE = 'POST /openai/v1/chat/completions';
const STRONG_PRICE = { inputPerMillion: 0.295, outputPerMillion: 0.395 };

/** PRs with a body (an empty one is excluded, never sent), half of them due `inMs` from now. */
function prsWithDeadlines(count: number, seed: number, inMs: number): { due: PrIngestedPayload[]; free: PrIngestedPayload[] } {
  const prs = syntheticPrs({ count: count * 2, seed }).filter((pr) => pr.body.trim() !== '').slice(0, count);
  const deadlineAt = new Date(Date.now() + inMs).toISOString();
  return { due: prs.slice(0, count / 2).map((pr) => ({ ...pr, deadlineAt })), free: prs.slice(count / 2) };
}

/**
 * Deadlines (DEADLINES=on) on a real broker, PostgreSQL and the Groq simulator: the provider batch runs slowly,
 * requests with a near deadline are answered on demand (each once), their lines in the batch are billed with it
 * and never recorded, reconcile stays clean and the report counts them apart.
 */
describe('deadlines: on-demand answers for requests their batch cannot answer in time', () => {
  describe('at ingestion', () => {
    const fixture = usePipeline({ name: 'deadlinesingest' });
    const outbox = new OutboxRepository(new EventPublisher(null as unknown as Kafka, ''));
    const ingestion = new IngestionService(new RequestRepository(), { ...SUBMITTER_SETTINGS, deadlineDefaults: { payments: 4 } }, outbox);
    const base = samplePayloads()[Topic.PrIngested];

    async function ingest(payload: Partial<PrIngestedPayload>, occurredAt: string) {
      const event = { ...createEvent(Topic.PrIngested, { ...base, ...payload }, { correlationId: 'c', producer: 'test' }), occurredAt };
      return fixture.db.dataSource.transaction((m) => ingestion.accept(event, m));
    }
    const deadlineOf = async (requestId: string) =>
      ((await fixture.db.dataSource.query(`SELECT to_json(deadline_at) #>> '{}' AS d FROM requests WHERE request_id = $1`, [requestId]))[0]?.d ?? null) as string | null;

    it("stores the event's deadline, else the team's default, and keeps the row's rule for later copies", async () => {
      await ingest({ requestId: 'own', team: 'payments', body: 'one', deadlineAt: '2026-11-02T12:00:00+02:00' }, '2026-11-02T09:00:00.000Z');
      expect(await deadlineOf('own')).toMatch(/^2026-11-02T10:00:00(\.0+)?\+00:00$/);
      await ingest({ requestId: 'team', team: 'payments', body: 'two' }, '2026-11-02T09:00:00.000Z');
      expect(await deadlineOf('team')).toMatch(/^2026-11-02T13:00:00(\.0+)?\+00:00$/);
      await ingest({ requestId: 'none', team: 'mobile', body: 'three' }, '2026-11-02T09:00:00.000Z');
      expect(await deadlineOf('none')).toBeNull();
      // The same text again with another deadline: unchanged, as the rest of the row.
      expect(await ingest({ requestId: 'own', team: 'payments', body: 'one', deadlineAt: '2026-11-03T00:00:00Z' }, '2026-11-02T09:30:00.000Z')).toBe('unchanged');
      expect(await deadlineOf('own')).toMatch(/^2026-11-02T10:00:00/);
      // An edited PR is a new request copy: it takes the new copy's deadline.
      expect(await ingest({ requestId: 'own', team: 'payments', body: 'one, edited', deadlineAt: '2026-11-03T00:00:00Z' }, '2026-11-02T09:30:00.000Z')).toBe('requeued');
      expect(await deadlineOf('own')).toMatch(/^2026-11-03T00:00:00/);
    });
  });

  describe('with room in the on-demand budget', () => {
    const fixture = usePipeline({
      name: 'deadlines',
      // One line a second: a 20-line batch takes 20 s, longer than the deadlines below.
      simulator: { seed: 31, linesPerSecond: 1 },
      // Two replicas of every service: two deadline sweeps race for the same requests.
      services: { env: { DEADLINES: 'on', ON_DEMAND_DAILY_BUDGET_USD: '1', DEADLINE_MARGIN_MS: '0', BATCH_LINGER_MS: '300' }, replicas: 2 },
    });

    it('answers the due requests on demand once, ignores but bills their batch lines, and reconciles', async () => {
      const db = fixture.db.dataSource;
      const { due, free } = prsWithDeadlines(20, 7, 4_000);
      await fixture.publish([...due, ...free]);
      // Every request is in the provider batch before the deadline passes.
      await eventually('one provider batch submitted with every request', async () => {
        const [row] = await db.query(`SELECT count(*)::int AS n FROM batch_items i JOIN batches b USING (batch_id) WHERE b.mode = 'batch' AND b.state = 'submitted'`);
        return row.n === 20;
      }, 30_000);
      const stored = await db.query(`SELECT count(*)::int AS n FROM requests WHERE deadline_at IS NOT NULL`);
      expect(stored[0].n).toBe(10);

      await eventually('the due requests answered on demand', async () => {
        const [row] = await db.query(`SELECT coalesce(sum(request_count), 0)::int AS n FROM batches WHERE mode = 'on_demand' AND state = 'finished'`);
        return row.n >= 10;
      }, 30_000);
      // The provider batch is still running: the on-demand answers did not wait for it.
      const [open] = await db.query(`SELECT count(*)::int AS n FROM batches WHERE mode = 'batch' AND state = 'submitted' AND pass = 1`);
      expect(open.n).toBeGreaterThan(0);
      fixture.sim.setSpeed({ linesPerSecond: null });
      const settled = await fixture.settled(20, 60_000);
      await eventually('the provider batch finished', async () => (await db.query(`SELECT count(*)::int AS n FROM batches WHERE state <> 'finished'`))[0].n === 0, 30_000);

      // Each attempt of a due request was called once (an on-demand answer that failed is retried, on demand
      // again since its deadline has passed), and its line in the batch is superseded, billed, never recorded.
      const calls = await db.query(`SELECT i.request_id, i.attempt FROM batch_items i JOIN batches b USING (batch_id) WHERE b.mode = 'on_demand'`);
      const callKeys = calls.map((c: { request_id: string; attempt: number }) => `${c.request_id}#${c.attempt}`);
      expect(new Set(callKeys).size).toBe(callKeys.length);
      expect(fixture.sim.stats().calls[CHAT_ROUTE]).toBe(calls.length);
      const dueIds = due.map((pr) => pr.requestId).sort();
      const superseded = await db.query(`SELECT request_id FROM batch_items WHERE superseded_by IS NOT NULL ORDER BY request_id`);
      expect(superseded.map((r: { request_id: string }) => r.request_id)).toEqual(dueIds);
      const providerBatchAttempts = await db.query(
        `SELECT count(*)::int AS n FROM attempts a JOIN batches b USING (batch_id) WHERE b.mode = 'batch' AND a.request_id = ANY($1::text[])`,
        [dueIds],
      );
      expect(providerBatchAttempts[0].n).toBe(0);
      const answeredBy = await db.query(
        `SELECT b.mode, count(*)::int AS n FROM results res
         JOIN attempts a ON a.request_id = res.request_id AND a.prompt_version = res.prompt_version AND a.attempt = res.attempt
         JOIN batches b ON b.batch_id = a.batch_id
         WHERE res.status = 'succeeded' AND res.request_id = ANY($1::text[]) GROUP BY b.mode`,
        [dueIds],
      );
      const onDemandAnswers = answeredBy.find((row: { mode: string }) => row.mode === 'on_demand')?.n ?? 0;
      expect(onDemandAnswers).toBeGreaterThan(0);
      // The provider batches are billed for every line they ran, the superseded ones included.
      const providerBatches: Array<{ provider_batch_id: string; billed_lines: number }> = await db.query(
        `SELECT provider_batch_id, answered_lines + failed_lines + estimated_lines AS billed_lines FROM batches WHERE mode = 'batch' AND pass = 1`,
      );
      const billedByUs = providerBatches.reduce((n, b) => n + Number(b.billed_lines), 0);
      const billedBySim = providerBatches.reduce(
        (n, b) => n + Object.values(fixture.sim.stats().billed.byBatch[b.provider_batch_id] ?? {}).reduce((m, t) => m + t.lines, 0),
        0,
      );
      expect(billedByUs).toBe(billedBySim);
      expect(billedBySim).toBeGreaterThanOrEqual(18);

      // Reconcile is clean; the report counts on-demand answers apart at full price.
      expect(settled.lost).toEqual([]);
      expect(settled.invariantHolds).toBe(true);
      expect(settled.stranded).toBe(0);
      const report = await runReport(db.manager, { strongModel: 'llama-3.3-70b-versatile', strongPrice: STRONG_PRICE, defaultStageDeadlineMs: 600_000 });
      const onDemand = report.cost.onDemand;
      expect(onDemand.requests).toBe(calls.length);
      expect(onDemand.supersededLines).toBe(10);
      expect(onDemand.succeeded).toBe(onDemandAnswers);
      expect(onDemand.totalUsd).toBeGreaterThan(0);
      expect(onDemand.batchUsd + onDemand.totalUsd).toBeCloseTo(report.cost.totalUsd, 8);
      // At full price: what the simulator billed on demand, at twice the batch price (within the estimate of lines without usage).
      const simOnDemandUsd = Object.values(fixture.sim.stats().billed.byBatch[ON_DEMAND_ACCOUNT] ?? {}).reduce((n, t) => n + t.usd, 0);
      expect(Math.abs(onDemand.totalUsd - simOnDemandUsd)).toBeLessThan(simOnDemandUsd * 0.1);

      // A replay of the same PRs with their deadline changes nothing: no call, no batch, no new record.
      const before = await db.query(`SELECT (SELECT count(*) FROM batches)::int AS batches, (SELECT count(*) FROM results)::int AS results`);
      await fixture.publish(due);
      await fixture.waitForConsumed(30_000);
      const after = await db.query(`SELECT (SELECT count(*) FROM batches)::int AS batches, (SELECT count(*) FROM results)::int AS results`);
      expect(after).toEqual(before);
      expect(fixture.sim.stats().calls[CHAT_ROUTE]).toBe(calls.length);
      const again = await reconcile(db.manager, { defaultStageDeadlineMs: 600_000 });
      expect([again.inFlight, again.lost.length, again.invariantHolds]).toEqual([0, 0, true]);
    }, 180_000);
  });

  describe('with the on-demand budget exhausted', () => {
    const fixture = usePipeline({
      name: 'deadlinesbudget',
      simulator: { seed: 32, linesPerSecond: 2 },
      // Less than one call's worst case: nothing may be called on demand.
      services: { env: { DEADLINES: 'on', ON_DEMAND_DAILY_BUDGET_USD: '0.000001', DEADLINE_MARGIN_MS: '0', BATCH_LINGER_MS: '300' } },
    });

    it('calls nothing on demand, and the requests still finish by their batch', async () => {
      const db = fixture.db.dataSource;
      const { due, free } = prsWithDeadlines(10, 8, 1_000);
      await fixture.publish([...due, ...free]);
      // While the due requests wait for their batch, the poller says why it calls nothing.
      type View = { enabled: boolean; budgetUsd: number; refusal: string | null };
      const view = await eventually('the poller names the budget', async () => {
        const seen = (await (await fetch(`${fixture.services.poller!.url}/deadlines`)).json()) as View;
        return seen.refusal ? seen : null;
      }, 30_000);
      expect(view).toMatchObject({ enabled: true, budgetUsd: 0.000001 });
      expect(view.refusal).toMatch(/^on-demand budget \$0\.0000 reached: .* the next call may cost \$0\.\d{4}; requests past their deadline wait for their batch$/);
      const settled = await fixture.settled(10, 90_000);
      expect(fixture.sim.stats().calls[CHAT_ROUTE] ?? 0).toBe(0);
      const [row] = await db.query(`SELECT count(*)::int AS n FROM batches WHERE mode = 'on_demand'`);
      expect(row.n).toBe(0);
      const [past] = await db.query(`SELECT count(*)::int AS n FROM requests WHERE deadline_at < now() AND status = 'succeeded'`);
      expect(past.n).toBeGreaterThan(0);
      expect([settled.lost.length, settled.invariantHolds, settled.stranded]).toEqual([0, true, 0]);
    }, 120_000);
  });

  describe('after a poller dies mid-call', () => {
    const fixture = usePipeline({ name: 'deadlinescrash', simulator: { seed: 33, linesPerSecond: 1 } });

    it('resumes its on-demand batch once the lease runs out: nothing lost, each request recorded once', async () => {
      const db = fixture.db.dataSource;
      for (const name of ['batch-submitter', 'retry-service', 'result-writer', 'poller'] as const) await fixture.startService(name, { DEADLINES: 'off' });
      const { due } = prsWithDeadlines(12, 9, 1_000);
      await fixture.publish(due);
      await eventually('every request in a provider batch and past its deadline', async () => {
        const [row] = await db.query(
          `SELECT count(*)::int AS n FROM requests r JOIN batches b ON b.batch_id = r.current_batch_id WHERE b.state = 'submitted' AND r.deadline_at < now()`,
        );
        return row.n === 6;
      }, 30_000);
      // A poller took them over and died before recording anything: its lease ran out at once.
      const repository = new DeadlineRepository();
      await db.transaction(async (m) => {
        const claimed = await repository.claimDue(m, 0, 100, { groq: true, others: [] });
        expect(claimed).toHaveLength(6);
        const first = claimed[0]!;
        const batch = { batchId: 'od-crashed', pass: first.pass, model: first.model, promptVersion: first.metadata.promptVersion, maxTokens: first.max_tokens, reservedUsd: 0.01 };
        await repository.takeOver(m, batch, claimed, 'poller-that-died', 1, 600_000);
      });
      const stranded = await reconcile(db.manager, { defaultStageDeadlineMs: 600_000, strandedAfterMs: 1 });
      expect(stranded.lost).toEqual([]);
      expect(stranded.strandedRequests).toHaveLength(6);
      expect(stranded.strandedRequests[0]!.reason).toMatch(/^on-demand batch od-crashed \(deadline\) is answered under a lease of poller-that-died that ran out at .*: only a poller with DEADLINES=on calls it again$/);

      await fixture.startService('poller', { DEADLINES: 'on', ON_DEMAND_DAILY_BUDGET_USD: '1', DEADLINE_MARGIN_MS: '0' });
      await eventually('the on-demand batch resumed and recorded', async () => (await db.query(`SELECT state FROM batches WHERE batch_id = 'od-crashed'`))[0].state === 'finished', 30_000);
      expect(fixture.sim.stats().calls[CHAT_ROUTE]).toBeGreaterThanOrEqual(6);
      fixture.sim.setSpeed({ linesPerSecond: null });
      const settled = await fixture.settled(6, 60_000);
      expect([settled.lost.length, settled.invariantHolds, settled.stranded]).toEqual([0, true, 0]);
      const [superseded] = await db.query(`SELECT count(*)::int AS n FROM batch_items WHERE superseded_by = 'od-crashed'`);
      expect(superseded.n).toBe(6);
      const attempts = await db.query(`SELECT batch_id, count(*)::int AS n FROM attempts WHERE attempt = 1 GROUP BY batch_id`);
      expect(attempts).toEqual([{ batch_id: 'od-crashed', n: 6 }]);
    }, 120_000);
  });

  describe('on an Anthropic model', () => {
    const fixture = usePipeline({
      name: 'deadlinesclaude',
      simulator: { seed: 34 },
      anthropic: { seed: 35, linesPerSecond: 1 },
      services: { env: { MODEL_CHAIN: 'anthropic:claude-haiku-4-5', DEADLINES: 'on', ON_DEMAND_DAILY_BUDGET_USD: '1', DEADLINE_MARGIN_MS: '0', BATCH_LINGER_MS: '300' } },
    });

    it("answers the due requests through the Messages API with their batch request's params", async () => {
      const db = fixture.db.dataSource;
      const { due, free } = prsWithDeadlines(8, 10, 3_000);
      await fixture.publish([...due, ...free]);
      await eventually('the due requests answered on demand', async () => {
        const [row] = await db.query(`SELECT coalesce(sum(request_count), 0)::int AS n FROM batches WHERE mode = 'on_demand' AND state = 'finished'`);
        return row.n >= 4;
      }, 30_000);
      fixture.anthropicSim.setSpeed({ linesPerSecond: null });
      const settled = await fixture.settled(8, 60_000);
      expect([settled.lost.length, settled.invariantHolds, settled.stranded]).toEqual([0, true, 0]);
      const calls = await db.query(`SELECT i.request_id FROM batch_items i JOIN batches b USING (batch_id) WHERE b.mode = 'on_demand'`);
      expect(fixture.anthropicSim.stats().calls['POST /v1/messages']).toBe(calls.length);
      const answered = await db.query(
        `SELECT count(*)::int AS n FROM results res
         JOIN attempts a ON a.request_id = res.request_id AND a.prompt_version = res.prompt_version AND a.attempt = res.attempt
         JOIN batches b ON b.batch_id = a.batch_id
         WHERE res.status = 'succeeded' AND b.mode = 'on_demand' AND res.model = 'anthropic:claude-haiku-4-5'`,
      );
      expect(answered[0].n).toBeGreaterThan(0);
      const report = await runReport(db.manager, { strongModel: 'anthropic:claude-haiku-4-5', strongPrice: STRONG_PRICE, defaultStageDeadlineMs: 600_000 });
      expect(report.cost.onDemand.requests).toBe(calls.length);
      const simOnDemandUsd = Object.values(fixture.anthropicSim.stats().billed.byBatch[ON_DEMAND_ACCOUNT] ?? {}).reduce((n, t) => n + t.usd, 0);
      expect(Math.abs(report.cost.onDemand.totalUsd - simOnDemandUsd)).toBeLessThan(simOnDemandUsd * 0.1);
    }, 120_000);
  });
});
