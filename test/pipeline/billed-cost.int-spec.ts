import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { createEvent, Topic } from '#contracts';
import { reconcile } from '#ledger';
import { Partitioners, type Producer } from 'kafkajs';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { CHEAP_MODEL_PROFILE, type GroqSimulator, NO_FAULTS, STRONG_MODEL_PROFILE, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { brokers, createTestDatabase, eventually, type TestDatabase, testKafka, uniqueSuffix } from '../support/infra.js';
import { type Pipeline, pipelineEnv, startPipeline } from '../support/pipeline.js';

const prefix = `billed${uniqueSuffix()}.`;
process.env.KAFKA_TOPIC_PREFIX = prefix;

const root = resolve(import.meta.dirname, '../..');
const CHEAP = 'openai/gpt-oss-20b';
const STRONG = 'llama-3.3-70b-versatile';
const COUNT = 600;

interface ReportJson {
  run: {
    costUsd: number;
    cost: {
      basis: string;
      totalUsd: number;
      answeredUsd: number;
      failedAttemptsUsd: number;
      estimatedUsd: number;
      estimatedLines: number;
      estimatedPromptTokens: number;
      estimatedCompletionTokens: number;
      batchesNotFinished: number;
      estimatedNote: string;
      byModel: Array<{ model: string; pass: number; answeredLines: number; failedLines: number; estimatedLines: number; totalUsd: number }>;
    };
    byModel: Array<{ model: string; costUsd: number }>;
    alwaysStrongCostUsd: number;
    alwaysStrongBasis: string;
  };
}

/**
 * The report's total is what the provider bills. The simulator fails cheap-model lines with
 * json_validate_failed (no usage on the error line, as Groq's) and drops a few lines altogether;
 * both are billed by the simulator, and must be in the report's total.
 */
describe("cascade report's total is what the provider bills", () => {
  let db: TestDatabase;
  let sim: GroqSimulator;
  let pipeline: Pipeline;
  let producer: Producer;

  beforeAll(async () => {
    db = await createTestDatabase();
    // The cheap model's field-calibrated profile: 4 % of its lines fail as they generate (93.5 % of them
    // json_validate_failed, the rest output too long); and 0.5 % of all lines are dropped from both files.
    // The strong model, not in strict mode, sometimes answers valid JSON off the schema: failed attempts that report usage.
    sim = await startGroqSimulator({
      seed: 31,
      profiles: { [CHEAP]: { ...CHEAP_MODEL_PROFILE }, [STRONG]: { ...STRONG_MODEL_PROFILE, schemaViolationRate: 0.15 } },
      faults: { ...NO_FAULTS, missingRate: 0.005 },
    });
    pipeline = await startPipeline(pipelineEnv({ prefix, databaseUrl: db.url, groqUrl: sim.url }, { BATCH_MAX_LINES: '100' }));
    producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await pipeline?.stop();
    await sim?.stop();
    await db?.drop();
  });

  async function publish(prs: ReturnType<typeof syntheticPrs>): Promise<void> {
    await producer.send({
      topic: `${prefix}${Topic.PrIngested}`,
      messages: prs.map((pr) => ({
        key: pr.requestId,
        value: JSON.stringify(createEvent(Topic.PrIngested, pr, { correlationId: `billed-${pr.requestId}`, producer: 'billed' })),
      })),
    });
  }

  async function settled(total: number): Promise<void> {
    await eventually(
      'every request terminal and every batch finished',
      async () => {
        const r = await reconcile(db.dataSource.manager, { defaultStageDeadlineMs: 600_000 });
        if (r.ingested !== total || r.inFlight !== 0) return false;
        const [{ open }] = await db.dataSource.query(`SELECT count(*)::int AS open FROM batches WHERE state <> 'finished'`);
        return open === 0;
      },
      240_000,
    );
    await sim.idle();
  }

  function cascadeReport(format: 'json' | 'table'): string {
    const cli = spawnSync(process.execPath, [resolve(root, 'bin/cascade.js'), 'report', '--format', format], {
      cwd: root,
      env: { ...process.env, KAFKA_BROKERS: brokers().join(','), KAFKA_TOPIC_PREFIX: prefix, DATABASE_URL: db.url, LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (cli.status !== 0) process.stderr.write(cli.stderr.slice(-3_000));
    expect(cli.status).toBe(0);
    return cli.stdout;
  }

  function report(): ReportJson['run'] {
    return (JSON.parse(cascadeReport('json')) as ReportJson).run;
  }

  /** Every line the simulator billed without showing usage is estimated, and only those; the rest are known. */
  function expectLinesAccounted(run: ReportJson['run']): void {
    for (const [model, tally] of Object.entries(sim.stats().billed.byModel)) {
      const rows = run.cost.byModel.filter((m) => m.model === model);
      expect([model, rows.reduce((n, m) => n + m.estimatedLines, 0)]).toEqual([model, tally.unreportedLines]);
      expect([model, rows.reduce((n, m) => n + m.answeredLines + m.failedLines, 0)]).toEqual([model, tally.lines - tally.unreportedLines]);
    }
  }

  it(`on ${COUNT} PRs: the total is within 3 % of the simulator's bill, with the estimated part named`, async () => {
    await publish(syntheticPrs({ count: COUNT, seed: 8 }));
    await settled(COUNT);
    const billed = sim.stats().billed;
    const run = report();

    // The failures the test is about did happen, and the simulator billed lines whose files show no usage.
    const cheap = billed.byModel[CHEAP]!;
    expect(sim.stats().outcomeTotals.json_validate_failed).toBeGreaterThan(10);
    expect(cheap.unreportedLines).toBeGreaterThan(10);

    // The total is the provider's bill, split in three named parts.
    expect(run.cost.basis).toBe('billed');
    expect(run.costUsd).toBe(run.cost.totalUsd);
    expect(run.cost.answeredUsd + run.cost.failedAttemptsUsd + run.cost.estimatedUsd).toBeCloseTo(run.cost.totalUsd, 6);
    expect(run.cost.estimatedUsd).toBeGreaterThan(0);
    expect(run.cost.failedAttemptsUsd).toBeGreaterThan(0);
    expect(run.cost.estimatedPromptTokens).toBeGreaterThan(0);
    expect(run.cost.estimatedCompletionTokens).toBeGreaterThan(0);
    expect(run.cost.estimatedNote).toMatch(/prompt tokens estimated from the request sent/);
    expect(run.cost.batchesNotFinished).toBe(0);
    expect(Math.abs(run.cost.totalUsd / billed.totalUsd - 1)).toBeLessThan(0.03);

    expectLinesAccounted(run);

    // The basis main reported, the answers alone, misses the billed failures by more than the 3 % allowed.
    const answersOnly = run.byModel.reduce((sum, m) => sum + m.costUsd, 0);
    expect(answersOnly / billed.totalUsd).toBeLessThan(0.97);
    // And the old batch cost (answers plus failures that reported usage) misses the cheap model's billed failures.
    const cheapRecordedBefore = run.cost.byModel.filter((m) => m.model === CHEAP).reduce((sum, m) => sum + m.totalUsd, 0) - cheap.unreportedUsd;
    expect(cheapRecordedBefore / cheap.usd).toBeLessThan(0.97);

    // The table says what the total is made of, what is estimated, and the basis of the comparison.
    const table = cascadeReport('table');
    expect(table).toContain(`Total billed $${run.cost.totalUsd.toFixed(4)} = answered $${run.cost.answeredUsd.toFixed(4)}`);
    expect(table).toMatch(new RegExp(`estimated: ${run.cost.estimatedLines} lines, \\d+ prompt and \\d+ completion tokens; failed lines`));
    expect(table).toContain('always-strong basis: billed');
    process.stdout.write(`${table.slice(table.indexOf('Pass-1 failures'), table.indexOf('Reconcile:'))}\n`);
    expect(run.alwaysStrongBasis).toMatch(/^billed/);
    expect(run.alwaysStrongCostUsd).toBeGreaterThan(run.cost.totalUsd);
    process.stdout.write(
      `billed by the simulator $${billed.totalUsd.toFixed(6)}; report total $${run.cost.totalUsd.toFixed(6)} (${((run.cost.totalUsd / billed.totalUsd) * 100).toFixed(2)} %) = ` +
        `answered $${run.cost.answeredUsd.toFixed(6)} + failed attempts $${run.cost.failedAttemptsUsd.toFixed(6)} + estimated $${run.cost.estimatedUsd.toFixed(6)} ` +
        `(${run.cost.estimatedLines} lines); answers only $${answersOnly.toFixed(6)} (${((answersOnly / billed.totalUsd) * 100).toFixed(2)} %); ` +
        `cheap model recorded before $${cheapRecordedBefore.toFixed(6)} of $${cheap.usd.toFixed(6)} billed\n`,
    );
  });

  it('an expired batch: the lines that never ran are neither billed nor estimated', async () => {
    const before = sim.stats().billed.totalUsd;
    // No dropped lines here: one dropped from an expired batch cannot be told from one that never ran (both are
    // absent), and is counted as never run.
    sim.setFaults({ missingRate: 0, expireAfterFraction: 0.5, unfinishedInErrorFile: true });
    const prs = syntheticPrs({ count: 150, seed: 9, emptyBodyRate: 0 }).map((pr) => ({ ...pr, requestId: `exp/${pr.requestId}` }));
    await publish(prs);
    // Only the first batch expires: the lines it never ran are retried in a batch that runs them all.
    await eventually('a batch expired', async () => (await db.dataSource.query(`SELECT 1 FROM batches WHERE provider_status = 'expired'`)).length > 0);
    sim.setFaults({ expireAfterFraction: null, unfinishedInErrorFile: false });
    await settled(COUNT + prs.length);
    const expired = Object.values(sim.stats().outcomes).flatMap((batch) => Object.values(batch)).filter((o) => o === 'batch_expired');
    expect(expired.length).toBeGreaterThan(10);
    const run = report();
    expectLinesAccounted(run);
    expect(sim.stats().billed.totalUsd).toBeGreaterThan(before);
    expect(Math.abs(run.cost.totalUsd / sim.stats().billed.totalUsd - 1)).toBeLessThan(0.03);
  });
});
