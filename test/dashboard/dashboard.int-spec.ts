import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createEvent, Topic } from '#contracts';
import { reconcile } from '#ledger';
import { Partitioners, type Producer } from 'kafkajs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { REPO_ROOT, type ServiceProcess, spawnService, stopService, waitReady } from '../../apps/cli/src/demo/local-stack.js';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { type GroqSimulator, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { brokers, createTestDatabase, eventually, freePort, type TestDatabase, testKafka, uniqueSuffix } from '../support/infra.js';

/** The part of a DOM row the checks read (the tests compile without the DOM library). */
interface Cells {
  querySelectorAll(selector: 'td'): ArrayLike<{ textContent: string | null }>;
}

const CHROMIUM = process.env.CASCADE_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = resolve(REPO_ROOT, 'docs/dashboard.png');
const COUNT = 300;
const SERVICES = ['result-writer', 'retry-service', 'poller', 'batch-submitter'] as const;

/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core) against the four
 * services running as processes on the real broker, PostgreSQL and the simulator: every figure it
 * shows is checked against the database, and a screenshot is saved for the docs.
 */
describe('dashboard in a real browser', () => {
  let db: TestDatabase;
  let sim: GroqSimulator;
  let producer: Producer;
  let browser: Browser;
  let page: Page;
  const services: ServiceProcess[] = [];
  let base = '';
  const prefix = `dash${uniqueSuffix()}.`;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set CASCADE_CHROMIUM`);
    }
    db = await createTestDatabase();
    sim = await startGroqSimulator({ seed: 17 });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KAFKA_BROKERS: brokers().join(','),
      KAFKA_TOPIC_PREFIX: prefix,
      DATABASE_URL: db.url,
      GROQ_API_KEY: 'fake-dashboard-test-key',
      GROQ_BASE_URL: sim.url,
      LOG_LEVEL: 'warn',
      KAFKA_PARTITIONS: '3',
      BATCH_MAX_LINES: '100',
      BATCH_LINGER_MS: '500',
      POLL_FIRST_DELAY_MS: '300',
      POLL_MAX_DELAY_MS: '1000',
      POLL_TICK_MS: '200',
      OUTBOX_POLL_MS: '100',
    };
    const logDir = join(REPO_ROOT, '.cascade/test-logs', prefix);
    for (const name of SERVICES) services.push(spawnService(name, env, await freePort(), logDir));
    await Promise.all(services.map((service) => waitReady(service, 90_000)));
    base = `http://127.0.0.1:${services.find((s) => s.name === 'poller')!.port}`;
    producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  });

  afterAll(async () => {
    await browser?.close();
    await producer?.disconnect();
    for (const service of services) await stopService(service);
    await sim?.stop();
    await db?.drop();
  });

  const text = async (testId: string) => (await page.getByTestId(testId).textContent())?.trim() ?? '';
  const rows = async (testId: string) =>
    page
      .getByTestId(testId)
      .locator('tr')
      .evaluateAll((trs) => trs.map((tr) => Array.from((tr as unknown as Cells).querySelectorAll('td')).map((td) => td.textContent?.trim() ?? '')));
  const one = async <T>(sql: string) => ((await db.dataSource.query(sql)) as T[])[0]!;

  it('shows live figures that match the database, and the insights charts', async () => {
    await page.goto(`${base}/dashboard`);
    await eventually('first refresh', async () => (await text('updated-at')) !== 'never', 15_000);

    const prs = syntheticPrs({ count: COUNT, seed: 23 });
    await producer.send({
      topic: `${prefix}${Topic.PrIngested}`,
      messages: prs.map((pr) => ({ key: pr.requestId, value: JSON.stringify(createEvent(Topic.PrIngested, pr, { correlationId: pr.requestId, producer: 'dashboard-test' })) })),
    });
    // Live: while work is in flight the page shows it without a reload.
    await eventually('requests in flight on the page', async () => Number(await text('ingested')) > 0, 60_000);
    await eventually(
      'every request terminal',
      async () => {
        const r = await reconcile(db.dataSource.manager, { defaultStageDeadlineMs: 600_000 });
        return r.ingested === COUNT && r.inFlight === 0;
      },
      180_000,
    );
    // Consumer groups catch up to the end of their topics once the last events are consumed.
    await eventually('page caught up', async () => {
      const lag = await rows('lag');
      return Number(await text('succeeded')) + Number(await text('excluded')) + Number(await text('failed')) === COUNT &&
        lag.length === 4 && lag.every((row) => row[2] === '0');
    }, 60_000);

    const totals = await one<{ ingested: number; succeeded: number; failed: number; excluded: number }>(
      `SELECT count(*)::int AS ingested, count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
              count(*) FILTER (WHERE status = 'failed')::int AS failed, count(*) FILTER (WHERE status = 'excluded')::int AS excluded
       FROM requests`,
    );
    expect(Number(await text('ingested'))).toBe(totals.ingested);
    expect(Number(await text('succeeded'))).toBe(totals.succeeded);
    expect(Number(await text('failed'))).toBe(totals.failed);
    expect(Number(await text('excluded'))).toBe(totals.excluded);
    expect(Number(await text('in-flight'))).toBe(0);
    expect(await text('lost')).toBe('0 / 0 / 0');

    const recovered = await one<{ n: number }>(`SELECT count(*)::int AS n FROM results WHERE status = 'succeeded' AND pass >= 2`);
    expect(Number(await text('recovered'))).toBe(recovered.n);

    // The billed basis: every finished batch's bill, and always-strong as the first pass's billed tokens at the strong price.
    const cost = await one<{ usd: number; answered: number; failed: number; estimated: number }>(
      `SELECT coalesce(sum(cost_usd), 0)::float8 AS usd, coalesce(sum(answered_cost_usd), 0)::float8 AS answered,
              coalesce(sum(failed_cost_usd), 0)::float8 AS failed, coalesce(sum(estimated_cost_usd), 0)::float8 AS estimated
       FROM batches WHERE state = 'finished'`,
    );
    const firstPass = await one<{ prompt: number; completion: number }>(
      `SELECT coalesce(sum(answered_prompt_tokens + failed_prompt_tokens + estimated_prompt_tokens), 0)::float8 AS prompt,
              coalesce(sum(answered_completion_tokens + failed_completion_tokens + estimated_completion_tokens), 0)::float8 AS completion
       FROM batches WHERE state = 'finished' AND pass = 1`,
    );
    // The strong model's batch price (llama-3.3-70b-versatile: $0.295 in / $0.395 out per 1M tokens).
    const alwaysStrong = (firstPass.prompt * 0.295 + firstPass.completion * 0.395) / 1e6;
    expect(cost.usd).toBeGreaterThan(0);
    expect(cost.answered + cost.failed + cost.estimated).toBeCloseTo(cost.usd, 6);
    expect(await text('cost')).toBe(`$${cost.usd.toFixed(4)}`);
    expect(await text('cost-answered')).toBe(`$${cost.answered.toFixed(4)}`);
    expect(await text('cost-failed-attempts')).toBe(`$${cost.failed.toFixed(4)}`);
    expect(await text('cost-estimated')).toBe(`$${cost.estimated.toFixed(4)}`);
    expect(await text('always-strong-cost')).toBe(`$${alwaysStrong.toFixed(4)}`);
    expect(await text('cost-ratio')).toBe(`${((cost.usd / alwaysStrong) * 100).toFixed(1)} %`);

    const stages: Array<{ status: string; stage: string; count: number }> = await db.dataSource.query(
      `SELECT status, stage, count(*)::int AS count FROM requests GROUP BY status, stage ORDER BY status, stage`,
    );
    expect((await rows('stages')).map((r) => [r[0], r[1], Number(r[2])])).toEqual(stages.map((s) => [s.status, s.stage, s.count]));

    const passOne: Array<{ code: string; count: number }> = await db.dataSource.query(
      `SELECT code, count(*)::int AS count FROM attempts WHERE outcome = 'failed' AND pass = 1 GROUP BY code ORDER BY count DESC, code`,
    );
    expect(passOne.length).toBeGreaterThan(0);
    expect((await rows('pass-one-failures')).map((r) => [r[0], Number(r[1])])).toEqual(passOne.map((f) => [f.code, f.count]));
    expect(await rows('batches')).toEqual([['none']]);
    expect(await text('submission-state')).toBe('running');

    // Insights: the server-rendered charts, one per kind, with the teams of the data set.
    await eventually('insights loaded', async () => (await page.getByTestId('insights').locator('svg').count()) >= 3, 40_000);
    const insights = await text('insights');
    const [{ team }] = await db.dataSource.query(`SELECT team FROM requests ORDER BY team LIMIT 1`);
    expect(insights).toContain(team);

    // Live: the page keeps refreshing on its own.
    const stamp = await text('updated-at');
    await eventually('another refresh', async () => (await text('updated-at')) !== stamp, 10_000);

    mkdirSync(resolve(REPO_ROOT, 'docs'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  });
});
