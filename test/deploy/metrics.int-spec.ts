import { Topic } from '#contracts';
import { reconcile } from '#ledger';
import { metricDefinitions, recordDeadLetters, type RunningService } from '#platform';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { CHEAP_MODEL_PROFILE, STRONG_MODEL_PROFILE } from '../../tools/groq-simulator/src/options.js';
import { eventually } from '../support/infra.js';
import { usePipeline } from '../support/pipeline.js';

/*
 * The metrics the dashboard and the alerts read, scraped from the real services' /metrics (real PostgreSQL with the
 * real migrations, real broker): gauges against a state made by hand, counters against what a run recorded.
 */

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The samples of one metric in Prometheus's text format (the `service` label every sample carries is dropped). */
function samplesOf(text: string, name: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) if (key !== 'service') labels[key!] = value!;
    samples.push({ labels, value: Number(match[3]) });
  }
  return samples;
}

function valueOf(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  return samplesOf(text, name).find((s) => Object.keys(labels).length === Object.keys(s.labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** The cascade_* metrics a scrape declares (`# TYPE` lines: a labelled counter nobody incremented yet is declared too). */
function declared(text: string): string[] {
  return [...text.matchAll(/^# TYPE (cascade_\w+) (\w+)$/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
}

function catalogueFor(service: string, options: { budget: boolean }): string[] {
  return metricDefinitions()
    .filter((m) => m.exportedBy === 'every' || m.exportedBy === service)
    .filter((m) => options.budget || m.name !== 'cascade_spend_budget_usd')
    .map((m) => `${m.name} ${m.type}`)
    .sort();
}

async function scrape(service: RunningService): Promise<string> {
  const response = await fetch(`${service.url}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

const CHEAP = 'openai/gpt-oss-20b';
const STRONG = 'llama-3.3-70b-versatile';
const CLAUDE = 'anthropic:claude-haiku-4-5';

describe('the poller exports the pipeline gauges from the database, by the rules the CLI uses', () => {
  const fixture = usePipeline({ name: 'metricsstate', simulator: { seed: 3 } });

  async function batch(id: string, model: string, state: string, options: { submittedAgo?: string; reservedUsd?: number; costUsd?: number }) {
    // tracked_at stays NULL: the poller never claims these, so the state stays as made.
    await fixture.db.dataSource.query(
      `INSERT INTO batches (batch_id, batch_key, pass, model, prompt_version, max_tokens, state, request_count, provider_batch_id,
                            submitted_at, reserved_usd, cost_usd, finished_at)
       VALUES ($1, $1, 1, $2, 'pr-analysis-v1', 1024, $3, 1, 'provider-' || $1, now() - $4::interval, $5, $6,
               CASE WHEN $3 = 'finished' THEN now() END)`,
      [id, model, state, options.submittedAgo ?? '1 minute', options.reservedUsd ?? 0, options.costUsd ?? 0],
    );
  }

  async function request(id: string, status: string, stage: string, options: { batch?: string; movedAgo: string; deadlineAgo?: string }) {
    await fixture.db.dataSource.query(
      `INSERT INTO requests (request_id, prompt_version, correlation_id, team, repo, pr_number, content_hash, status, stage, current_batch_id,
                             pr_bytes, updated_at, stage_deadline_at)
       VALUES ($1, 'pr-analysis-v1', 'c', 'team', 'acme/api', 1, 'h', $2, $3, $4, 2, now() - $5::interval, now() - $6::interval)`,
      [id, status, stage, options.batch ?? null, options.movedAgo, options.deadlineAgo ?? '-1 day'],
    );
  }

  it('batches in flight by model, provider and age, the oldest against its window, stranded and stuck, spend and budget, dead letters waiting', async () => {
    await batch('b-fresh', CHEAP, 'submitted', { submittedAgo: '10 minutes', reservedUsd: 0.4 });
    await batch('b-old', CHEAP, 'submitted', { submittedAgo: '7 hours', reservedUsd: 0.6 });
    await batch('b-claude', CLAUDE, 'submitted', { submittedAgo: '25 hours', reservedUsd: 0.3 });
    await batch('b-done', STRONG, 'finished', { submittedAgo: '2 hours', reservedUsd: 1, costUsd: 0.25 });
    // Not polled for 7 hours (no lease, no next poll): stranded. Past its own deadline: stuck. Moving: neither.
    await request('stranded', 'in_flight', 'submitted', { batch: 'b-old', movedAgo: '2 hours' });
    await request('stuck', 'pending', 'queued', { movedAgo: '1 hour', deadlineAgo: '1 minute' });
    await request('moving', 'in_flight', 'submitted', { batch: 'b-fresh', movedAgo: '10 minutes' });
    await recordDeadLetters(fixture.db.dataSource, [
      { consumerGroup: 'g', topic: 'pr.ingested.v1', partition: 0, offset: '7', eventId: null, requestId: null, promptVersion: null, reason: 'not JSON', path: '', dlqTopic: 'pr.ingested.v1.dlq' },
    ]);

    const poller = await fixture.startService('poller', { DAILY_SPEND_BUDGET_USD: '5', GROQ_COMPLETION_WINDOW: '48h' });
    const text = await scrape(poller);

    expect(declared(text)).toEqual(catalogueFor('poller', { budget: true }));
    expect(samplesOf(text, 'cascade_batches_in_flight')).toEqual(
      expect.arrayContaining([
        { labels: { model: CHEAP, provider: 'groq' }, value: 2 },
        { labels: { model: STRONG, provider: 'groq' }, value: 0 },
        { labels: { model: CLAUDE, provider: 'anthropic' }, value: 1 },
      ]),
    );
    expect(samplesOf(text, 'cascade_batches_in_flight')).toHaveLength(3);
    const olderThan = (model: string, age: string) => valueOf(text, 'cascade_batches_in_flight_older_than', { model, provider: model === CLAUDE ? 'anthropic' : 'groq', age });
    expect([olderThan(CHEAP, '1h'), olderThan(CHEAP, '6h'), olderThan(CHEAP, '24h')]).toEqual([1, 1, 0]);
    expect([olderThan(CLAUDE, '1h'), olderThan(CLAUDE, '6h'), olderThan(CLAUDE, '24h')]).toEqual([1, 1, 1]);
    expect([olderThan(STRONG, '1h'), olderThan(STRONG, '24h')]).toEqual([0, 0]);
    // The oldest batch per model; a model with none has no age at all.
    expect(Math.abs(valueOf(text, 'cascade_batch_oldest_age_seconds', { model: CHEAP, provider: 'groq' })! - 7 * 3_600)).toBeLessThan(120);
    expect(Math.abs(valueOf(text, 'cascade_batch_oldest_age_seconds', { model: CLAUDE, provider: 'anthropic' })! - 25 * 3_600)).toBeLessThan(120);
    expect(valueOf(text, 'cascade_batch_oldest_age_seconds', { model: STRONG, provider: 'groq' })).toBeUndefined();
    expect(samplesOf(text, 'cascade_batch_completion_window_seconds')).toEqual([
      { labels: { provider: 'groq' }, value: 48 * 3_600 },
      { labels: { provider: 'openai' }, value: 24 * 3_600 },
      { labels: { provider: 'anthropic' }, value: 24 * 3_600 },
    ]);

    // The same figures as reconcile, from the same query.
    const report = await reconcile(fixture.db.dataSource.manager, { defaultStageDeadlineMs: 26 * 3_600_000 });
    expect([report.stranded, report.stuck]).toEqual([1, 1]);
    expect(report.strandedRequests.map((r) => r.requestId)).toEqual(['stranded']);
    expect(valueOf(text, 'cascade_requests_stranded')).toBe(1);
    expect(valueOf(text, 'cascade_requests_stuck')).toBe(1);

    // Today's spend: billed once finished, reserved while open; the budget beside it.
    expect(valueOf(text, 'cascade_spend_usd', { model: CHEAP, basis: 'billed' })).toBe(0);
    expect(valueOf(text, 'cascade_spend_usd', { model: CHEAP, basis: 'reserved' })).toBeCloseTo(1, 10);
    expect(valueOf(text, 'cascade_spend_usd', { model: STRONG, basis: 'billed' })).toBeCloseTo(0.25, 10);
    expect(valueOf(text, 'cascade_spend_usd', { model: STRONG, basis: 'reserved' })).toBe(0);
    expect(valueOf(text, 'cascade_spend_usd', { model: CLAUDE, basis: 'reserved' })).toBeCloseTo(0.3, 10);
    expect(valueOf(text, 'cascade_spend_budget_usd')).toBe(5);
    expect(valueOf(text, 'cascade_dead_letters_waiting')).toBe(1);

    // The state moves on: the next scrapes follow it (after the short cache), and no stale series is left.
    await fixture.db.dataSource.query(`UPDATE batches SET state = 'finished', finished_at = now(), cost_usd = reserved_usd / 2 WHERE state = 'submitted'`);
    await fixture.db.dataSource.query(`UPDATE requests SET status = 'succeeded', stage = 'merged'`);
    await fixture.db.dataSource.query(`UPDATE dead_letters SET redriven_at = now()`);
    const later = await eventually(
      'the gauges to follow the database',
      async () => {
        const again = await scrape(poller);
        return valueOf(again, 'cascade_batches_in_flight', { model: CHEAP, provider: 'groq' }) === 0 && valueOf(again, 'cascade_requests_stranded') === 0 ? again : null;
      },
      30_000,
    );
    // The chain's models stay at 0 (a series an autoscaler reads never vanishes); a model outside it goes away.
    expect(samplesOf(later, 'cascade_batches_in_flight')).toEqual([
      { labels: { model: CHEAP, provider: 'groq' }, value: 0 },
      { labels: { model: STRONG, provider: 'groq' }, value: 0 },
    ]);
    expect(samplesOf(later, 'cascade_batch_oldest_age_seconds')).toEqual([]);
    expect(valueOf(later, 'cascade_requests_stuck')).toBe(0);
    expect(valueOf(later, 'cascade_spend_usd', { model: CHEAP, basis: 'billed' })).toBeCloseTo(0.5, 10);
    expect(valueOf(later, 'cascade_spend_usd', { model: CHEAP, basis: 'reserved' })).toBe(0);
    expect(valueOf(later, 'cascade_dead_letters_waiting')).toBe(0);
  }, 120_000);

  it('exports no budget when none is set: a 0 would read as a budget always exceeded', async () => {
    const poller = await fixture.startService('poller', { HTTP_PORT: '0' });
    const text = await scrape(poller);
    expect(declared(text)).toEqual(catalogueFor('poller', { budget: false }));
    expect(samplesOf(text, 'cascade_spend_budget_usd')).toEqual([]);
  }, 60_000);
});

describe('a run counts every pass-1 line once, by outcome and code, and every dead letter (real pipeline, simulator)', () => {
  const COUNT = 40;
  const fixture = usePipeline({
    name: 'metricsrun',
    simulator: { seed: 7, profiles: { [CHEAP]: { ...CHEAP_MODEL_PROFILE, failureRate: 0.3 }, [STRONG]: { ...STRONG_MODEL_PROFILE } } },
    services: { env: { DAILY_SPEND_BUDGET_USD: '5' } },
  });

  it('counters of the poller match the batch items and attempts it recorded; the batch-submitter counts the invalid message', async () => {
    await fixture.publish(syntheticPrs({ count: COUNT, seed: 9 }));
    const producer = await fixture.producer();
    await producer.send({ topic: fixture.topic(Topic.PrIngested), messages: [{ key: 'broken', value: 'not JSON at all' }] });
    const report = await fixture.settled(COUNT, 120_000);
    expect(report.invariantHolds).toBe(true);

    const lines: Array<{ model: string; pass: number; outcome: string; n: number }> = await fixture.db.dataSource.query(
      `SELECT b.model, b.pass, i.outcome, count(*)::int AS n FROM batch_items i JOIN batches b USING (batch_id) GROUP BY 1, 2, 3`,
    );
    const failures: Array<{ model: string; pass: number; code: string; n: number }> = await fixture.db.dataSource.query(
      `SELECT model, pass, code, count(*)::int AS n FROM attempts WHERE outcome = 'failed' GROUP BY 1, 2, 3`,
    );
    expect(failures.filter((f) => f.pass === 1).reduce((sum, f) => sum + f.n, 0)).toBeGreaterThan(0);

    const poller = fixture.services.poller!;
    const text = await scrape(poller);
    const byLabels = (samples: Sample[]) => samples.filter((s) => s.value > 0).map((s) => ({ ...s.labels, n: s.value })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const expected = <T extends object>(rows: T[]) => rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, k === 'n' ? v : String(v)]))).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(byLabels(samplesOf(text, 'cascade_request_attempts_total'))).toEqual(expected(lines));
    expect(byLabels(samplesOf(text, 'cascade_request_failures_total'))).toEqual(expected(failures));

    // Billed spend per model, as the database sums it; nothing open.
    const billed: Array<{ model: string; usd: number }> = await fixture.db.dataSource.query(`SELECT model, sum(cost_usd)::float8 AS usd FROM batches GROUP BY model`);
    const afterRun = await eventually(
      'the spend gauges to settle',
      async () => {
        const again = await scrape(poller);
        return billed.every((b) => Math.abs((valueOf(again, 'cascade_spend_usd', { model: b.model, basis: 'billed' }) ?? -1) - b.usd) < 1e-9) ? again : null;
      },
      30_000,
    );
    expect(samplesOf(afterRun, 'cascade_batches_in_flight').map((s) => s.value)).toEqual([0, 0]);
    expect(valueOf(afterRun, 'cascade_requests_stranded')).toBe(0);

    // The invalid message: counted by the service that dead-lettered it; waiting for a re-drive on every service.
    const submitter = fixture.services['batch-submitter']!;
    const submitterText = await eventually(
      'the dead letter counted',
      async () => {
        const again = await scrape(submitter);
        return valueOf(again, 'cascade_dead_letters_total', { topic: Topic.PrIngested, reason: 'invalid' }) === 1 && valueOf(again, 'cascade_dead_letters_waiting') === 1 ? again : null;
      },
      30_000,
    );
    expect(samplesOf(submitterText, 'cascade_dead_letters_total')).toEqual([{ labels: { topic: Topic.PrIngested, reason: 'invalid' }, value: 1 }]);
    // Only the poller exports the pipeline's metrics: no other service's scrape would add a second copy.
    for (const name of ['batch-submitter', 'retry-service', 'result-writer']) {
      expect({ name, declared: declared(await scrape(fixture.services[name]!)) }).toEqual({ name, declared: catalogueFor(name, { budget: false }) });
    }
  }, 180_000);
});
