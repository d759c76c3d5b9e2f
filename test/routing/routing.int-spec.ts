import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { DEFAULT_PRICE_TABLE, priceOf, promptRegistry } from '#groq-batch';
import type { RunningService } from '#platform';
import { formatRoutingMetrics, RouterRepository, type RouterVersionReport, routingLabel, trainVersion } from '#routing';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { CHEAP_MODEL_PROFILE } from '../../tools/groq-simulator/src/options.js';
import { brokers } from '../support/infra.js';
import { usePipeline } from '../support/pipeline.js';

const root = resolve(import.meta.dirname, '../..');

const CHEAP = 'openai/gpt-oss-20b';
const STRONG = 'llama-3.3-70b-versatile';
const prices = { cheapModel: CHEAP, strongModel: STRONG, cheap: priceOf(DEFAULT_PRICE_TABLE, CHEAP), strong: priceOf(DEFAULT_PRICE_TABLE, STRONG) };

/** PRs whose ids do not collide with another set's (syntheticPrs numbers PRs from 1,000 per repository). */
function prsFrom(seed: number, count: number, firstNumber: number) {
  return syntheticPrs({ count, seed, richBodies: true }).map((pr) => ({ ...pr, prNumber: pr.prNumber + firstNumber, requestId: `${pr.repo}#${pr.prNumber + firstNumber}` }));
}

describe('predictive routing on the pipeline (simulator with the features failure model)', () => {
  const fixture = usePipeline({
    name: 'route',
    simulator: { seed: 21, profiles: { [CHEAP]: { ...CHEAP_MODEL_PROFILE, failureModel: 'features' } } },
    services: { env: { BATCH_MAX_LINES: '300' } },
  });
  const repository = new RouterRepository();
  const HISTORY = 1_200;
  const SHADOW = 300;
  const ROUTED = 400;
  const cascade = (...args: string[]) =>
    spawnSync(process.execPath, [resolve(root, 'bin/cascade.js'), ...args], {
      cwd: root,
      env: { ...process.env, KAFKA_BROKERS: brokers().join(','), KAFKA_TOPIC_PREFIX: fixture.prefix, DATABASE_URL: fixture.db.url, LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      timeout: 120_000,
    });
  // The batch-submitter running now: the fixture's, until a test restarts it with other settings.
  let submitter: RunningService | undefined;
  const restartSubmitter = async (env: Record<string, string>) => {
    await fixture.stopService(submitter ?? fixture.services['batch-submitter']!);
    submitter = await fixture.startService('batch-submitter', env);
  };
  const routerFigures = () => {
    const report = cascade('report', '--format', 'json');
    expect(report.status).toBe(0);
    return (JSON.parse(report.stdout) as { router: RouterVersionReport[] }).router;
  };

  it('shadow by default: with no router version nothing is scored and every request starts on the first model', async () => {
    await fixture.publish(prsFrom(31, HISTORY, 0));
    await fixture.settled(HISTORY, 240_000);
    const [{ decisions }] = await fixture.db.dataSource.query('SELECT count(*)::int AS decisions FROM routing_decisions');
    expect(decisions).toBe(0);
    const models: Array<{ model: string }> = await fixture.db.dataSource.query('SELECT DISTINCT model FROM attempts WHERE pass = 1');
    expect(models).toEqual([{ model: CHEAP }]);
  }, 300_000);

  it('trains on the pass-1 history with a time-based hold-out and stores the version', async () => {
    const attempts = await repository.pass1Attempts(fixture.db.dataSource.manager, CHEAP, promptRegistry());
    expect(attempts.length).toBeGreaterThan(HISTORY * 0.8);
    expect(attempts.some((a) => a.failed)).toBe(true);
    const version = trainVersion(attempts, { prices, preference: 'latency' });
    process.stdout.write(`routing int-spec, hold-out figures:\n${formatRoutingMetrics(version.metrics, version.threshold)}\n`);
    expect(version.metrics.requests).toBe(attempts.length - version.trainingRows);
    const number = await repository.saveVersion(fixture.db.dataSource.manager, prices, version);
    const stored = await repository.findVersion(fixture.db.dataSource.manager, { cheapModel: CHEAP, strongModel: STRONG });
    expect(stored).toMatchObject({ version: number, threshold: version.threshold, preference: 'latency', trainingRows: version.trainingRows });
  }, 120_000);

  it('shadow, with a version: every queued request is scored and recorded but starts on the first model; the report checks the flags against the outcomes', async () => {
    // A fresh batch-submitter reads the newest version at once (a running one reads it again at most once a minute).
    await restartSubmitter({});
    await fixture.publish(prsFrom(33, SHADOW, 50_000));
    await fixture.settled(HISTORY + SHADOW, 240_000);
    const decisions: Array<{ decision: string; mode: string; first_model: string | null }> = await fixture.db.dataSource.query(
      `SELECT d.decision, d.mode,
              (SELECT a.model FROM attempts a WHERE a.request_id = d.request_id AND a.prompt_version = d.prompt_version AND a.pass = 1 ORDER BY a.attempt LIMIT 1) AS first_model
         FROM routing_decisions d`,
    );
    expect(decisions.length).toBeGreaterThan(SHADOW * 0.8);
    expect(decisions.every((d) => d.mode === 'shadow' && (d.first_model === null || d.first_model === CHEAP))).toBe(true);
    const [version] = routerFigures();
    const shadow = version!.shadow!;
    process.stdout.write(`routing int-spec, shadow figures: ${JSON.stringify(shadow)}\n`);
    expect(shadow.scored).toBe(decisions.length);
    expect(shadow.flagged).toBe(decisions.filter((d) => d.decision === 'routed').length);
    // The same figures one request at a time: each first attempt labelled by the one rule, each flag right or wrong.
    const rows: Array<{ decision: string; outcome: string; code: string | null; message: string | null; http_status: number | null }> = await fixture.db.dataSource.query(
      `SELECT d.decision, a.outcome, a.code, a.message, a.http_status
         FROM routing_decisions d JOIN attempts a ON a.request_id = d.request_id AND a.prompt_version = d.prompt_version AND a.pass = 1 AND a.attempt = 1`,
    );
    const labels = rows.map((row) => ({ flagged: row.decision === 'routed', label: routingLabel({ outcome: row.outcome, code: row.code, message: row.message, httpStatus: row.http_status }) }));
    const labelled = labels.filter((l) => l.label !== null).length;
    const failed = labels.filter((l) => l.label === 'failed').length;
    expect(failed).toBeGreaterThan(0);
    expect(shadow.labelled).toBe(labelled);
    expect(shadow.truePositives).toBe(labels.filter((l) => l.flagged && l.label === 'failed').length);
    expect(shadow.falsePositives).toBe(labels.filter((l) => l.flagged && l.label === 'succeeded').length);
    expect(shadow.truePositives + shadow.falseNegatives).toBe(failed);
    expect(shadow.precision).toBeCloseTo(shadow.flagged ? shadow.truePositives / shadow.flagged : 0, 10);
    expect(version!.learned).toBeNull();
  }, 300_000);

  it('cascade routing train / evaluate: the same figures from the command line, clear refusals (built CLI)', () => {
    expect(cascade('routing').status).toBe(2);
    const badShare = cascade('routing', 'train', '--holdout', '2');
    expect(badShare.status).toBe(2);
    expect(badShare.stderr).toContain('--holdout must be a share between 0 and 1');
    const missing = cascade('routing', 'evaluate', '--model-version', '999');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no router version 999');
    const trained = cascade('routing', 'train', '--favour', 'latency', '--json');
    expect(trained.stderr).toBe('');
    expect(trained.status).toBe(0);
    const { version, metrics } = JSON.parse(trained.stdout) as { version: number; metrics: unknown };
    const evaluated = cascade('routing', 'evaluate', '--json');
    expect(evaluated.status).toBe(0);
    expect(JSON.parse(evaluated.stdout)).toMatchObject({ version, metrics });
    const table = cascade('routing', 'evaluate');
    expect(table.stdout).toMatch(/precision .* %, recall .* %/);
    expect(table.stdout).toContain('requests saved from pass 2');
  }, 300_000);

  it('ROUTING=learned: each queued request is scored and recorded, and those above the threshold run pass 1 on the next model', async () => {
    await restartSubmitter({ ROUTING: 'learned' });
    const prs = prsFrom(32, ROUTED, 100_000);
    await fixture.publish(prs);
    await fixture.settled(HISTORY + SHADOW + ROUTED, 240_000);
    const decisions: Array<{ request_id: string; decision: string; model: string; mode: string; score: number; threshold: number; first_model: string | null }> =
      await fixture.db.dataSource.query(
        `SELECT d.request_id, d.decision, d.model, d.mode, d.score, d.threshold,
                (SELECT a.model FROM attempts a WHERE a.request_id = d.request_id AND a.prompt_version = d.prompt_version AND a.pass = 1 ORDER BY a.attempt LIMIT 1) AS first_model
           FROM routing_decisions d WHERE d.mode = 'learned'`,
      );
    const processable = prs.filter((pr) => pr.body.trim() !== '').length;
    expect(decisions).toHaveLength(processable);
    for (const d of decisions) {
      expect(d.mode).toBe('learned');
      expect(d.decision).toBe(d.score > d.threshold ? 'routed' : 'cheap_first');
      expect(d.model).toBe(d.decision === 'routed' ? STRONG : CHEAP);
      if (d.first_model !== null) expect(d.first_model).toBe(d.model);
    }
    const routed = decisions.filter((d) => d.decision === 'routed').length;
    process.stdout.write(`routing int-spec: ${routed} of ${processable} requests routed to ${STRONG} on pass 1\n`);
    expect(routed).toBeGreaterThan(0);
    const learned = routerFigures().find((v) => v.learned)!.learned!;
    expect(learned).toMatchObject({ scored: decisions.length, routed });
    // The routed requests' answers were priced when written: their cost is what results holds for them.
    const [{ usd }] = await fixture.db.dataSource.query(
      `SELECT COALESCE(sum(res.cost_usd), 0)::float8 AS usd FROM routing_decisions d
         JOIN results res ON res.request_id = d.request_id AND res.prompt_version = d.prompt_version AND res.status = 'succeeded' AND res.attempt > 0
        WHERE d.mode = 'learned' AND d.decision = 'routed'`,
    );
    expect(learned.routedUsd).toBeCloseTo(usd, 10);
    expect(learned.expectedEffectUsd).toBeCloseTo(learned.expectedCheapFirstUsd - learned.routedUsd, 10);
  }, 300_000);
});
