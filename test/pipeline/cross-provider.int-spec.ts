import { Topic } from '#contracts';
import { validatePrAnalysis } from '#groq-batch';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { usePipeline } from '../support/pipeline.js';

const CHAIN = ['groq:openai/gpt-oss-20b', 'openai:gpt-4.1-mini', 'anthropic:claude-sonnet-4-5'];

/**
 * One request's passes on three providers: Groq first, then OpenAI, then Anthropic, each through its own
 * API (files or inline requests) and simulator, with the failures of each pass re-batched on the next.
 */
describe('a chain across Groq, OpenAI and Anthropic', () => {
  const fixture = usePipeline({
    name: 'xprov',
    simulator: { seed: 31 },
    openai: { seed: 32 },
    anthropic: { seed: 33 },
    services: { env: { MODEL_CHAIN: CHAIN.join(','), BATCH_MAX_LINES: '100', MAX_ATTEMPTS: '3' } },
  });

  it('every id terminal, each pass on its provider, each provider batch recorded once, billed by provider and model', async () => {
    // Enough failures on the first two models that every provider gets work.
    fixture.sim.setProfile('openai/gpt-oss-20b', { failureRate: 0.4, jsonValidateShare: 1, serverErrorRate: 0 });
    fixture.openaiSim.setProfile('gpt-4.1-mini', { failureRate: 0.3, serverErrorRate: 0, refusalRate: 0 });
    const COUNT = 300;
    const prs = syntheticPrs({ count: COUNT, seed: 9, emptyBodyRate: 0, oversizedRate: 0 });
    await fixture.publish(prs);
    const report = await fixture.settled(COUNT, 240_000);
    expect(report.lost).toEqual([]);
    expect(report.invariantHolds).toBe(true);

    const byPass: Array<{ pass: number; model: string; n: number }> = await fixture.db.dataSource.query(
      `SELECT pass, model, sum(request_count)::int AS n FROM batches GROUP BY pass, model ORDER BY pass`,
    );
    expect(byPass.map((row) => [row.pass, row.model])).toEqual([
      [1, 'openai/gpt-oss-20b'],
      [2, 'openai:gpt-4.1-mini'],
      [3, 'anthropic:claude-sonnet-4-5'],
    ]);
    // Each provider ran exactly the lines its batches hold: nothing sent twice, nothing sent elsewhere.
    const lines = (stats: { linesProcessed: Record<string, number> }) => Object.values(stats.linesProcessed).reduce((a, b) => a + b, 0);
    expect(lines(fixture.sim.stats())).toBe(byPass[0]!.n);
    expect(lines(fixture.openaiSim.stats())).toBe(byPass[1]!.n);
    expect(lines(fixture.anthropicSim.stats())).toBe(byPass[2]!.n);
    await fixture.expectOneProviderBatchPerKey();

    // Results came from all three, every one valid, priced at its model's price.
    const models: Array<{ model: string; n: number; cost: string }> = await fixture.db.dataSource.query(
      `SELECT model, count(*)::int AS n, sum(cost_usd) AS cost FROM results WHERE status = 'succeeded' GROUP BY model ORDER BY model`,
    );
    expect(models.map((m) => m.model).sort()).toEqual([...CHAIN.slice(1), 'openai/gpt-oss-20b'].sort());
    for (const m of models) expect(Number(m.cost)).toBeGreaterThan(0);
    const results: Array<{ analysis: unknown }> = await fixture.db.dataSource.query(`SELECT analysis FROM results WHERE status = 'succeeded'`);
    for (const { analysis } of results) expect(validatePrAnalysis(JSON.stringify(analysis)).ok).toBe(true);
    // The BatchSubmitted events said which API each batch went to.
    const providers: Array<{ model: string; provider: string }> = await fixture.db.dataSource.query(
      `SELECT DISTINCT e.event->'payload'->>'model' AS model, e.event->'payload'->>'provider' AS provider
       FROM (SELECT convert_from(message_value, 'UTF8')::jsonb AS event FROM outbox WHERE topic = $1) e`,
      [fixture.topic(Topic.BatchSubmitted)],
    );
    expect(providers.sort((a, b) => (a.model < b.model ? -1 : 1))).toEqual([
      { model: 'anthropic:claude-sonnet-4-5', provider: 'anthropic' },
      { model: 'openai/gpt-oss-20b', provider: 'groq' },
      { model: 'openai:gpt-4.1-mini', provider: 'openai' },
    ]);
  }, 300_000);
});
